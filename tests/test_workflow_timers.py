"""Timers: warning (预警), escalation level 1 (督办) and 2 (提级), deemed approval (承诺制) and
rejection when the limit passes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from definitions.schema import Escalation, OnTimeout
from onething.search_attributes import CASE_OVERDUE
from tests.workflow_support import (
    Departments,
    bundle,
    case_input,
    decision,
    inbox,
    make_settings,
    minutes,
    notifications,
    start,
    state,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import GOV_SERVICE_OFFICE, CaseStatus, DecisionKind, StepStatus


async def test_warning_then_supervision_then_escalation(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step(
            "permit",
            d["police"],
            limit=minutes(60),
            warn_before=minutes(10),
            escalation=Escalation(supervise_after=minutes(30), elevate_after=minutes(60)),
        )
    )
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        s = await wait_for(handle, lambda s: s.step("permit").due_at is not None)
        started = s.step("permit").started_at
        assert started is not None
        assert s.step("permit").due_at == started + timedelta(minutes=60)

        await time_env.sleep(timedelta(minutes=45))
        s = await state(handle)
        assert not s.step("permit").warned
        await time_env.sleep(timedelta(minutes=6))  # 51 min: 10 minutes before the limit
        s = await wait_for(handle, lambda s: s.step("permit").warned)
        assert s.step("permit").escalation_level == 0
        assert not s.step("permit").overdue

        await time_env.sleep(timedelta(minutes=10))  # 61 min: overdue, not yet supervised
        s = await wait_for(handle, lambda s: s.step("permit").overdue)
        assert s.step("permit").escalation_level == 0
        attrs = (await handle.describe()).typed_search_attributes
        assert attrs.get(CASE_OVERDUE) is True
        assert s.step("permit").status is StepStatus.awaiting_decision

        await time_env.sleep(timedelta(minutes=30))  # 91 min: level 1 督办
        s = await wait_for(handle, lambda s: s.step("permit").escalation_level == 1)
        await time_env.sleep(timedelta(minutes=50))  # 141 min: level 2 not before 150
        assert (await state(handle)).step("permit").escalation_level == 1
        await time_env.sleep(timedelta(minutes=10))  # 151 min: level 2 提级
        s = await wait_for(handle, lambda s: s.step("permit").escalation_level == 2)
        assert s.step("permit").status is StepStatus.awaiting_decision  # keeps waiting

        sent = {(n.kind, n.recipient) for n in notifications(settings, request.case_code)}
        assert ("warning", d["police"]) in sent
        assert ("supervision", f"{d['police']}#supervisor") in sent
        assert ("escalation", GOV_SERVICE_OFFICE) in sent
        at = {e.kind: e.at for e in s.timeline if e.step_id == "permit"}
        # Timers fire at their instant; the event is stamped by the task that handles it.
        for kind, offset in (("warning", 50), ("supervision", 90), ("escalation", 150)):
            assert abs(at[kind] - started - timedelta(minutes=offset)) < timedelta(seconds=5)

        # The officer can still decide after escalation; the case then completes.
        await handle.execute_update(
            CaseWorkflow.decide, decision("permit", d["police"], DecisionKind.approve)
        )
        result = await handle.result()
    assert result.status is CaseStatus.completed
    assert result.step("permit").escalation_level == 2


async def test_deemed_approval_when_the_limit_passes(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step("promise", d["commerce"], limit=minutes(30), on_timeout=OnTimeout.deem_approved),
        step("pay", d["finance"], depends_on=["promise"], limit=minutes(30)),
    )
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        await wait_for(handle, lambda s: s.step("promise").due_at is not None)
        await time_env.sleep(timedelta(minutes=31))
        s = await wait_for(handle, lambda s: s.step("pay").status is StepStatus.awaiting_decision)
        promise = s.step("promise")
        assert promise.status is StepStatus.deemed_approved
        assert promise.officer_id is None
        assert "承诺制" in promise.reason
        await handle.execute_update(
            CaseWorkflow.decide, decision("pay", d["finance"], DecisionKind.approve)
        )
        assert (await handle.result()).status is CaseStatus.completed
    # 承诺制: the department is told its step counts as approved.
    rows = {r.step_id: (r.status, r.outcome) for r in inbox(settings, request.case_code)}
    assert rows["promise"] == ("decided", "deemed_approved")


async def test_reject_on_timeout_rejects_the_case_and_withdraws_the_rest(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step("strict", d["traffic"], limit=minutes(20), on_timeout=OnTimeout.reject),
        step("slow", d["tax"], limit=minutes(120)),
        step("after", d["market"], depends_on=["strict"]),
    )
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(time_env.client, queue, request)
        await wait_for(
            handle, lambda s: all(x.due_at for x in s.steps if x.id in ("strict", "slow"))
        )
        await time_env.sleep(timedelta(minutes=21))
        result = await handle.result()
    assert result.status is CaseStatus.rejected
    assert result.step("strict").status is StepStatus.rejected
    assert "time limit passed" in result.step("strict").reason
    assert result.step("slow").status is StepStatus.withdrawn
    assert result.step("after").status is StepStatus.cancelled
    rows = {r.step_id: (r.status, r.outcome) for r in inbox(settings, request.case_code)}
    # The department learns that its step was rejected by the clock.
    assert rows == {"strict": ("decided", "rejected"), "slow": ("withdrawn", "")}
