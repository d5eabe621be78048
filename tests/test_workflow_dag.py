"""DAG order and parallelism, automatic decisions, delivery on completion."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from definitions.schema import StepMode
from onething.search_attributes import (
    CASE_BUNDLE,
    CASE_OVERDUE,
    CASE_STATUS,
    NEXT_DEADLINE,
    PENDING_DEPARTMENTS,
)
from tests.workflow_support import (
    RESIDENT_ID,
    Departments,
    bundle,
    case_input,
    dispatched,
    inbox,
    make_settings,
    notifications,
    start,
    state,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import (
    QUERY_STATE,
    UPDATE_DECIDE,
    CaseState,
    CaseStatus,
    DecisionInput,
    DecisionKind,
    StepStatus,
)


async def test_dag_order_parallelism_and_completion(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step("check", d["bigdata"], mode=StepMode.automatic),
        step("tax", d["tax"], depends_on=["check"]),
        step("social", d["hrss"], depends_on=["check"]),
        step("license", d["market"], depends_on=["tax", "social"]),
    )
    settings = make_settings(tmp_path)
    client = time_env.client
    async with workers(client, settings, definition) as queue:
        request = case_input(definition)
        handle = await start(client, queue, request)

        async def approve(step_id: str, department: str) -> None:
            await handle.execute_update(
                CaseWorkflow.decide,
                DecisionInput(
                    step_id=step_id,
                    decision=DecisionKind.approve,
                    officer_id="officer-1",
                    department=department,
                ),
            )

        # The automatic check decides by itself; then tax and social run in parallel while the
        # license waits for both.
        s = await wait_for(
            handle,
            # Awaiting a decision is set when the dispatch is scheduled; the inbox row exists
            # only once the dispatch activity has completed.
            lambda s: dispatched(s, "tax", "social"),
        )
        assert s.step("tax").status is StepStatus.awaiting_decision
        assert s.step("social").status is StepStatus.awaiting_decision
        assert s.step("check").status is StepStatus.approved
        assert s.step("check").officer_id == f"system:{d['bigdata']}"
        assert s.step("license").status is StepStatus.waiting
        assert {r.step_id for r in inbox(settings, request.case_code)} == {"tax", "social"}

        await approve("tax", d["tax"])
        s = await state(handle)
        assert s.step("license").status is StepStatus.waiting
        await approve("social", d["hrss"])
        s = await wait_for(handle, lambda s: dispatched(s, "license"))
        started, tax_at, social_at = (
            s.step("license").started_at,
            s.step("tax").decided_at,
            s.step("social").decided_at,
        )
        assert started is not None and tax_at is not None and social_at is not None
        assert started >= max(tax_at, social_at)
        # Officers find the case by its search attributes, which carry no personal data.
        attrs = (await handle.describe()).typed_search_attributes
        assert attrs.get(CASE_STATUS) == "running"
        assert attrs.get(PENDING_DEPARTMENTS) == [d["market"]]
        assert attrs.get(CASE_BUNDLE) == "test-bundle"
        assert attrs.get(NEXT_DEADLINE) == s.step("license").due_at
        assert not attrs.get(CASE_OVERDUE)
        flat = repr([(p.key.name, p.value) for p in attrs])
        assert RESIDENT_ID not in flat and "张三" not in flat and "13812345678" not in flat
        # Clients that only know the names (CLI, other languages) reach the same handlers.
        by_name = await handle.query(QUERY_STATE, result_type=CaseState)
        assert by_name.step("license").status is StepStatus.awaiting_decision
        await handle.execute_update(
            UPDATE_DECIDE,
            DecisionInput(
                step_id="license",
                decision=DecisionKind.approve,
                officer_id="officer-2",
                department=d["market"],
            ),
            result_type=CaseState,
        )
        result = await handle.result()
    assert result.status is CaseStatus.completed
    rows = {r.step_id: (r.status, r.outcome) for r in inbox(settings, request.case_code)}
    assert rows == {
        "tax": ("decided", "approved"),
        "social": ("decided", "approved"),
        "license": ("decided", "approved"),
    }
    kinds = [e.kind for e in result.timeline]
    assert kinds.index("approved") < kinds.index("completed")
    deliveries = [n for n in notifications(settings, request.case_code) if n.kind == "delivery"]
    assert {n.recipient for n in deliveries} == {"applicant:app", "applicant:sms"}


def test_update_and_query_names_are_the_published_constants() -> None:
    from workflows import models

    handlers = vars(CaseWorkflow)
    for name in (
        models.UPDATE_DECIDE,
        models.UPDATE_SUPPLEMENT,
        models.UPDATE_WITHDRAW,
        models.UPDATE_RATE,
        models.UPDATE_RECTIFY,
        models.QUERY_STATE,
    ):
        assert handlers[name].__name__ == name
