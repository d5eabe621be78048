"""Outcomes: a rejection withdraws the steps in flight; the applicant's withdrawal; automatic
checks that reject, and ones that cannot run and fall back to an officer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from definitions.schema import Duration, StepMode, TimeUnit
from onething.settings import AdapterConfig
from tests.workflow_support import (
    Departments,
    bundle,
    case_input,
    decision,
    dispatched,
    inbox,
    make_settings,
    notifications,
    start,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import (
    IN_FLIGHT,
    CaseStatus,
    DecisionKind,
    StepStatus,
    WithdrawInput,
)


async def test_rejection_withdraws_steps_in_flight(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step("marriage", d["civil"]),
        step("household", d["police"]),
        step("archive", d["archive"], depends_on=["marriage", "household"]),
    )
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        await wait_for(
            handle,
            lambda s: sum(e.kind == "dispatched" for e in s.timeline) == 2,
        )
        await handle.execute_update(
            CaseWorkflow.decide,
            decision("marriage", d["civil"], DecisionKind.reject, reason="已婚状态不符"),
        )
        result = await handle.result()
    assert result.status is CaseStatus.rejected
    assert result.step("marriage").status is StepStatus.rejected
    assert result.step("marriage").officer_id == "officer-7"
    assert result.step("household").status is StepStatus.withdrawn
    assert result.step("archive").status is StepStatus.cancelled
    rows = {r.step_id: r for r in inbox(settings, request.case_code)}
    assert (rows["marriage"].status, rows["marriage"].outcome) == ("decided", "rejected")
    assert rows["household"].status == "withdrawn"
    assert "已婚状态不符" in rows["household"].withdraw_reason
    sent = {(n.kind, n.recipient) for n in notifications(settings, request.case_code)}
    assert ("withdrawal", d["police"]) in sent
    assert ("delivery", "applicant:app") in sent


async def test_applicant_withdrawal(time_env: WorkflowEnvironment, tmp_path: Path) -> None:
    d = Departments()
    definition = bundle(step("a", d["one"]), step("b", d["two"], depends_on=["a"]))
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        await wait_for(handle, lambda s: any(e.kind == "dispatched" for e in s.timeline))
        s = await handle.execute_update(
            CaseWorkflow.withdraw, WithdrawInput(reason="no longer needed")
        )
        assert s.status is CaseStatus.withdrawn
        result = await handle.result()
    assert result.step("a").status is StepStatus.withdrawn
    assert result.step("b").status is StepStatus.cancelled
    assert not any(st.status in IN_FLIGHT for st in result.steps)
    assert [r.status for r in inbox(settings, request.case_code)] == ["withdrawn"]


async def test_automatic_check_rejects_with_reason(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step("share", d["bigdata"], mode=StepMode.automatic, materials=["id-card"]),
        step("issue", d["market"], depends_on=["share"]),
    )
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        handle = await start(time_env.client, queue, case_input(definition, materials=[]))
        result = await handle.result()
    assert result.status is CaseStatus.rejected
    assert result.step("share").status is StepStatus.rejected
    assert "missing material(s) for this item: id-card" in result.step("share").reason
    assert result.step("issue").status is StepStatus.cancelled


async def test_automatic_check_that_cannot_run_falls_back_to_an_officer(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(step("share", d["bigdata"], mode=StepMode.automatic))
    # An inbox cannot decide by itself: a non-retryable error, so an officer must decide.
    settings = make_settings(tmp_path, **{d["bigdata"]: AdapterConfig(kind="inbox")})
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        s = await wait_for(handle, lambda s: any(e.kind == "dispatched" for e in s.timeline))
        failed = [e for e in s.timeline if e.kind == "automatic_check_failed"]
        assert failed and "cannot decide automatic steps" in failed[0].detail
        assert s.step("share").status is StepStatus.awaiting_decision
        assert [r.step_id for r in inbox(settings, request.case_code)] == ["share"]
        await handle.execute_update(
            CaseWorkflow.decide, decision("share", d["bigdata"], DecisionKind.approve)
        )
        assert (await handle.result()).status is CaseStatus.completed


async def test_missing_calendar_data_holds_only_that_step_visibly(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    # 60 working days from late 2026 reach into 2027, which chinesecalendar 1.11 lacks.
    long_limit = Duration(amount=60, unit=TimeUnit.working_days)
    definition = bundle(step("long", d["plan"], limit=long_limit), step("short", d["fire"]))
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        handle = await start(time_env.client, queue, case_input(definition))
        s = await wait_for(handle, lambda s: dispatched(s, "short"))
        assert s.step("long").status is StepStatus.awaiting_decision
        assert s.step("long").due_at is None
        # The case waits visibly: the deadline activity is pending with the calendar's error.
        failures: list[str] = []
        for _ in range(100):
            description = await handle.describe()
            failures = [
                a.last_failure.message for a in description.raw_description.pending_activities
            ]
            if failures:
                break
            await asyncio.sleep(0.1)
        # The session's time-skipping clock may already be past 2027 (earlier tests skip
        # time), so any year without data will do.
        assert any(
            re.search(r"no working-day calendar data for 20(2[7-9]|[3-9]\d)", f) for f in failures
        )
        for step_id, dept in (("short", d["fire"]), ("long", d["plan"])):
            await handle.execute_update(
                CaseWorkflow.decide, decision(step_id, dept, DecisionKind.approve)
            )
        result = await handle.result()
    assert result.status is CaseStatus.completed
