"""The versioned bundle registry: immutable published versions, numbered 1, 2, 3 per bundle code.

A version's identity is the hash of its validated content, so re-publishing a file whose only
changes are YAML comments or formatting returns the existing version. Retiring a version stops
new cases from resolving to it; running cases carry their own snapshot of the definition and are
unaffected. Re-publishing content identical to a retired version returns that version unchanged
(still retired, reported as such): a retirement is an admin decision that a plain re-publish
must not silently undo. To bring the content back, publish it with a change (a new version).

``publish`` and ``retire`` commit: a publish has to commit to learn whether another process took
the same version number first (the unique constraints decide, and the loser retries).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from definitions.schema import Bundle
from onething.logs import get_logger
from onething.models import BundleVersion, VersionStatus, utcnow

log = get_logger(__name__)

# Each retry means another publisher committed in between; more than a handful of those in a
# row for the same bundle code means something other than a race is wrong.
MAX_PUBLISH_ATTEMPTS = 10


class RegistryError(Exception):
    """A registry operation failed for a reason the caller can report to a person."""


class NotFoundError(RegistryError):
    """No bundle, or no such version of a bundle, or no active version to start cases with."""


@dataclass(frozen=True)
class PublishResult:
    version: BundleVersion
    created: bool

    @property
    def retired(self) -> bool:
        return self.version.status == VersionStatus.retired


@dataclass(frozen=True)
class RetireResult:
    version: BundleVersion
    changed: bool  # False when the version was already retired


def content_hash(bundle: Bundle) -> str:
    """sha256 of the canonical JSON of the validated definition."""
    canonical = json.dumps(
        bundle.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _find_by_hash(session: Session, *, code: str, digest: str) -> BundleVersion | None:
    stmt = select(BundleVersion).where(
        BundleVersion.code == code, BundleVersion.content_hash == digest
    )
    return session.exec(stmt).first()


def _max_version(session: Session, *, code: str) -> int:
    stmt = select(func.max(BundleVersion.version)).where(BundleVersion.code == code)
    return session.exec(stmt).one() or 0


def _is_sqlite_lock(exc: OperationalError) -> bool:
    # A concurrent SQLite writer can outlast the busy timeout; that is a race, not a failure.
    return "database is locked" in str(exc.orig)


def publish(session: Session, *, bundle: Bundle, source_yaml: str = "") -> PublishResult:
    """Store ``bundle`` as the next version of its code, or return the identical existing one."""
    digest = content_hash(bundle)
    definition = bundle.model_dump(mode="json")
    for attempt in range(1, MAX_PUBLISH_ATTEMPTS + 1):
        existing = _find_by_hash(session, code=bundle.code, digest=digest)
        if existing is not None:
            session.commit()  # end the read transaction; nothing was written
            return PublishResult(version=existing, created=False)
        row = BundleVersion(
            code=bundle.code,
            name=bundle.name,
            version=_max_version(session, code=bundle.code) + 1,
            content_hash=digest,
            definition=definition,
            source_yaml=source_yaml,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            # Another publisher took this version number (or published the same content).
            session.rollback()
            log.info("publish_retry", code=bundle.code, attempt=attempt)
            continue
        except OperationalError as exc:
            session.rollback()
            if not _is_sqlite_lock(exc):
                raise
            log.info("publish_retry_locked", code=bundle.code, attempt=attempt)
            continue
        log.info("bundle_published", code=row.code, version=row.version, hash=digest[:12])
        return PublishResult(version=row, created=True)
    raise RegistryError(
        f"could not publish bundle {bundle.code!r}: {MAX_PUBLISH_ATTEMPTS} attempts lost to "
        "concurrent publishers"
    )


def list_versions(session: Session, *, code: str | None = None) -> list[BundleVersion]:
    """All versions (of one code, or of every code), ordered by code then version."""
    stmt = select(BundleVersion)
    if code is not None:
        stmt = stmt.where(BundleVersion.code == code)
    stmt = stmt.order_by(col(BundleVersion.code), col(BundleVersion.version))
    return list(session.exec(stmt).all())


def get_version(session: Session, *, code: str, version: int | None = None) -> BundleVersion:
    """One version; ``version=None`` is the one new cases use: the latest active version."""
    if version is not None:
        stmt = select(BundleVersion).where(
            BundleVersion.code == code, BundleVersion.version == version
        )
        row = session.exec(stmt).first()
        if row is None:
            known = [v.version for v in list_versions(session, code=code)]
            if not known:
                raise NotFoundError(f"bundle {code!r} has never been published")
            raise NotFoundError(
                f"bundle {code!r} has no version {version} (published versions: "
                f"{', '.join(map(str, known))})"
            )
        return row
    stmt = (
        select(BundleVersion)
        .where(BundleVersion.code == code, BundleVersion.status == VersionStatus.active)
        .order_by(col(BundleVersion.version).desc())
    )
    row = session.exec(stmt).first()
    if row is None:
        known = [v.version for v in list_versions(session, code=code)]
        if not known:
            raise NotFoundError(f"bundle {code!r} has never been published")
        raise NotFoundError(
            f"bundle {code!r} has no active version (all of versions "
            f"{', '.join(map(str, known))} are retired)"
        )
    return row


def retire(session: Session, *, code: str, version: int) -> RetireResult:
    """Stop ``version`` from taking new cases. Retiring a retired version changes nothing."""
    row = get_version(session, code=code, version=version)
    if row.status == VersionStatus.retired:
        session.commit()
        return RetireResult(version=row, changed=False)
    row.status = VersionStatus.retired
    row.retired_at = utcnow()
    session.add(row)
    session.commit()
    log.info("bundle_retired", code=code, version=version)
    return RetireResult(version=row, changed=True)


def load_definition(version_row: BundleVersion) -> Bundle:
    """The pinned definition of a stored version, as the schema model."""
    return Bundle.model_validate(version_row.definition)
