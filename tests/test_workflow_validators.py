"""Every Update validator rejects with a message naming the field and the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflow_support import (
    Departments,
    bundle,
    case_input,
    decision,
    make_settings,
    minutes,
    refused,
    start,
    step,
    wait_for,
    workers,
)
from workflows import rules
from workflows.case import CaseWorkflow
from workflows.models import (
    CaseState,
    CaseStatus,
    Channel,
    DecisionKind,
    RateInput,
    RatingLevel,
    RatingState,
    RectificationState,
    RectificationStatus,
    RectifyInput,
    StepStatus,
    SupplementInput,
    WithdrawInput,
)


async def test_decide_supplement_withdraw_rate_rectify_validators(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step("a", d["one"], limit=minutes(60), extension=minutes(30)),
        step("b", d["two"], limit=minutes(60)),
        step("c", d["three"], depends_on=["a"]),
    )
    settings = make_settings(tmp_path)
    async with workers(time_env.client, settings, definition) as queue:
        handle = await start(time_env.client, queue, case_input(definition))
        await wait_for(handle, lambda s: sum(e.kind == "dispatched" for e in s.timeline) == 2)

        async def decide_refused(step_id: str, dept: str, kind: DecisionKind, **kw: object) -> str:
            return await refused(
                handle.execute_update(CaseWorkflow.decide, decision(step_id, dept, kind, **kw))
            )

        msg = await decide_refused("nope", d["one"], DecisionKind.approve)
        assert "step_id: unknown step 'nope'" in msg and "a, b, c" in msg
        msg = await decide_refused("a", d["two"], DecisionKind.approve)
        assert f"department: an officer of {d['two']} cannot decide step 'a'" in msg
        msg = await decide_refused("c", d["three"], DecisionKind.approve)
        assert "step 'c' is not awaiting a decision (status waiting)" in msg
        assert "reason: required to reject" in await decide_refused(
            "a", d["one"], DecisionKind.reject
        )
        assert "reason: required to extend" in await decide_refused(
            "a", d["one"], DecisionKind.extend
        )
        assert "step 'b' allows no extension" in await decide_refused(
            "b", d["two"], DecisionKind.extend, reason="busy"
        )
        assert "amount: 31 minutes exceeds the allowed extension of 30 minutes" in (
            await decide_refused("a", d["one"], DecisionKind.extend, reason="x", amount=31)
        )
        assert "amount: must be positive" in await decide_refused(
            "a", d["one"], DecisionKind.extend, reason="x", amount=-1
        )
        assert "materials: name the material" in await decide_refused(
            "a", d["one"], DecisionKind.supplement, reason="x"
        )
        assert "no step of this case is waiting for material" in await refused(
            handle.execute_update(CaseWorkflow.supplement, SupplementInput(materials=["x"]))
        )
        assert "only a completed case can be rated" in await refused(
            handle.execute_update(CaseWorkflow.rate, RateInput(level=RatingLevel.satisfied))
        )
        assert "no rectification is open" in await refused(
            handle.execute_update(CaseWorkflow.rectify, RectifyInput(officer_id="o", note="n"))
        )

        # b goes into 补正: deciding it again is refused until the material arrives.
        await handle.execute_update(
            CaseWorkflow.decide,
            decision("b", d["two"], DecisionKind.supplement, reason="blurred", materials=["m1"]),
        )
        assert "not awaiting a decision (status supplementing)" in await decide_refused(
            "b", d["two"], DecisionKind.approve
        )
        assert "step_id: step 'a' is not waiting for material" in await refused(
            handle.execute_update(
                CaseWorkflow.supplement, SupplementInput(materials=["m1"], step_id="a")
            )
        )
        await handle.execute_update(CaseWorkflow.supplement, SupplementInput(materials=["m1"]))

        await handle.execute_update(
            CaseWorkflow.decide, decision("a", d["one"], DecisionKind.approve)
        )
        msg = await decide_refused("a", d["one"], DecisionKind.reject, reason="late")
        assert "step 'a' already has a decision (approved by officer-7)" in msg

        await wait_for(handle, lambda s: s.step("c").status is StepStatus.awaiting_decision)
        for step_id, dept in (("b", d["two"]), ("c", d["three"])):
            await handle.execute_update(
                CaseWorkflow.decide, decision(step_id, dept, DecisionKind.approve)
            )
        await wait_for(handle, lambda s: s.status is CaseStatus.completed)
        assert "already completed" in await refused(
            handle.execute_update(CaseWorkflow.withdraw, WithdrawInput())
        )
        assert "is completed; no more decisions" in await decide_refused(
            "a", d["one"], DecisionKind.approve
        )
        # A good rating closes the case (a second rating is covered by the rating tests).
        await handle.execute_update(CaseWorkflow.rate, RateInput(level=RatingLevel.satisfied))
        await handle.result()


def _state(**overrides: object) -> CaseState:
    now = datetime(2026, 5, 6, tzinfo=UTC)
    values: dict[str, object] = {
        "case_code": "C1",
        "bundle_code": "b",
        "bundle_name": "n",
        "bundle_version": 1,
        "content_hash": "h",
        "region": "510100",
        "channel": Channel.web,
        "submitted_at": now,
        "steps": [],
    }
    values.update(overrides)
    return CaseState.model_validate(values)


def test_rules_refuse_ratings_outside_the_window_and_a_second_rectification() -> None:
    now = datetime(2026, 5, 6, tzinfo=UTC)
    closed = _state(status=CaseStatus.completed, rating_open_until=now - timedelta(minutes=1))
    with pytest.raises(ValueError, match="level: the rating window closed at 2026-05-05"):
        rules.check_rating(closed, RateInput(level=RatingLevel.satisfied), now)
    done = _state(
        status=CaseStatus.completed,
        rating=RatingState(level=RatingLevel.dissatisfied, rated_at=now),
        rectification=RectificationState(
            status=RectificationStatus.done, opened_at=now, due_at=now, done_at=now
        ),
    )
    with pytest.raises(ValueError, match="rectification already done"):
        rules.check_rectify(done, RectifyInput(officer_id="o", note="n"))


def test_rules_refuse_an_extension_after_the_limit() -> None:
    now = datetime(2026, 5, 6, tzinfo=UTC)
    definition = bundle(step("a", "510100.one", limit=minutes(60), extension=minutes(30)))
    state = _state(
        steps=[
            {
                "id": "a",
                "item": "i",
                "department": "510100.one",
                "mode": "manual",
                "depends_on": [],
                "status": StepStatus.awaiting_decision,
                "due_at": now - timedelta(seconds=1),
            }
        ]
    )
    request = decision("a", "510100.one", DecisionKind.extend, reason="late", amount=10)
    with pytest.raises(ValueError, match="an extension must be granted before it"):
        rules.check_decision(state, definition, request, now)
