"""Rules adapter: deterministic data-sharing checks for automatic steps. A failed check is a
reasoned rejection; data the rules cannot even read is a non-retryable error."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from activities.adapters.identity import identifier_problem
from activities.models import (
    AdapterDecision,
    AdapterVerdict,
    StepOutcomeInput,
    StepPayload,
    WithdrawStepInput,
)


class RulesAdapter:
    def __init__(self, *, database_url: str) -> None:
        self.database_url = database_url

    async def dispatch(self, payload: StepPayload) -> None:
        raise ApplicationError(
            f"step {payload.step.id!r}: the rules adapter only decides automatic steps; "
            "configure an inbox or http adapter for department " + payload.step.department,
            type="AdapterMisconfigured",
            non_retryable=True,
        )

    async def decide(self, payload: StepPayload) -> AdapterDecision:
        return check(payload)

    async def withdraw(self, request: WithdrawStepInput) -> None:
        # Nothing was handed over: the check ran inside the activity.
        return None

    async def record_outcome(self, request: StepOutcomeInput) -> None:
        return None  # the rules decided it themselves


def check(payload: StepPayload) -> AdapterDecision:
    if not payload.applicant_id_number.strip():
        raise ApplicationError(
            "applicant_id_number: empty", type="BadApplicantData", non_retryable=True
        )
    problem = identifier_problem(payload.applicant_id_type, payload.applicant_id_number)
    if problem:
        return AdapterDecision(decision=AdapterVerdict.reject, reason=problem)
    missing = [m for m in payload.step.materials if m not in payload.materials]
    if missing:
        return AdapterDecision(
            decision=AdapterVerdict.reject,
            reason="missing material(s) for this item: " + ", ".join(missing),
        )
    return AdapterDecision(decision=AdapterVerdict.approve, reason="data-sharing checks passed")
