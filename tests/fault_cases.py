"""Bundles, scenarios and the officers' driver of the fault-tolerance test.

Three departments, unique to the test: ``http`` reaches its own system through the HTTP adapter
(manual and automatic steps), ``inbox`` and ``local`` use the built-in inbox for manual steps
and the rules for automatic ones. Each scenario says which decisions the officers send and
what every step must end as."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from definitions.schema import ApplicantType, Bundle, BundleKind, Step, StepMode
from tests.casekit import unique_abbr
from tests.workflow_support import Departments, hours, step
from workflows.case import CaseWorkflow
from workflows.models import (
    CaseState,
    CaseStatus,
    DecisionInput,
    DecisionKind,
    RateInput,
    RatingLevel,
    StepStatus,
)

T = TypeVar("T")
APPROVED, REJECTED = StepStatus.approved, StepStatus.rejected
WITHDRAWN, CANCELLED = StepStatus.withdrawn, StepStatus.cancelled
# Faults are expected; only this kind of failure is retried by the driver.
TRANSIENT = (RPCError, TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError)


@dataclass(frozen=True)
class Decision:
    step_id: str
    kind: DecisionKind
    # Steps whose dispatch must be recorded in the case first: a reject that should withdraw a
    # step from a department waits until the department really has it.
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    bundle: Bundle
    decisions: tuple[Decision, ...]
    outcome: CaseStatus
    steps: dict[str, StepStatus]


class FaultDepartments(Departments):
    @property
    def codes(self) -> list[str]:
        return [self["http"], self["inbox"], self["local"]]


def _bundle(name: str, *steps: Step) -> Bundle:
    return Bundle(
        code=f"fault-{name}-{uuid.uuid4().hex[:6]}",
        abbr=unique_abbr(),
        name=f"故障测试 {name}",
        kind=BundleKind.personal,
        applicant_type=ApplicantType.person,
        promised_limit=hours(24),
        steps=list(steps),
    )


def scenarios(d: FaultDepartments) -> list[Scenario]:
    """Four bundles; each list entry below is one way officers handle a case of a bundle."""
    auto = StepMode.automatic
    seq = _bundle(
        "seq", step("s1", d["inbox"]), step("s2", d["http"], mode=auto, depends_on=["s1"])
    )
    par = _bundle(
        "par",
        step("p1", d["http"]),
        step("p2", d["inbox"]),
        step("p3", d["local"], mode=auto, depends_on=["p1", "p2"]),
    )
    first = _bundle(
        "auto", step("a1", d["local"], mode=auto), step("a2", d["http"], depends_on=["a1"])
    )
    mix = _bundle(
        "mix",
        step("m1", d["http"], mode=auto),
        step("m2", d["local"]),
        step("m3", d["inbox"], depends_on=["m1", "m2"]),
    )
    ok, no = DecisionKind.approve, DecisionKind.reject
    done, rejected = CaseStatus.completed, CaseStatus.rejected
    return [
        Scenario("seq-ok", seq, (Decision("s1", ok),), done, {"s1": APPROVED, "s2": APPROVED}),
        Scenario("seq-no", seq, (Decision("s1", no),), rejected, {"s1": REJECTED, "s2": CANCELLED}),
        Scenario(
            "par-ok",
            par,
            (Decision("p1", ok), Decision("p2", ok)),
            done,
            {"p1": APPROVED, "p2": APPROVED, "p3": APPROVED},
        ),
        # Rejected at one department while the other has the step: the other's is withdrawn.
        Scenario(
            "par-withdraw-http",
            par,
            (Decision("p2", no, after=("p1",)),),
            rejected,
            {"p1": WITHDRAWN, "p2": REJECTED, "p3": CANCELLED},
        ),
        Scenario(
            "par-withdraw-inbox",
            par,
            (Decision("p1", no, after=("p2",)),),
            rejected,
            {"p1": REJECTED, "p2": WITHDRAWN, "p3": CANCELLED},
        ),
        Scenario("auto-ok", first, (Decision("a2", ok),), done, {"a1": APPROVED, "a2": APPROVED}),
        Scenario(
            "auto-no", first, (Decision("a2", no),), rejected, {"a1": APPROVED, "a2": REJECTED}
        ),
        Scenario(
            "mix-ok",
            mix,
            (Decision("m2", ok), Decision("m3", ok)),
            done,
            {"m1": APPROVED, "m2": APPROVED, "m3": APPROVED},
        ),
        Scenario(
            "mix-no",
            mix,
            (Decision("m2", ok), Decision("m3", no)),
            rejected,
            {"m1": APPROVED, "m2": APPROVED, "m3": REJECTED},
        ),
    ]


def dispatched_steps(state: CaseState) -> set[str]:
    return {e.step_id for e in state.timeline if e.kind == "dispatched" and e.step_id}


def _all_dispatched(step_ids: set[str]) -> Callable[[CaseState], bool]:
    return lambda state: step_ids <= dispatched_steps(state)


@dataclass
class Driver:
    """The officers: for each case, wait until the case shows its steps dispatched, send the
    scenario's decisions as Updates, rate completed cases so they close, and fetch the result.
    Every call is retried on connection errors and timeouts until ``deadline`` (loop time)."""

    client: Client
    deadline: float
    concurrency: int = 12
    decisions: int = 0
    finished: int = 0
    transient_errors: int = 0
    results: dict[str, CaseState] = field(default_factory=dict)

    async def run(self, cases: dict[str, Scenario]) -> dict[str, CaseState]:
        # A bounded number of cases at a time, so work is still open when each fault strikes.
        gate = asyncio.Semaphore(self.concurrency)

        async def one(code: str, scenario: Scenario) -> None:
            async with gate:
                self.results[code] = await self.drive(code, scenario)
                self.finished += 1

        await asyncio.gather(*(one(code, s) for code, s in cases.items()))
        return self.results

    async def drive(self, code: str, scenario: Scenario) -> CaseState:
        handle = self.client.get_workflow_handle_for(CaseWorkflow.run, code)
        for decision in scenario.decisions:
            needed = {decision.step_id, *decision.after}
            await self._until(handle, _all_dispatched(needed), f"{sorted(needed)} dispatched")
            await self._decide(handle, scenario, decision)
        final = await self._until(handle, lambda s: s.status is not CaseStatus.running, "closed")
        if final.status is CaseStatus.completed:
            await self._retrying(
                f"{code}: rate",
                lambda: handle.execute_update(
                    CaseWorkflow.rate,
                    RateInput(level=RatingLevel.satisfied),
                    id=f"{code}:rate",
                    rpc_timeout=timedelta(seconds=5),
                ),
            )
        return await self._retrying(
            f"{code}: result", lambda: handle.result(rpc_timeout=timedelta(seconds=5))
        )

    async def _decide(
        self,
        handle: WorkflowHandle[CaseWorkflow, CaseState],
        scenario: Scenario,
        decision: Decision,
    ) -> None:
        department = next(s.department for s in scenario.bundle.steps if s.id == decision.step_id)
        request = DecisionInput(
            step_id=decision.step_id,
            decision=decision.kind,
            officer_id="officer-fault",
            department=department,
            reason="故障测试: 不予许可" if decision.kind is DecisionKind.reject else "",
        )
        try:
            # A fixed Update id: a retry of an Update the server already completed returns its
            # outcome instead of deciding twice.
            await self._retrying(
                f"{handle.id}: decide {decision.step_id}",
                lambda: handle.execute_update(
                    CaseWorkflow.decide,
                    request,
                    id=f"{handle.id}:{decision.step_id}:{decision.kind.value}",
                    rpc_timeout=timedelta(seconds=5),
                ),
            )
        except WorkflowUpdateFailedError as err:
            raise AssertionError(
                f"{handle.id}: decide {decision.step_id} refused: {err.cause}"
            ) from err
        self.decisions += 1

    async def _until(
        self,
        handle: WorkflowHandle[CaseWorkflow, CaseState],
        ok: Callable[[CaseState], bool],
        what: str,
    ) -> CaseState:
        while True:
            state = await self._retrying(
                f"{handle.id}: query",
                lambda: handle.query(CaseWorkflow.state, rpc_timeout=timedelta(seconds=5)),
            )
            if ok(state):
                return state
            if asyncio.get_running_loop().time() > self.deadline:
                timeline = "; ".join(f"{e.kind}:{e.step_id}" for e in state.timeline)
                raise AssertionError(f"{handle.id}: never {what}; timeline: {timeline}")
            # Each query costs the orchestrator a workflow-cache lookup; a second is officer-fast.
            await asyncio.sleep(1.0)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        while True:
            try:
                return await asyncio.wait_for(call(), 10)
            except TRANSIENT as err:
                self.transient_errors += 1
                if loop.time() > self.deadline:
                    raise AssertionError(f"{what}: still failing at the deadline: {err!r}") from err
                await asyncio.sleep(0.5)
