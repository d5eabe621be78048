"""Cases on the dev server with in-process workers: listing by search attributes, and a
department worker stopped and restarted mid-case."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from onething import caseops
from onething.db import session_scope
from onething.settings import Settings
from onething.submission import submit_case
from tests.casekit import (
    GOOD_FORM,
    department,
    eventually,
    orchestrator,
    publish,
    resident_id,
    running,
    settings_for,
    small_bundle,
    unique_department,
)
from workflows.models import CaseState, CaseStatus, DecisionInput, DecisionKind, StepStatus

APPLICANT_ID = resident_id(birth="19850615", seq="456")
APPLICANT_NAME = "孙八"


async def _submit(
    client: Client, settings: Settings, db_url: str, bundle_code: str, task_queue: str
) -> str:
    with session_scope(db_url) as session:
        result = await submit_case(
            client,
            session,
            settings=settings,
            bundle_code=bundle_code,
            applicant_id=APPLICANT_ID,
            applicant_name=APPLICANT_NAME,
            form=GOOD_FORM,
            materials=["id-card"],
            task_queue=task_queue,
        )
    return result.case_code


def _decision(kind: DecisionKind, dept: str, reason: str = "") -> DecisionInput:
    return DecisionInput(
        step_id="approve", decision=kind, officer_id="officer-7", department=dept, reason=reason
    )


async def _state(client: Client, code: str) -> CaseState:
    return await caseops.case_state(client, code)


async def _listed(client: Client, **filters: object) -> set[str]:
    query = caseops.list_query(**filters)  # type: ignore[arg-type]  # filters are typed keywords
    return {r.case_code for r in await caseops.list_cases(client, query=query)}


async def test_list_cases_by_search_attributes(dev_env: WorkflowEnvironment, db_url: str) -> None:
    client = dev_env.client
    settings = settings_for(client, db_url)
    manual, auto = unique_department("a"), unique_department("b")
    first = small_bundle(manual_dept=manual, auto_dept=auto)
    second = small_bundle(manual_dept=manual, auto_dept=auto)
    publish(db_url, first)
    publish(db_url, second)
    tq = f"tq-{uuid.uuid4()}"
    workers = [
        orchestrator(client, settings, tq),
        department(client, settings, manual),
        department(client, settings, auto),
    ]
    async with running(workers):
        done = await _submit(client, settings, db_url, first.code, tq)
        refused = await _submit(client, settings, db_url, first.code, tq)
        waiting = await _submit(client, settings, db_url, second.code, tq)
        all_three = {done, refused, waiting}

        async def pending_at_manual() -> set[str]:
            return await _listed(client, department=manual)

        await eventually(pending_at_manual, lambda s: s == all_three, what="three pending cases")

        await caseops.decide(client, done, _decision(DecisionKind.approve, manual))
        await caseops.decide(
            client, refused, _decision(DecisionKind.reject, manual, "材料不符合要求")
        )

        async def completed() -> CaseState:
            return await _state(client, done)

        await eventually(completed, lambda s: s.status is CaseStatus.completed, what="completed")

        async def filtered() -> tuple[set[str], ...]:
            return (
                await _listed(client, status="completed", bundle=first.code),
                await _listed(client, status="rejected", bundle=first.code),
                await _listed(client, status="running", bundle=second.code),
                await _listed(client, department=manual),
                await _listed(client, bundle=first.code),
            )

        expected = ({done}, {refused}, {waiting}, {waiting}, {done, refused})
        await eventually(filtered, lambda got: got == expected, what="filtered lists")

        rows = await caseops.list_cases(client, query=caseops.list_query(bundle=second.code))
        [row] = rows
        assert (row.status, row.bundle, row.pending_departments) == (
            "running",
            second.code,
            [manual],
        )
        assert row.deadline is not None and row.overdue is False
        # Search attributes are stored in plain text: no personal data may be among them.
        desc = await client.get_workflow_handle(waiting).describe()
        raw = repr(desc.typed_search_attributes)
        assert APPLICANT_ID not in raw and APPLICANT_NAME not in raw


async def test_department_worker_restarted_mid_case_finishes_it(
    dev_env: WorkflowEnvironment, db_url: str
) -> None:
    client = dev_env.client
    settings = settings_for(client, db_url)
    manual, auto = unique_department("a"), unique_department("b")
    b = small_bundle(manual_dept=manual, auto_dept=auto)
    publish(db_url, b)
    tq = f"tq-{uuid.uuid4()}"
    async with running([orchestrator(client, settings, tq), department(client, settings, manual)]):
        first_auto = department(client, settings, auto)
        async with running([first_auto]):
            code = await _submit(client, settings, db_url, b.code, tq)

            async def approve_step() -> CaseState:
                return await _state(client, code)

            await eventually(
                approve_step,
                lambda s: s.step("approve").status is StepStatus.awaiting_decision,
                what="manual step dispatched",
            )
        # The automatic department's worker is gone; the approval schedules its check anyway.
        await caseops.decide(client, code, _decision(DecisionKind.approve, manual))
        await asyncio.sleep(2)
        state = await _state(client, code)
        assert state.step("check").status is StepStatus.checking
        assert state.status is CaseStatus.running

        async with running([department(client, settings, auto)]):

            async def finished() -> CaseState:
                return await _state(client, code)

            state = await eventually(
                finished, lambda s: s.status is CaseStatus.completed, what="case completed"
            )
        assert state.step("check").status is StepStatus.approved
        assert [e.kind for e in state.timeline].count("step_started") == 2


def test_list_query_uses_only_search_attributes() -> None:
    assert caseops.list_query() == "WorkflowType = 'CaseWorkflow'"
    query = caseops.list_query(
        status="running", bundle="marriage-hukou", department="510000.market", overdue=True
    )
    assert query == (
        "WorkflowType = 'CaseWorkflow' AND OnethingStatus = 'running' AND "
        "OnethingBundle = 'marriage-hukou' AND OnethingPendingDepartments = '510000.market' "
        "AND OnethingOverdue = true"
    )
    # A quote in a value could end the literal and smuggle in another condition.
    with pytest.raises(ValueError, match="bundle"):
        caseops.list_query(bundle="x' OR 1=1")
