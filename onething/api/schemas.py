"""Request and response bodies of the HTTP API: one model per request body, and the listing
rows (which never carry unmasked ID numbers or phone numbers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.models import DecisionKind


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    # Every problem when there are several (422 on pre-review or definition validation).
    issues: list[dict[str, Any]] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorDetail


class Me(BaseModel):
    subject: str
    role: Literal["applicant", "officer", "supervisor", "admin"]
    department: str | None = None


class SubmitBody(Body):
    """POST /api/cases. The request id may also come from the ``Idempotency-Key`` header."""

    bundle_code: str
    applicant_id: str
    applicant_name: str
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list)
    region: str = "510100"
    channel: str = "web"
    request_id: str | None = None


class SubmitOut(BaseModel):
    case_code: str
    created: bool
    request_id: str
    bundle_code: str
    bundle_version: int


class DecideBody(Body):
    """POST /api/cases/{code}/steps/{step}/decide; officer and department come from the token."""

    decision: DecisionKind
    reason: str = ""
    amount: int | None = Field(default=None, ge=1)
    materials: list[str] = Field(default_factory=list)


class InboxItem(BaseModel):
    case_code: str
    bundle_code: str
    step_id: str
    item: str
    department: str
    status: str
    due_at: datetime | None
    due_date: str | None = None
    remaining_seconds: float | None
    # Whole working days left (due day included) for day-unit limits; None for hour limits.
    remaining_working_days: int | None
    remaining_text: str
    overdue: bool
    warning: bool
    escalation_level: int = 0
    submitted_at: datetime | None = None


class CaseSummary(BaseModel):
    case_code: str
    bundle_code: str
    bundle_version: int | None = None
    status: str
    region: str | None = None
    channel: str | None = None
    applicant_id_masked: str | None = None
    pending_departments: list[str] = Field(default_factory=list)
    overdue: bool = False
    submitted_at: datetime | None = None
    closed_at: datetime | None = None


class SupervisionItem(BaseModel):
    case_code: str
    bundle_code: str
    step_id: str
    item: str
    department: str
    status: str
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    remaining_text: str


class BundleVersionOut(BaseModel):
    code: str
    name: str
    version: int
    content_hash: str
    status: str
    published_at: datetime
    retired_at: datetime | None


class BundleDetailOut(BundleVersionOut):
    definition: dict[str, Any]
    source_yaml: str


class PublishOut(BaseModel):
    created: bool
    retired: bool
    version: BundleVersionOut
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class RetireOut(BaseModel):
    changed: bool
    version: BundleVersionOut


class ChangeOut(BaseModel):
    kind: str
    subject: str
    field: str | None = None
    before: str | None = None
    after: str | None = None
    text: str


class DiffOut(BaseModel):
    code: str
    a: int
    b: int
    changes: list[ChangeOut]
