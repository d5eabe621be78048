"""The case workflow's public interface: its input, the Update/Query payloads and the case state.

Clients (the CLI, the demo, tests) and the workflow share these models, so the names below are
the contract: workflow type ``CaseWorkflow``, Query ``state``, Updates ``decide``,
``supplement``, ``withdraw``, ``rate`` and ``rectify``. The workflow ID is the case code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from definitions.schema import Bundle, Duration, StepMode, TimeUnit

WORKFLOW_NAME = "CaseWorkflow"
QUERY_STATE = "state"
UPDATE_DECIDE = "decide"
UPDATE_SUPPLEMENT = "supplement"
UPDATE_WITHDRAW = "withdraw"
UPDATE_RATE = "rate"
UPDATE_RECTIFY = "rectify"

# Level 2 提级 goes to the provincial government service office (Sichuan, the seed's province).
GOV_SERVICE_OFFICE = "510000.gov-service"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channel(StrEnum):
    web = "web"
    app = "app"
    hall = "hall"


class IdType(StrEnum):
    resident_id = "resident_id"  # 居民身份证号 (also 9xxxxx permanent residence, 81/82/83 permits)
    uscc = "uscc"  # 统一社会信用代码
    passport = "passport"


class Applicant(Model):
    """Personal data: never logged unmasked, never in search attributes."""

    id_type: IdType
    id_number: str = Field(min_length=1)
    name: str = Field(min_length=1)
    phone: str | None = None


class PinnedBundle(Model):
    """The bundle version a case runs; a later publish never changes a running case."""

    code: str
    version: int
    content_hash: str
    definition: Bundle


class CaseInput(Model):
    case_code: str
    bundle: PinnedBundle
    applicant: Applicant
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list)
    region: str = Field(pattern=r"^\d{6}$")
    channel: Channel = Channel.web
    request_id: str
    submitted_at: datetime
    # 好差评 window after completion, and the limit for rectifying a bad rating (local settings).
    rating_window: Duration = Duration(amount=15, unit=TimeUnit.calendar_days)
    rectification_limit: Duration = Duration(amount=15, unit=TimeUnit.working_days)


class CaseStatus(StrEnum):
    running = "running"
    completed = "completed"
    rejected = "rejected"
    withdrawn = "withdrawn"


class StepStatus(StrEnum):
    waiting = "waiting"  # dependencies not yet approved
    checking = "checking"  # automatic check running at the department
    awaiting_decision = "awaiting_decision"  # dispatched; an officer decides
    supplementing = "supplementing"  # 补正: clock stopped until the applicant supplies material
    approved = "approved"
    deemed_approved = "deemed_approved"  # 承诺制: the limit passed without a decision
    rejected = "rejected"
    withdrawn = "withdrawn"  # was at the department when the case ended
    cancelled = "cancelled"  # never started because the case ended first


IN_FLIGHT = frozenset({StepStatus.checking, StepStatus.awaiting_decision, StepStatus.supplementing})
APPROVED = frozenset({StepStatus.approved, StepStatus.deemed_approved})
FINAL = APPROVED | {StepStatus.rejected, StepStatus.withdrawn, StepStatus.cancelled}


class DecisionKind(StrEnum):
    approve = "approve"
    reject = "reject"
    supplement = "supplement"
    extend = "extend"


class DecisionInput(Model):
    step_id: str
    decision: DecisionKind
    officer_id: str = Field(min_length=1)
    department: str
    reason: str = ""
    # extend: how many units of the step's extension unit to add (default: all that is allowed).
    amount: int | None = None
    # supplement: the material ids the applicant must supply.
    materials: list[str] = Field(default_factory=list)


class SupplementInput(Model):
    """The applicant supplies material; every step waiting for it resumes its clock."""

    materials: list[str] = Field(min_length=1)
    step_id: str | None = None  # None: every step in 补正
    note: str = ""


class WithdrawInput(Model):
    reason: str = ""


class RatingLevel(StrEnum):
    very_satisfied = "非常满意"
    satisfied = "满意"
    basically_satisfied = "基本满意"
    dissatisfied = "不满意"
    very_dissatisfied = "非常不满意"

    @property
    def is_bad(self) -> bool:
        return self in (RatingLevel.dissatisfied, RatingLevel.very_dissatisfied)


class RateInput(Model):
    level: RatingLevel
    comment: str = ""


class RectifyInput(Model):
    officer_id: str = Field(min_length=1)
    note: str = Field(min_length=1)


class ClockStop(Model):
    step_id: str
    started_at: datetime
    ended_at: datetime | None = None
    reason: str


class TimelineEvent(Model):
    at: datetime
    kind: str
    step_id: str | None = None
    detail: str = ""


class StepState(Model):
    id: str
    item: str
    department: str
    mode: StepMode
    depends_on: list[str]
    status: StepStatus = StepStatus.waiting
    started_at: datetime | None = None
    due_at: datetime | None = None
    due_date: str | None = None  # ISO date for day units
    calendar_version: str | None = None
    remaining_seconds: float | None = None  # filled in by the query
    warned: bool = False
    overdue: bool = False
    escalation_level: int = 0
    decision: DecisionKind | None = None
    decided_at: datetime | None = None
    officer_id: str | None = None
    reason: str = ""
    extension_used: bool = False
    requested_materials: list[str] = Field(default_factory=list)


class RatingState(Model):
    level: RatingLevel
    comment: str = ""
    rated_at: datetime


class RectificationStatus(StrEnum):
    open = "open"
    done = "done"


class RectificationState(Model):
    status: RectificationStatus = RectificationStatus.open
    opened_at: datetime
    due_at: datetime
    overdue: bool = False
    escalation_level: int = 0
    officer_id: str | None = None
    note: str = ""
    done_at: datetime | None = None


class CaseState(Model):
    case_code: str
    bundle_code: str
    bundle_name: str
    bundle_version: int
    content_hash: str
    region: str
    channel: Channel
    status: CaseStatus = CaseStatus.running
    submitted_at: datetime
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    promised_due_at: datetime | None = None
    overdue: bool = False
    steps: list[StepState]
    clock_stops: list[ClockStop] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    materials: list[str] = Field(default_factory=list)
    rating_open_until: datetime | None = None
    rating: RatingState | None = None
    rectification: RectificationState | None = None

    def step(self, step_id: str) -> StepState:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def remaining(self, step_id: str) -> timedelta | None:
        s = self.step(step_id)
        return None if s.remaining_seconds is None else timedelta(seconds=s.remaining_seconds)
