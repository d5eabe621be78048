"""The case workflow (办件): one per case code, running the pinned version of its bundle.

Steps start when their dependencies are approved, so independent steps run in parallel; each
step's activities run on its department's task queue. Manual steps wait for the ``decide``
Update, automatic ones for the department's check. Timers (预警, the limit, 督办, 提级) come
from deadlines computed in activities. After completion the case stays open for the rating
window (好差评) and, after a bad rating, until the rectification is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        COMPUTE_DEADLINE,
        DECIDE_AUTOMATIC,
        DELIVER_RESULT,
        DISPATCH_STEP,
        NOTIFY,
        RECORD_OUTCOME,
        RESUME_DEADLINE,
        WITHDRAW_STEP,
        AdapterDecision,
        AdapterVerdict,
        DeadlineInput,
        DeadlineResult,
        DecideAutomaticInput,
        DeliverInput,
        DispatchInput,
        NotificationKind,
        NotifyInput,
        ResumeDeadlineInput,
        StepOutcomeInput,
        StepPayload,
        WithdrawStepInput,
    )
    from activities.readmodel import RECORD_CASE_EVENT
    from definitions.schema import Duration, OnTimeout, Step, StepMode
    from onething.queues import department_task_queue
    from onething.readmodel import RecordResult, record_from_state
    from workflows import rules
    from workflows.attributes import case_search_attributes
    from workflows.models import (
        APPROVED,
        GOV_SERVICE_OFFICE,
        IN_FLIGHT,
        QUERY_STATE,
        WORKFLOW_NAME,
        CaseInput,
        CaseState,
        CaseStatus,
        ClockStop,
        DecisionInput,
        DecisionKind,
        RateInput,
        RatingState,
        RectificationState,
        RectificationStatus,
        RectifyInput,
        StepState,
        StepStatus,
        SupplementInput,
        TimelineEvent,
        WithdrawInput,
    )

# A year without calendar data fails the deadline activity retryably; the interval is capped so
# the case notices within minutes once the data or the fallback setting arrives.
CALENDAR_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
DEPARTMENT_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# The read model waits out a database outage rather than losing a transition.
READ_MODEL_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
READ_MODEL_PATCH = "read-model-v1"
SHORT = timedelta(seconds=30)


@workflow.defn(name=WORKFLOW_NAME)
class CaseWorkflow:
    @workflow.init
    def __init__(self, request: CaseInput) -> None:
        self._input = request
        self._bundle = request.bundle.definition
        self._state = CaseState(
            case_code=request.case_code,
            bundle_code=request.bundle.code,
            bundle_name=self._bundle.name,
            bundle_version=request.bundle.version,
            content_hash=request.bundle.content_hash,
            region=request.region,
            channel=request.channel,
            submitted_at=request.submitted_at,
            materials=list(request.materials),
            steps=[
                StepState(
                    id=s.id,
                    item=s.item,
                    department=s.department,
                    mode=s.mode,
                    depends_on=list(s.depends_on),
                )
                for s in self._bundle.steps
            ],
        )
        self._closing = False
        self._withdraw_reason: str | None = None
        # Bumped whenever a deadline moves, so waits on the old deadline re-plan.
        self._revision = 0
        self._escalate_at: dict[str, datetime] = {}
        self._promised_stopped_at: datetime | None = None
        self._checks: dict[str, asyncio.Task[None]] = {}
        self._resuming: set[str] = set()
        self._dispatched: set[str] = set()
        self._records: list[asyncio.Task[None]] = []
        self._last_attributes: dict[str, Any] = {}
        # Read model: every published change bumps _changes; the recorder writes the state and
        # the timeline events from _recorded_events on, then catches up with _changes.
        self._changes = 0
        self._recorded_changes = 0
        self._recorded_events = 0
        self._recorder: asyncio.Task[None] | None = None
        self._recorder_stop = False

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, request: CaseInput) -> CaseState:
        if workflow.patched(READ_MODEL_PATCH):
            self._recorder = asyncio.create_task(self._record_changes())
        self._event("submitted", detail=f"{request.bundle.code} v{request.bundle.version}")
        self._publish_attributes()
        # The overall promise runs from acceptance: the moment the case started (pre-review
        # passed), which the client's submitted_at may precede.
        self._state.accepted_at = workflow.now()
        # Computed alongside the steps: a promise reaching into a year without calendar data
        # must not hold back steps whose own limits can be computed.
        promise = asyncio.create_task(self._promise(self._state.accepted_at))
        steps = [asyncio.create_task(self._run_step(s.id)) for s in self._state.steps]
        outcome = await self._await_outcome()
        self._closing = True
        # Steps still waiting for an activity (a deadline stuck on missing calendar data, a
        # dispatch, a check) stop now; steps that reached a department are withdrawn below.
        for task in [promise, *steps, *self._checks.values()]:
            if not task.done():
                task.cancel()
        await asyncio.gather(promise, *steps, *self._checks.values(), return_exceptions=True)
        # Outcomes told back to departments are never cancelled: wait for them.
        await asyncio.gather(*self._records)
        if outcome is CaseStatus.completed:
            await self._complete()
            await self._aftercare()
        else:
            await self._close(outcome)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._recorder is not None:
            self._recorder_stop = True
            await self._recorder
        return self._snapshot()

    async def _record_changes(self) -> None:
        """Write the read model after each batch of changes: one local activity at a time,
        so a later state never overtakes an earlier one."""
        while True:
            await workflow.wait_condition(
                lambda: self._changes != self._recorded_changes or self._recorder_stop
            )
            if self._changes == self._recorded_changes:
                return
            changes, events = self._changes, len(self._state.timeline)
            record = record_from_state(
                self._state,
                revision=changes,
                applicant_id=self._input.applicant.id_number,
                first_event=self._recorded_events,
            )
            await workflow.execute_local_activity(
                RECORD_CASE_EVENT,
                record,
                result_type=RecordResult,
                start_to_close_timeout=SHORT,
                retry_policy=READ_MODEL_RETRY,
            )
            self._recorded_changes, self._recorded_events = changes, events

    async def _promise(self, accepted_at: datetime) -> None:
        promised = await self._deadline(accepted_at, self._bundle.promised_limit)
        self._state.promised_due_at = promised.due_at
        self._revision += 1
        self._publish_attributes()

    async def _await_outcome(self) -> CaseStatus:
        while True:
            if self._withdraw_reason is not None:
                return CaseStatus.withdrawn
            if any(s.status is StepStatus.rejected for s in self._state.steps):
                return CaseStatus.rejected
            if all(s.status in APPROVED for s in self._state.steps):
                return CaseStatus.completed
            due = self._state.promised_due_at
            clock_running = self._promised_stopped_at is None and not self._state.overdue
            timed_out = await self._wait(self._outcome_known, until=due if clock_running else None)
            if timed_out:
                self._state.overdue = True
                self._event("case_overdue", detail="the promised overall limit has passed")
                await self._notify(
                    NotificationKind.overdue,
                    GOV_SERVICE_OFFICE,
                    f"case {self._state.case_code} passed its promised limit",
                    key="case-overdue",
                )
                self._publish_attributes()

    def _outcome_known(self) -> bool:
        steps = self._state.steps
        return (
            self._withdraw_reason is not None
            or any(s.status is StepStatus.rejected for s in steps)
            or all(s.status in APPROVED for s in steps)
        )

    # ---------------------------------------------------------------- steps

    async def _run_step(self, step_id: str) -> None:
        st = self._state.step(step_id)
        spec = self._bundle.step(step_id)
        await workflow.wait_condition(
            lambda: (
                self._closing
                or all(self._state.step(d).status in APPROVED for d in spec.depends_on)
            )
        )
        if self._closing:
            return
        now = workflow.now()
        st.started_at = now
        automatic = spec.mode is StepMode.automatic
        st.status = StepStatus.checking if automatic else StepStatus.awaiting_decision
        self._event("step_started", step_id, f"{spec.department}: {spec.item}")
        self._publish_attributes()
        deadline = await self._deadline(now, spec.time_limit)
        self._set_due(st, deadline)
        self._publish_attributes()
        if self._closing or st.status not in IN_FLIGHT:
            return  # the case ended, or an officer decided while the deadline was computed
        if automatic:
            self._checks[step_id] = asyncio.create_task(self._automatic_check(st, spec))
        else:
            await self._dispatch(st, spec)
        await self._watch(st, spec)

    async def _dispatch(self, st: StepState, spec: Step) -> None:
        try:
            await workflow.execute_activity(
                DISPATCH_STEP,
                DispatchInput(payload=self._payload(spec, st.due_at)),
                task_queue=department_task_queue(spec.department),
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=SHORT,
                retry_policy=DEPARTMENT_RETRY,
            )
            self._event("dispatched", st.id, spec.department)
            self._dispatched.add(st.id)
            if st.status not in IN_FLIGHT:
                self._record_outcome(st)  # decided while the dispatch was under way
        except ActivityError as err:
            # The department cannot be reached by its adapter; the step still waits for an
            # officer's decision (and its timers still run), so the failure is visible.
            self._event("dispatch_failed", st.id, _cause(err))

    async def _automatic_check(self, st: StepState, spec: Step) -> None:
        try:
            verdict: AdapterDecision = await workflow.execute_activity(
                DECIDE_AUTOMATIC,
                DecideAutomaticInput(payload=self._payload(spec, st.due_at)),
                task_queue=department_task_queue(spec.department),
                result_type=AdapterDecision,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=SHORT,
                retry_policy=DEPARTMENT_RETRY,
            )
        except ActivityError as err:
            if self._closing or st.status is not StepStatus.checking:
                return
            # Data the department system cannot process: an officer decides instead.
            st.status = StepStatus.awaiting_decision
            self._event("automatic_check_failed", st.id, _cause(err))
            await self._dispatch(st, spec)
            self._publish_attributes()
            return
        if st.status is not StepStatus.checking:
            return  # timed out (承诺制 or reject) before the department answered
        approved = verdict.decision is AdapterVerdict.approve
        self._decide(
            st,
            DecisionKind.approve if approved else DecisionKind.reject,
            StepStatus.approved if approved else StepStatus.rejected,
            officer_id=f"system:{spec.department}",
            reason=verdict.reason,
        )

    async def _watch(self, st: StepState, spec: Step) -> None:
        """Run the step's timers until it is decided or the case closes."""
        while not self._closing and st.status in IN_FLIGHT:
            if st.status is StepStatus.supplementing:
                # 补正: the clock is stopped; no timer runs until the material arrives.
                await workflow.wait_condition(
                    lambda: self._closing or st.status is not StepStatus.supplementing
                )
                continue
            at, action = self._next_timer(st, spec)
            timed_out = await self._wait(
                lambda: (
                    self._closing
                    or st.status not in (StepStatus.checking, StepStatus.awaiting_decision)
                ),
                until=at,
            )
            if timed_out and action is not None:
                await action()

    def _next_timer(
        self, st: StepState, spec: Step
    ) -> tuple[datetime | None, Callable[[], Coroutine[Any, Any, None]] | None]:
        assert st.due_at is not None
        if not st.overdue:
            if spec.warn_before is not None and not st.warned:
                # A notice, not a legal deadline: the unit's nominal length is close enough.
                warn_at = st.due_at - timedelta(minutes=spec.warn_before.approx_minutes())
                return warn_at, lambda: self._warn(st, spec)
            return st.due_at, lambda: self._time_out(st, spec)
        if spec.on_timeout is OnTimeout.escalate and st.escalation_level < 2:
            return self._escalate_at.get(st.id), lambda: self._escalate(st, spec)
        return None, None

    async def _warn(self, st: StepState, spec: Step) -> None:
        st.warned = True
        self._event("warning", st.id, f"due {_iso(st.due_at)}")
        await self._notify(
            NotificationKind.warning,
            spec.department,
            f"预警: step {st.id} ({spec.item}) is due at {_iso(st.due_at)}",
            key=f"{st.id}:warning",
            step_id=st.id,
        )

    async def _time_out(self, st: StepState, spec: Step) -> None:
        st.overdue = True
        self._event("overdue", st.id, f"limit {spec.time_limit} passed")
        self._publish_attributes()
        if spec.on_timeout is OnTimeout.deem_approved:
            self._decide(
                st,
                DecisionKind.approve,
                StepStatus.deemed_approved,
                officer_id=None,
                reason="承诺制: the limit passed without a decision",
            )
        elif spec.on_timeout is OnTimeout.reject:
            self._decide(
                st,
                DecisionKind.reject,
                StepStatus.rejected,
                officer_id=None,
                reason="the time limit passed without a decision",
            )
        else:
            first = spec.escalation.supervise_after if spec.escalation else None
            self._escalate_at[st.id] = workflow.now() if first is None else await self._later(first)
        self._publish_attributes()

    async def _escalate(self, st: StepState, spec: Step) -> None:
        st.escalation_level += 1
        if st.escalation_level == 1:
            self._event("supervision", st.id, "督办: department supervisor notified")
            await self._notify(
                NotificationKind.supervision,
                f"{spec.department}#supervisor",
                f"督办: step {st.id} ({spec.item}) passed its limit at {_iso(st.due_at)}",
                key=f"{st.id}:supervision",
                step_id=st.id,
            )
            # Without a ladder, level 2 follows after another full time limit.
            after = spec.escalation.elevate_after if spec.escalation else spec.time_limit
            self._escalate_at[st.id] = await self._later(after)
        else:
            self._event("escalation", st.id, f"提级: {GOV_SERVICE_OFFICE} notified")
            await self._notify(
                NotificationKind.escalation,
                GOV_SERVICE_OFFICE,
                f"提级: step {st.id} ({spec.item}) of {spec.department} is still undecided",
                key=f"{st.id}:escalation",
                step_id=st.id,
            )

    def _decide(
        self,
        st: StepState,
        kind: DecisionKind,
        status: StepStatus,
        *,
        officer_id: str | None,
        reason: str,
    ) -> None:
        st.status = status
        st.decision = kind
        st.decided_at = workflow.now()
        st.officer_id = officer_id
        st.reason = reason
        self._event(status.value, st.id, reason)
        self._publish_attributes()
        if st.id in self._dispatched:
            self._record_outcome(st)

    def _record_outcome(self, st: StepState) -> None:
        request = StepOutcomeInput(
            case_code=self._state.case_code,
            step_id=st.id,
            department=st.department,
            outcome=st.status.value,
            officer_id=st.officer_id,
            reason=st.reason,
        )
        self._records.append(asyncio.create_task(self._tell_department(request)))

    async def _tell_department(self, request: StepOutcomeInput) -> None:
        try:
            await workflow.execute_activity(
                RECORD_OUTCOME,
                request,
                task_queue=department_task_queue(request.department),
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=SHORT,
                retry_policy=DEPARTMENT_RETRY,
            )
        except ActivityError as err:
            self._event("outcome_not_recorded", request.step_id, _cause(err))

    # -------------------------------------------------------------- updates
    # The method names are the Update names (workflows.models.UPDATE_*); the decorator takes
    # no name= because that overload loses the awaited result type for callers.

    @workflow.update
    async def decide(self, request: DecisionInput) -> CaseState:
        self._recheck(
            lambda: rules.check_decision(self._state, self._bundle, request, workflow.now())
        )
        st = self._state.step(request.step_id)
        spec = self._bundle.step(request.step_id)
        kind = request.decision
        if kind is DecisionKind.approve:
            self._decide(
                st, kind, StepStatus.approved, officer_id=request.officer_id, reason=request.reason
            )
        elif kind is DecisionKind.reject:
            self._decide(
                st, kind, StepStatus.rejected, officer_id=request.officer_id, reason=request.reason
            )
        elif kind is DecisionKind.supplement:
            await self._stop_clock(st, spec, request)
        else:
            await self._extend(st, spec, request)
        return self._snapshot()

    @decide.validator
    def _validate_decide(self, request: DecisionInput) -> None:
        self._refuse_while_closing()
        rules.check_decision(self._state, self._bundle, request, workflow.now())

    async def _stop_clock(self, st: StepState, spec: Step, request: DecisionInput) -> None:
        now = workflow.now()
        st.status = StepStatus.supplementing
        st.decision = DecisionKind.supplement
        st.officer_id = request.officer_id
        st.requested_materials = list(request.materials)
        reason = f"补正: {request.reason} (materials: {', '.join(request.materials)})"
        self._state.clock_stops.append(ClockStop(step_id=st.id, started_at=now, reason=reason))
        if self._promised_stopped_at is None:
            self._promised_stopped_at = now
            self._revision += 1  # the overall promised clock stops too
        self._event("supplement_requested", st.id, reason)
        self._publish_attributes()
        await self._notify(
            NotificationKind.supplement_requested,
            f"applicant:{self._input.channel.value}",
            f"补正: step {st.id} ({spec.item}) needs {', '.join(request.materials)}",
            key=f"{st.id}:supplement:{len(self._state.clock_stops)}",
            step_id=st.id,
        )

    async def _extend(self, st: StepState, spec: Step, request: DecisionInput) -> None:
        assert spec.extension is not None and st.due_at is not None
        st.extension_used = True
        amount = request.amount or spec.extension.amount
        deadline = await self._deadline(
            st.due_at, Duration(amount=amount, unit=spec.extension.unit)
        )
        old = st.due_at
        self._set_due(st, deadline)
        st.officer_id = request.officer_id
        st.reason = request.reason
        self._event(
            "extended",
            st.id,
            f"延期 {amount} {spec.extension.unit.value}: {_iso(old)} -> {_iso(st.due_at)}; "
            f"{request.reason}",
        )
        self._publish_attributes()

    @workflow.update
    async def supplement(self, request: SupplementInput) -> CaseState:
        targets: list[StepState] = []
        self._recheck(lambda: targets.extend(self._supplement_targets(request)))
        now = workflow.now()
        for m in request.materials:
            if m not in self._state.materials:
                self._state.materials.append(m)
        # Close the stops before any await so a second, concurrent supplement cannot resume
        # the same step twice.
        stops: dict[str, ClockStop] = {}
        for st in targets:
            stop = next(
                c
                for c in reversed(self._state.clock_stops)
                if c.step_id == st.id and c.ended_at is None
            )
            stop.ended_at = now
            stops[st.id] = stop
            self._resuming.add(st.id)
        for st in targets:
            assert st.due_at is not None  # the decide validator refuses 补正 before a deadline
            spec = self._bundle.step(st.id)
            deadline = await self._resume(
                spec.time_limit, stops[st.id].started_at, now, st.due_at, st.due_date
            )
            self._set_due(st, deadline)
            st.status = StepStatus.awaiting_decision
            st.decision = None
            self._resuming.discard(st.id)
            self._event("supplemented", st.id, f"clock restarted; due {_iso(st.due_at)}")
        still_stopped = any(s.status is StepStatus.supplementing for s in self._state.steps)
        stopped_at, due = self._promised_stopped_at, self._state.promised_due_at
        if stopped_at is not None and not still_stopped:
            self._promised_stopped_at = None
            if due is not None:
                promised = await self._resume(
                    self._bundle.promised_limit, stopped_at, now, due, None
                )
                self._state.promised_due_at = promised.due_at
                self._revision += 1
        self._publish_attributes()
        return self._snapshot()

    def _supplement_targets(self, request: SupplementInput) -> list[StepState]:
        targets = rules.supplement_targets(self._state, request)
        busy = [t.id for t in targets if t.id in self._resuming]
        if busy:
            raise ValueError(f"step_id: material for {', '.join(busy)} was already received")
        return targets

    @supplement.validator
    def _validate_supplement(self, request: SupplementInput) -> None:
        self._refuse_while_closing()
        self._supplement_targets(request)

    @workflow.update
    async def withdraw(self, request: WithdrawInput) -> CaseState:
        self._recheck(
            lambda: rules.check_withdraw(self._state, request, self._withdraw_reason is not None)
        )
        self._withdraw_reason = request.reason.strip() or "withdrawn by the applicant"
        await workflow.wait_condition(lambda: self._state.status is not CaseStatus.running)
        return self._snapshot()

    @withdraw.validator
    def _validate_withdraw(self, request: WithdrawInput) -> None:
        self._refuse_while_closing()
        rules.check_withdraw(self._state, request, self._withdraw_reason is not None)

    @workflow.update
    async def rate(self, request: RateInput) -> CaseState:
        self._recheck(lambda: rules.check_rating(self._state, request, workflow.now()))
        now = workflow.now()
        self._state.rating = RatingState(level=request.level, comment=request.comment, rated_at=now)
        self._event("rated", detail=request.level.value)
        if request.level.is_bad:
            deadline = await self._deadline(now, self._input.rectification_limit)
            self._state.rectification = RectificationState(opened_at=now, due_at=deadline.due_at)
            self._event("rectification_opened", detail=f"due {_iso(deadline.due_at)}")
            await self._notify(
                NotificationKind.rectification,
                GOV_SERVICE_OFFICE,
                f"差评回访: case {self._state.case_code} rated {request.level.value}; "
                f"rectify by {_iso(deadline.due_at)}",
                key="rectification-opened",
            )
        return self._snapshot()

    @rate.validator
    def _validate_rate(self, request: RateInput) -> None:
        rules.check_rating(self._state, request, workflow.now())

    @workflow.update
    async def rectify(self, request: RectifyInput) -> CaseState:
        self._recheck(lambda: rules.check_rectify(self._state, request))
        rect = self._state.rectification
        assert rect is not None
        rect.status = RectificationStatus.done
        rect.officer_id = request.officer_id
        rect.note = request.note
        rect.done_at = workflow.now()
        self._event("rectified", detail=request.note)
        return self._snapshot()

    @rectify.validator
    def _validate_rectify(self, request: RectifyInput) -> None:
        rules.check_rectify(self._state, request)

    @workflow.query(name=QUERY_STATE)
    def state(self) -> CaseState:
        return self._snapshot()

    # ------------------------------------------------------------- outcomes

    async def _complete(self) -> None:
        window = await self._deadline(workflow.now(), self._input.rating_window)
        self._state.rating_open_until = window.due_at
        await self._deliver("completed", "办结: all items approved; the result is ready")
        self._finish(CaseStatus.completed)

    async def _aftercare(self) -> None:
        """好差评 window, then (after a bad rating) the rectification follow-up."""
        await self._wait(
            lambda: (
                self._state.rating is not None
                and (not self._state.rating.level.is_bad or self._state.rectification is not None)
            ),
            until=self._state.rating_open_until,
        )
        rect = self._state.rectification
        if rect is None:
            return
        timed_out = await self._wait(
            lambda: rect.status is RectificationStatus.done, until=rect.due_at
        )
        if timed_out:
            rect.overdue = True
            rect.escalation_level = 1
            self._event("rectification_overdue", detail="督办: rectification limit passed")
            await self._notify(
                NotificationKind.supervision,
                GOV_SERVICE_OFFICE,
                f"督办: rectification of case {self._state.case_code} is overdue",
                key="rectification-overdue",
            )
            self._publish_attributes()
            await workflow.wait_condition(lambda: rect.status is RectificationStatus.done)

    async def _close(self, outcome: CaseStatus) -> None:
        reason = self._withdraw_reason or next(
            (
                f"step {s.id}: {s.reason}"
                for s in self._state.steps
                if s.status is StepStatus.rejected
            ),
            "",
        )
        in_flight = [s for s in self._state.steps if s.status in IN_FLIGHT]
        await asyncio.gather(*(self._withdraw_step(s, outcome, reason) for s in in_flight))
        for s in self._state.steps:
            if s.status is StepStatus.waiting:
                s.status = StepStatus.cancelled
                self._event("cancelled", s.id, "not started: the case ended")
        for stop in self._state.clock_stops:
            if stop.ended_at is None:
                stop.ended_at = workflow.now()
        self._promised_stopped_at = None
        await self._deliver(outcome.value, f"{outcome.value}: {reason}")
        self._finish(outcome)

    async def _withdraw_step(self, st: StepState, outcome: CaseStatus, reason: str) -> None:
        try:
            await workflow.execute_activity(
                WITHDRAW_STEP,
                WithdrawStepInput(
                    case_code=self._state.case_code,
                    step_id=st.id,
                    department=st.department,
                    reason=f"case {outcome.value}: {reason}",
                ),
                task_queue=department_task_queue(st.department),
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=SHORT,
                retry_policy=DEPARTMENT_RETRY,
            )
        except ActivityError as err:
            self._event("withdraw_failed", st.id, _cause(err))
        st.status = StepStatus.withdrawn
        self._event("withdrawn", st.id, f"case {outcome.value}")
        await self._notify(
            NotificationKind.withdrawal,
            st.department,
            f"撤回: step {st.id} withdrawn, case {outcome.value}",
            key=f"{st.id}:withdrawn",
            step_id=st.id,
        )

    async def _deliver(self, outcome: str, message: str) -> None:
        channels = [self._input.channel.value]
        if self._input.applicant.phone:
            channels.append("sms")
        await workflow.execute_activity(
            DELIVER_RESULT,
            DeliverInput(
                case_code=self._state.case_code, outcome=outcome, channels=channels, message=message
            ),
            start_to_close_timeout=SHORT,
        )
        self._event("delivered", detail=f"{outcome} -> {', '.join(channels)}")

    def _finish(self, outcome: CaseStatus) -> None:
        self._state.status = outcome
        self._state.closed_at = workflow.now()
        self._event(outcome.value, detail="")
        self._publish_attributes()

    # -------------------------------------------------------------- helpers

    async def _wait(self, done: Callable[[], bool], *, until: datetime | None) -> bool:
        """Wait for ``done`` (True: timed out at ``until``). Also returns when a deadline moved,
        so callers re-plan their timers."""
        revision = self._revision
        if done():
            return False
        timeout = None
        if until is not None:
            timeout = until - workflow.now()
            if timeout <= timedelta(0):
                return True
        try:
            await workflow.wait_condition(
                lambda: done() or self._revision != revision, timeout=timeout
            )
        except TimeoutError:
            return True
        return False

    async def _deadline(self, start: datetime, duration: Duration) -> DeadlineResult:
        result: DeadlineResult = await workflow.execute_activity(
            COMPUTE_DEADLINE,
            DeadlineInput(case_code=self._state.case_code, start=start, duration=duration),
            result_type=DeadlineResult,
            start_to_close_timeout=SHORT,
            retry_policy=CALENDAR_RETRY,
        )
        return result

    async def _later(self, duration: Duration) -> datetime:
        return (await self._deadline(workflow.now(), duration)).due_at

    async def _resume(
        self, limit: Duration, stopped: datetime, resumed: datetime, due_at: datetime, due_date: Any
    ) -> DeadlineResult:
        result: DeadlineResult = await workflow.execute_activity(
            RESUME_DEADLINE,
            ResumeDeadlineInput(
                case_code=self._state.case_code,
                unit_of=limit,
                stopped_at=stopped,
                resumed_at=resumed,
                due_at=due_at,
                due_date=due_date,
            ),
            result_type=DeadlineResult,
            start_to_close_timeout=SHORT,
            retry_policy=CALENDAR_RETRY,
        )
        return result

    def _set_due(self, st: StepState, deadline: DeadlineResult) -> None:
        st.due_at = deadline.due_at
        st.due_date = deadline.due_date.isoformat() if deadline.due_date else None
        st.calendar_version = deadline.calendar_version
        self._revision += 1

    async def _notify(
        self,
        kind: NotificationKind,
        recipient: str,
        message: str,
        *,
        key: str,
        step_id: str | None = None,
    ) -> None:
        await workflow.execute_activity(
            NOTIFY,
            NotifyInput(
                case_code=self._state.case_code,
                kind=kind,
                recipient=recipient,
                message=message,
                step_id=step_id,
                key=f"{self._state.case_code}:{key}",
            ),
            start_to_close_timeout=SHORT,
        )

    def _payload(self, spec: Step, due_at: datetime | None) -> StepPayload:
        applicant = self._input.applicant
        return StepPayload(
            case_code=self._state.case_code,
            bundle_code=self._state.bundle_code,
            bundle_name=self._state.bundle_name,
            step=spec,
            region=self._state.region,
            form=self._input.form,
            materials=list(self._state.materials),
            applicant_id_type=applicant.id_type.value,
            applicant_id_number=applicant.id_number,
            applicant_name=applicant.name,
            due_at=due_at,
        )

    def _event(self, kind: str, step_id: str | None = None, detail: str = "") -> None:
        self._changes += 1
        self._state.timeline.append(
            TimelineEvent(at=workflow.now(), kind=kind, step_id=step_id, detail=detail)
        )
        workflow.logger.info(
            "case event %s", kind, extra={"case_code": self._state.case_code, "step_id": step_id}
        )

    def _refuse_while_closing(self) -> None:
        if self._closing and self._state.status is CaseStatus.running:
            raise ValueError(f"case {self._state.case_code} is closing; no more changes to steps")

    def _recheck(self, check: Callable[[], object]) -> None:
        """Re-run a validator's rule inside the handler: another Update accepted in the same
        workflow task may have changed the state since the validator ran."""
        try:
            check()
        except ValueError as err:
            raise ApplicationError(str(err), type="InvalidUpdate", non_retryable=True) from err

    def _publish_attributes(self) -> None:
        self._changes += 1
        attributes = case_search_attributes(self._state, self._input)
        changed = {
            name: pair
            for name, pair in attributes.items()
            if name not in self._last_attributes or self._last_attributes[name] != pair[0]
        }
        if changed:
            workflow.upsert_search_attributes([update for _, update in changed.values()])
            self._last_attributes.update({name: value for name, (value, _) in changed.items()})

    def _snapshot(self) -> CaseState:
        snap = self._state.model_copy(deep=True)
        now = workflow.now()
        open_stops = {c.step_id: c.started_at for c in snap.clock_stops if c.ended_at is None}
        for s in snap.steps:
            if s.due_at is not None and s.status in IN_FLIGHT:
                frozen_at = open_stops.get(s.id, now)
                s.remaining_seconds = (s.due_at - frozen_at).total_seconds()
        return snap


def _cause(err: ActivityError) -> str:
    cause = err.cause
    return str(cause) if cause is not None else str(err)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"
