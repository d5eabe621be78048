"""好差评: rating within the window after completion, and the rectification of a bad rating
with its own limit and escalation when overdue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.workflow_support import (
    Departments,
    bundle,
    case_input,
    decision,
    make_settings,
    notifications,
    refused,
    start,
    state,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import (
    GOV_SERVICE_OFFICE,
    CaseState,
    CaseStatus,
    DecisionKind,
    RateInput,
    RatingLevel,
    RectificationStatus,
    RectifyInput,
)


async def _complete(handle: WorkflowHandle[CaseWorkflow, CaseState], department: str) -> None:
    await wait_for(handle, lambda s: any(e.kind == "dispatched" for e in s.timeline))
    await handle.execute_update(
        CaseWorkflow.decide, decision("only", department, DecisionKind.approve)
    )
    await wait_for(handle, lambda s: s.status is CaseStatus.completed)


async def test_bad_rating_opens_rectification_that_escalates_when_overdue(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(step("only", d["civil"]))
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)  # rating window 1 hour, rectification 4 hours
        handle = await start(time_env.client, queue, request)
        await _complete(handle, d["civil"])
        s = await handle.execute_update(
            CaseWorkflow.rate,
            RateInput(level=RatingLevel.very_dissatisfied, comment="窗口推诿"),
        )
        assert s.rating is not None and s.rating.level is RatingLevel.very_dissatisfied
        rect = s.rectification
        assert rect is not None and rect.status is RectificationStatus.open
        assert rect.due_at - rect.opened_at == timedelta(hours=4)
        assert "already rated (非常不满意); one rating per case" in await refused(
            handle.execute_update(CaseWorkflow.rate, RateInput(level=RatingLevel.satisfied))
        )

        # Past the rating window the case stays open for the rectification...
        await time_env.sleep(timedelta(hours=2))
        assert not (await state(handle)).rectification.overdue  # type: ignore[union-attr]  # opened above
        # ...and past its limit it is overdue and escalated to the service office.
        await time_env.sleep(timedelta(hours=3))
        s = await wait_for(
            handle, lambda s: s.rectification is not None and s.rectification.overdue
        )
        assert s.rectification is not None and s.rectification.escalation_level == 1
        sent = {(n.kind, n.recipient) for n in notifications(settings, request.case_code)}
        assert ("rectification", GOV_SERVICE_OFFICE) in sent
        assert ("supervision", GOV_SERVICE_OFFICE) in sent

        await handle.execute_update(
            CaseWorkflow.rectify, RectifyInput(officer_id="officer-9", note="已回访并整改")
        )
        result = await handle.result()
    assert result.rectification is not None
    assert result.rectification.status is RectificationStatus.done
    assert result.rectification.officer_id == "officer-9"
    kinds = [e.kind for e in result.timeline if e.kind.startswith("rect") or e.kind == "rated"]
    assert kinds == ["rated", "rectification_opened", "rectification_overdue", "rectified"]


async def test_good_rating_closes_the_case(time_env: WorkflowEnvironment, tmp_path: Path) -> None:
    d = Departments()
    definition = bundle(step("only", d["civil"]))
    async with workers(time_env.client, make_settings(tmp_path), definition) as queue:
        handle = await start(time_env.client, queue, case_input(definition))
        await _complete(handle, d["civil"])
        await handle.execute_update(
            CaseWorkflow.rate, RateInput(level=RatingLevel.basically_satisfied)
        )
        result = await handle.result()
    assert result.rating is not None and result.rating.level is RatingLevel.basically_satisfied
    assert result.rectification is None


async def test_case_closes_when_the_rating_window_passes(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(step("only", d["civil"]))
    async with workers(time_env.client, make_settings(tmp_path), definition) as queue:
        handle = await start(time_env.client, queue, case_input(definition))
        await _complete(handle, d["civil"])
        s = await state(handle)
        assert s.rating_open_until is not None and s.closed_at is not None
        assert s.rating_open_until - s.closed_at <= timedelta(hours=1)
        result = await handle.result()  # time skips past the 1-hour window
    assert result.status is CaseStatus.completed and result.rating is None
