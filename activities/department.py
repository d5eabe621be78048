"""Department activities, registered on each department's own task queue. They call whichever
adapter settings choose for the department."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.adapters import adapter_for
from activities.models import (
    DECIDE_AUTOMATIC,
    DISPATCH_STEP,
    RECORD_OUTCOME,
    WITHDRAW_STEP,
    AdapterDecision,
    DecideAutomaticInput,
    DispatchInput,
    StepOutcomeInput,
    WithdrawStepInput,
)
from definitions.schema import StepMode
from onething.logs import get_logger
from onething.settings import Settings

log = get_logger(__name__)
T = TypeVar("T")
HEARTBEAT_EVERY = 5.0


class DepartmentActivities:
    def __init__(self, settings: Settings, department_code: str) -> None:
        self.settings = settings
        self.department_code = department_code

    @activity.defn(name=DISPATCH_STEP)
    async def dispatch(self, request: DispatchInput) -> None:
        payload = request.payload
        self._check_department(payload.step.department, payload.step.id)
        with structlog.contextvars.bound_contextvars(
            case_code=payload.case_code, step_id=payload.step.id
        ):
            adapter = adapter_for(self.settings, self.department_code, StepMode.manual)
            await _heartbeating(adapter.dispatch(payload))
            log.info("step dispatched", department=self.department_code, item=payload.step.item)

    @activity.defn(name=DECIDE_AUTOMATIC)
    async def decide_automatic(self, request: DecideAutomaticInput) -> AdapterDecision:
        payload = request.payload
        self._check_department(payload.step.department, payload.step.id)
        with structlog.contextvars.bound_contextvars(
            case_code=payload.case_code, step_id=payload.step.id
        ):
            adapter = adapter_for(self.settings, self.department_code, StepMode.automatic)
            decision = await _heartbeating(adapter.decide(payload))
            log.info(
                "automatic decision",
                department=self.department_code,
                decision=decision.decision.value,
                reason=decision.reason,
            )
            return decision

    @activity.defn(name=WITHDRAW_STEP)
    async def withdraw(self, request: WithdrawStepInput) -> None:
        self._check_department(request.department, request.step_id)
        with structlog.contextvars.bound_contextvars(
            case_code=request.case_code, step_id=request.step_id
        ):
            # Withdrawal goes where dispatch went: a configured adapter, else the inbox
            # (a no-op for automatic steps, which never leave a row there).
            adapter = adapter_for(self.settings, self.department_code, StepMode.manual)
            await _heartbeating(adapter.withdraw(request))
            log.info("step withdrawn", department=self.department_code, reason=request.reason)

    @activity.defn(name=RECORD_OUTCOME)
    async def record_outcome(self, request: StepOutcomeInput) -> None:
        self._check_department(request.department, request.step_id)
        with structlog.contextvars.bound_contextvars(
            case_code=request.case_code, step_id=request.step_id
        ):
            adapter = adapter_for(self.settings, self.department_code, StepMode.manual)
            await _heartbeating(adapter.record_outcome(request))
            log.info(
                "step outcome recorded", department=self.department_code, outcome=request.outcome
            )

    def _check_department(self, department: str, step_id: str) -> None:
        if department != self.department_code:
            raise ApplicationError(
                f"step {step_id!r} belongs to department {department!r}, "
                f"not to this worker's {self.department_code!r}",
                type="WrongDepartment",
                non_retryable=True,
            )


async def _heartbeating(work: Awaitable[T]) -> T:
    """Await ``work`` while heartbeating, so a stuck department system is noticed quickly."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        # Cancelled by Temporal (case ended, heartbeat timeout): stop the department call too.
        task.cancel()
