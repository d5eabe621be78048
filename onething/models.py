"""Database tables (SQLModel). The schema itself is created by the Alembic migrations in
``onething/migrations``; never by ``create_all``, so SQLite and PostgreSQL stay identical."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
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
