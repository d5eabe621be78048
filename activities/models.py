"""Inputs and outputs of the activities (one model each) and the activity names.

Shared activities run on the orchestrator queue; department activities run on
``onething.queues.department_task_queue(step.department)`` and call that department's adapter.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from definitions.schema import Duration, Step

# Shared (orchestrator queue).
COMPUTE_DEADLINE = "compute_deadline"
RESUME_DEADLINE = "resume_deadline"
NOTIFY = "notify"
DELIVER_RESULT = "deliver_result"
# Department queues.
DISPATCH_STEP = "department_dispatch"
DECIDE_AUTOMATIC = "department_decide"
WITHDRAW_STEP = "department_withdraw"
RECORD_OUTCOME = "department_record_outcome"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadlineInput(Model):
    case_code: str
    start: datetime
    duration: Duration


class DeadlineResult(Model):
    due_at: datetime
    due_date: date | None = None
    calendar_version: str
    fallback_used: bool = False


class ResumeDeadlineInput(Model):
    """补正 ended: give back the budget that was left when the clock stopped."""

    case_code: str
    unit_of: Duration  # the limit being resumed (only its unit matters)
    stopped_at: datetime
    resumed_at: datetime
    due_at: datetime
    due_date: date | None = None


class StepPayload(Model):
    """What a department receives about a step: the case and the applicant's shared data."""

    case_code: str
    bundle_code: str
    bundle_name: str
    step: Step
    region: str
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list)
    applicant_id_type: str
    applicant_id_number: str
    applicant_name: str
    due_at: datetime | None = None


class DispatchInput(Model):
    payload: StepPayload


class DecideAutomaticInput(Model):
    payload: StepPayload


class AdapterVerdict(StrEnum):
    approve = "approve"
    reject = "reject"


class AdapterDecision(Model):
    decision: AdapterVerdict
    reason: str = ""


class WithdrawStepInput(Model):
    case_code: str
    step_id: str
    department: str
    reason: str


class StepOutcomeInput(Model):
    """A dispatched step's final outcome, told back to the department (a deemed approval or a
    timeout rejection is news to it; an officer's own decision closes its inbox entry)."""

    case_code: str
    step_id: str
    department: str
    outcome: str  # approved, rejected or deemed_approved
    officer_id: str | None = None
    reason: str = ""


class NotificationKind(StrEnum):
    warning = "warning"  # 预警
    supervision = "supervision"  # 督办 (escalation level 1)
    escalation = "escalation"  # 提级 (escalation level 2)
    supplement_requested = "supplement_requested"
    overdue = "overdue"
    delivery = "delivery"  # 多端获取: the result on an applicant channel
    withdrawal = "withdrawal"
    rectification = "rectification"


class NotifyInput(Model):
    case_code: str
    kind: NotificationKind
    recipient: str  # a department, "<dept>#supervisor", the office, or "applicant:<channel>"
    message: str
    step_id: str | None = None
    # Same key, same notification: activity retries and replays never notify twice.
    key: str


class DeliverInput(Model):
    case_code: str
    outcome: str
    channels: list[str]
    message: str
