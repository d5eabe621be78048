"""The minimal hand-written case workflow the benchmark compares onething against.

It makes the same activity calls as ``CaseWorkflow`` on a case that is approved throughout
(the promise and every step deadline, the department check or dispatch on the department's
queue, the outcome told back, the rating window, delivery) and takes the same ``decide`` and
``rate`` Updates, but keeps no timeline, clock-stop ledger, snapshots or search attributes, and
has one timer per waiting step instead of warning and escalation timers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        COMPUTE_DEADLINE,
        DECIDE_AUTOMATIC,
        DELIVER_RESULT,
        DISPATCH_STEP,
        RECORD_OUTCOME,
        AdapterDecision,
        DeadlineInput,
        DeadlineResult,
        DecideAutomaticInput,
        DeliverInput,
        DispatchInput,
        StepOutcomeInput,
        StepPayload,
    )
    from definitions.schema import Duration, Step, StepMode
    from onething.queues import department_task_queue
    from workflows.models import CaseInput, DecisionInput, DecisionKind, RateInput

BASELINE_NAME = "BenchBaselineWorkflow"
TIMEOUT = timedelta(minutes=2)


@workflow.defn(name=BASELINE_NAME)
class BaselineWorkflow:
    @workflow.init
    def __init__(self, request: CaseInput) -> None:
        self._input = request
        self._approved: set[str] = set()
        self._awaiting: set[str] = set()
        self._overdue: set[str] = set()
        self._rated = False
        self._completed = False

    @workflow.run
    async def run(self, request: CaseInput) -> str:
        await self._deadline(request.bundle.definition.promised_limit)
        await asyncio.gather(*(self._step(s) for s in request.bundle.definition.steps))
        window = await self._deadline(request.rating_window)
        await workflow.execute_activity(
            DELIVER_RESULT,
            DeliverInput(
                case_code=request.case_code,
                outcome="completed",
                channels=[request.channel.value, *(["sms"] if request.applicant.phone else [])],
                message="办结: all items approved; the result is ready",
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._completed = True
        try:
            await workflow.wait_condition(
                lambda: self._rated, timeout=window.due_at - workflow.now()
            )
        except TimeoutError:
            return "completed"
        return "completed"

    async def _step(self, spec: Step) -> None:
        await workflow.wait_condition(lambda: all(d in self._approved for d in spec.depends_on))
        deadline = await self._deadline(spec.time_limit)
        queue = department_task_queue(spec.department)
        payload = self._payload(spec, deadline)
        if spec.mode is StepMode.automatic:
            await workflow.execute_activity(
                DECIDE_AUTOMATIC,
                DecideAutomaticInput(payload=payload),
                task_queue=queue,
                result_type=AdapterDecision,
                start_to_close_timeout=TIMEOUT,
            )
            self._approved.add(spec.id)
            return
        self._awaiting.add(spec.id)
        await workflow.execute_activity(
            DISPATCH_STEP,
            DispatchInput(payload=payload),
            task_queue=queue,
            start_to_close_timeout=TIMEOUT,
        )
        try:
            await workflow.wait_condition(
                lambda: spec.id in self._approved, timeout=deadline.due_at - workflow.now()
            )
        except TimeoutError:
            # The limit passed: remembered, and the step keeps waiting for its officer.
            self._overdue.add(spec.id)
            await workflow.wait_condition(lambda: spec.id in self._approved)
        await workflow.execute_activity(
            RECORD_OUTCOME,
            StepOutcomeInput(
                case_code=self._input.case_code,
                step_id=spec.id,
                department=spec.department,
                outcome="approved",
            ),
            task_queue=queue,
            start_to_close_timeout=TIMEOUT,
        )

    async def _deadline(self, duration: Duration) -> DeadlineResult:
        result: DeadlineResult = await workflow.execute_activity(
            COMPUTE_DEADLINE,
            DeadlineInput(case_code=self._input.case_code, start=workflow.now(), duration=duration),
            result_type=DeadlineResult,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return result

    def _payload(self, spec: Step, deadline: DeadlineResult) -> StepPayload:
        request = self._input
        return StepPayload(
            case_code=request.case_code,
            bundle_code=request.bundle.code,
            bundle_name=request.bundle.definition.name,
            step=spec,
            region=request.region,
            form=request.form,
            materials=list(request.materials),
            applicant_id_type=request.applicant.id_type.value,
            applicant_id_number=request.applicant.id_number,
            applicant_name=request.applicant.name,
            due_at=deadline.due_at,
        )

    @workflow.update
    async def decide(self, request: DecisionInput) -> None:
        self._awaiting.discard(request.step_id)
        self._approved.add(request.step_id)

    @decide.validator
    def _validate_decide(self, request: DecisionInput) -> None:
        if request.step_id not in self._awaiting:
            raise ValueError(f"step_id: {request.step_id!r} is not awaiting a decision")
        if request.decision is not DecisionKind.approve:
            raise ValueError(f"decision: the baseline only approves, not {request.decision}")
        spec = self._input.bundle.definition.step(request.step_id)
        if request.department != spec.department:
            raise ValueError(f"department: {request.department} cannot decide {request.step_id}")

    @workflow.update
    async def rate(self, request: RateInput) -> None:
        self._rated = True

    @rate.validator
    def _validate_rate(self, request: RateInput) -> None:
        if not self._completed or self._rated:
            raise ValueError("level: only a completed, unrated case can be rated")
