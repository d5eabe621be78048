"""Database tables (SQLModel). The schema itself is created by the Alembic migrations in
``onething/migrations``; never by ``create_all``, so SQLite and PostgreSQL stay identical."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class VersionStatus(StrEnum):
    active = "active"
    retired = "retired"


class BundleVersionBase(SQLModel):
    code: str = Field(index=True, max_length=64)
    name: str
    version: int
    content_hash: str = Field(max_length=64)
    status: VersionStatus = VersionStatus.active


class BundleVersion(BundleVersionBase, table=True):
    """One immutable published version of a bundle definition."""

    __tablename__ = "bundle_version"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_bundle_version_code_version"),
        UniqueConstraint("code", "content_hash", name="uq_bundle_version_code_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The validated definition as JSON (what running cases pin) and the YAML as authored.
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source_yaml: str = ""
    published_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None


class BundleVersionPublic(BundleVersionBase):
    published_at: datetime
    retired_at: datetime | None


class CaseCodeSequence(SQLModel, table=True):
    """Last sequence number handed out per region, bundle and day (全流程赋码)."""

    __tablename__ = "case_code_sequence"

    region: str = Field(primary_key=True, max_length=6)
    abbr: str = Field(primary_key=True, max_length=8)
    day: date = Field(primary_key=True)
    last_value: int = 0


class Submission(SQLModel, table=True):
    """A submission's request id and the case code it produced: the same request id always
    returns the same case and never starts a second one."""

    __tablename__ = "submission"

    request_id: str = Field(primary_key=True, max_length=128)
    case_code: str = Field(unique=True, max_length=64)
    bundle_code: str = Field(max_length=64)
    bundle_version: int
    channel: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class InboxStatus(StrEnum):
    pending = "pending"
    decided = "decided"
    withdrawn = "withdrawn"


class DepartmentInbox(SQLModel, table=True):
    """A manual step dispatched to a department's built-in inbox, keyed by case code and step
    so a retried or replayed dispatch (or withdrawal) never duplicates a row."""

    __tablename__ = "department_inbox"

    case_code: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(primary_key=True, max_length=64)
    department: str = Field(index=True, max_length=64)
    bundle_code: str = Field(max_length=64)
    item: str
    status: InboxStatus = InboxStatus.pending
    due_at: datetime | None = None
    dispatched_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = None
    withdraw_reason: str = ""
    outcome: str = Field(default="", max_length=32)  # approved, rejected, deemed_approved
    decided_at: datetime | None = None


class Notification(SQLModel, table=True):
    """A notice sent for a case (预警, 督办, 提级, delivery...); the key makes it idempotent."""

    __tablename__ = "notification"

    key: str = Field(primary_key=True, max_length=200)
    case_code: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=32)
    recipient: str = Field(max_length=128)
    step_id: str | None = Field(default=None, max_length=64)
    message: str
    created_at: datetime = Field(default_factory=utcnow)


# --- Read model (issue 4): written by the ``record_case_event`` activity as a case progresses,
# read by listings, inboxes and reports so they never fan out into workflow queries. Rows are
# keyed so that a retried activity overwrites (case, step) or skips (event) instead of adding.


class CaseRecord(SQLModel, table=True):
    """One case as the read model last saw it. No personal data: the applicant appears only as
    a SHA-256 key (to find an applicant's own cases) and a masked ID for listings."""

    __tablename__ = "case_record"
    __table_args__ = (
        Index("ix_case_record_bundle_submitted", "bundle_code", "submitted_at"),
        Index("ix_case_record_status_submitted", "status", "submitted_at"),
    )

    case_code: str = Field(primary_key=True, max_length=64)
    bundle_code: str = Field(max_length=64)
    bundle_version: int
    bundle_name: str
    region: str = Field(max_length=6)
    channel: str = Field(max_length=16)
    status: str = Field(max_length=16)  # workflows.models.CaseStatus
    applicant_key: str = Field(index=True, max_length=64)
    applicant_masked: str = Field(max_length=32)
    submitted_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    accepted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    promised_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    overdue: bool = False
    rating_level: str | None = Field(default=None, max_length=16)
    rated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    rectification_status: str | None = Field(default=None, max_length=16)  # open, done
    rectification_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    rectification_done_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The workflow's change counter of the stored state: an older write never overwrites it.
    revision: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class StepRecord(SQLModel, table=True):
    """One department step of a case; the (department, status, due_at) index serves the inbox."""

    __tablename__ = "step_record"
    __table_args__ = (
        Index("ix_step_record_inbox", "department", "status", "due_at"),
        Index("ix_step_record_status_due", "status", "due_at"),
    )

    case_code: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(primary_key=True, max_length=64)
    bundle_code: str = Field(max_length=64)
    department: str = Field(max_length=64)
    item: str
    mode: str = Field(max_length=16)  # definitions.schema.StepMode
    status: str = Field(max_length=32)  # workflows.models.StepStatus
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    warned: bool = False
    overdue: bool = False
    escalation_level: int = 0
    decision: str | None = Field(default=None, max_length=16)
    officer: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    extension_used: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class CaseEvent(SQLModel, table=True):
    """One transition of a case. ``event_key`` is derived deterministically in the workflow,
    so the unique constraint turns a retried write into a no-op."""

    __tablename__ = "case_event"
    __table_args__ = (
        UniqueConstraint("case_code", "event_key", name="uq_case_event_case_key"),
        Index("ix_case_event_kind_at", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_code: str = Field(max_length=64)
    event_key: str = Field(max_length=160)
    kind: str = Field(max_length=32)
    step_id: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, index=True, max_length=64)
    level: int | None = None  # escalation level for 督办 (1) and 提级 (2)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    detail: str = ""
