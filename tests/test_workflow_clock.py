"""补正 clock stops (the deadline moves by exactly the stopped time) and 延期 extensions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.workflow_support import (
    Departments,
    bundle,
    case_input,
    decision,
    make_settings,
    minutes,
    notifications,
    refused,
    start,
    state,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import CaseStatus, DecisionKind, StepStatus, SupplementInput


async def test_supplement_stops_the_clock_and_restarts_with_the_remaining_budget(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(step("review", d["housing"], limit=minutes(60)), promised=minutes(120))
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        s = await wait_for(handle, lambda s: s.step("review").due_at is not None)
        first_due = s.step("review").due_at
        promised_due = s.promised_due_at
        assert first_due is not None and promised_due is not None

        await time_env.sleep(timedelta(minutes=20))
        s = await handle.execute_update(
            CaseWorkflow.decide,
            decision(
                "review",
                d["housing"],
                DecisionKind.supplement,
                reason="income proof unreadable",
                materials=["income-proof"],
            ),
        )
        assert s.step("review").status is StepStatus.supplementing
        assert len(s.clock_stops) == 1 and s.clock_stops[0].ended_at is None
        remaining = s.step("review").remaining_seconds
        assert remaining is not None

        # Far past the original deadline: nothing fires while the clock is stopped.
        await time_env.sleep(timedelta(minutes=90))
        s = await state(handle)
        assert not s.step("review").overdue and not s.overdue
        assert s.step("review").remaining_seconds == remaining  # frozen

        assert "still needs income-proof" in await refused(
            handle.execute_update(CaseWorkflow.supplement, SupplementInput(materials=["other"]))
        )
        s = await handle.execute_update(
            CaseWorkflow.supplement, SupplementInput(materials=["income-proof"])
        )
        stop = s.clock_stops[0]
        assert stop.ended_at is not None and "income proof unreadable" in stop.reason
        stopped = stop.ended_at - stop.started_at
        assert stopped >= timedelta(minutes=90)
        assert s.step("review").due_at == first_due + stopped
        assert s.promised_due_at == promised_due + stopped
        assert s.step("review").status is StepStatus.awaiting_decision
        assert "income-proof" in s.materials

        # The restarted clock runs out at the moved deadline, not before.
        await time_env.sleep(timedelta(minutes=39))
        assert not (await state(handle)).step("review").overdue
        await time_env.sleep(timedelta(minutes=2))
        await wait_for(handle, lambda s: s.step("review").overdue)
        await handle.execute_update(
            CaseWorkflow.decide, decision("review", d["housing"], DecisionKind.approve)
        )
        result = await handle.result()
    assert result.status is CaseStatus.completed
    kinds = {n.kind for n in notifications(settings, request.case_code)}
    assert "supplement_requested" in kinds


async def test_extension_once_with_reason(time_env: WorkflowEnvironment, tmp_path: Path) -> None:
    d = Departments()
    definition = bundle(step("permit", d["sci"], limit=minutes(60), extension=minutes(30)))
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        handle = await start(time_env.client, queue, case_input(definition))
        s = await wait_for(handle, lambda s: s.step("permit").due_at is not None)
        due = s.step("permit").due_at
        assert due is not None
        s = await handle.execute_update(
            CaseWorkflow.decide,
            decision("permit", d["sci"], DecisionKind.extend, reason="expert review", amount=20),
        )
        assert s.step("permit").due_at == due + timedelta(minutes=20)
        assert s.step("permit").extension_used
        assert s.step("permit").status is StepStatus.awaiting_decision
        assert "already extended once" in await refused(
            handle.execute_update(
                CaseWorkflow.decide,
                decision("permit", d["sci"], DecisionKind.extend, reason="again", amount=5),
            )
        )
        # Not overdue at the old deadline, overdue after the extended one.
        await time_env.sleep(timedelta(minutes=65))
        assert not (await state(handle)).step("permit").overdue
        await time_env.sleep(timedelta(minutes=16))
        await wait_for(handle, lambda s: s.step("permit").overdue)
        await handle.execute_update(
            CaseWorkflow.decide, decision("permit", d["sci"], DecisionKind.approve)
        )
        assert (await handle.result()).status is CaseStatus.completed
