"""Helpers for the case-workflow tests: bundles built in code with minute/hour limits, unique
department codes per test (so each test has its own department queues), and workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from definitions.schema import (
    ApplicantType,
    Bundle,
    BundleKind,
    Duration,
    Escalation,
    OnTimeout,
    Step,
    StepMode,
    TimeUnit,
)
from onething.db import session_scope
from onething.identifiers import resident_id_check_char
from onething.models import DepartmentInbox, Notification
from onething.search_attributes import ALL_KEYS
from onething.settings import AdapterConfig, Settings
from workers import build_department_worker, build_orchestrator_worker
from workflows.case import CaseWorkflow
from workflows.models import (
    Applicant,
    CaseInput,
    CaseState,
    Channel,
    DecisionInput,
    DecisionKind,
    IdType,
    PinnedBundle,
)

RESIDENT_ID = "11010519491231002" + resident_id_check_char("11010519491231002")


def minutes(n: int) -> Duration:
    return Duration(amount=n, unit=TimeUnit.minutes)


def hours(n: int) -> Duration:
    return Duration(amount=n, unit=TimeUnit.hours)


class Departments:
    """Department codes unique to one test: ``depts["market"]`` -> ``510100.t1a2b3c-market``."""

    def __init__(self) -> None:
        self.tag = "t" + uuid.uuid4().hex[:8]

    def __getitem__(self, name: str) -> str:
        return f"510100.{self.tag}-{name}"


def step(
    step_id: str,
    department: str,
    *,
    mode: StepMode = StepMode.manual,
    depends_on: list[str] | None = None,
    limit: Duration | None = None,
    warn_before: Duration | None = None,
    on_timeout: OnTimeout = OnTimeout.escalate,
    escalation: Escalation | None = None,
    extension: Duration | None = None,
    materials: list[str] | None = None,
) -> Step:
    return Step(
        id=step_id,
        item=f"事项 {step_id}",
        department=department,
        mode=mode,
        depends_on=depends_on or [],
        materials=materials or [],
        time_limit=limit or hours(2),
        warn_before=warn_before,
        on_timeout=on_timeout,
        escalation=escalation,
        extension=extension,
    )


def bundle(*steps: Step, promised: Duration | None = None) -> Bundle:
    return Bundle(
        code="test-bundle",
        abbr="TB",
        name="测试一件事",
        kind=BundleKind.personal,
        applicant_type=ApplicantType.person,
        promised_limit=promised or hours(24),
        steps=list(steps),
    )


def case_input(definition: Bundle, **overrides: Any) -> CaseInput:
    code = "TC" + uuid.uuid4().hex[:12].upper()
    values: dict[str, Any] = {
        "case_code": code,
        "bundle": PinnedBundle(
            code=definition.code, version=1, content_hash="0" * 64, definition=definition
        ),
        "applicant": Applicant(
            id_type=IdType.resident_id, id_number=RESIDENT_ID, name="张三", phone="13812345678"
        ),
        "form": {"purpose": "test"},
        "materials": [],
        "region": "510100",
        "channel": Channel.app,
        "request_id": "req-" + code,
        "submitted_at": datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
        # The session's time-skipping server only moves forward: day-long windows would soon
        # carry it past the years the working-day calendar knows.
        "rating_window": hours(1),
        "rectification_limit": hours(4),
    }
    values.update(overrides)
    return CaseInput(**values)


def make_settings(tmp_path: Path, **adapters: AdapterConfig) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        department_adapters=dict(adapters),
    )


async def register_search_attributes(client: Client) -> None:
    """The time-skipping server knows no custom search attributes until told (the dev server
    fixture registers them at start); it cannot list them, so adding twice is tolerated."""
    if id(client) in _registered:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                    for key in ALL_KEYS
                },
            )
        )
    except RPCError as err:
        if err.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
    _registered.add(id(client))


_registered: set[int] = set()


@asynccontextmanager
async def workers(client: Client, settings: Settings, definition: Bundle) -> AsyncIterator[str]:
    """Run the orchestrator (uuid queue) and every department of ``definition``; yields the
    orchestrator queue."""
    await register_search_attributes(client)
    queue = "orch-" + uuid.uuid4().hex
    all_workers: list[Worker] = [
        build_orchestrator_worker(client, settings=settings, task_queue=queue)
    ]
    for department in sorted({s.department for s in definition.steps}):
        all_workers.append(
            build_department_worker(client, settings=settings, department_code=department)
        )
    async with AsyncExitStack() as stack:
        for worker in all_workers:
            await stack.enter_async_context(worker)
        yield queue


async def start(
    client: Client, queue: str, request: CaseInput
) -> WorkflowHandle[CaseWorkflow, CaseState]:
    return await client.start_workflow(
        CaseWorkflow.run,
        request,
        id=request.case_code,
        task_queue=queue,
        execution_timeout=timedelta(days=60),
    )


async def state(handle: WorkflowHandle[CaseWorkflow, CaseState]) -> CaseState:
    return await handle.query(CaseWorkflow.state)


def notifications(settings: Settings, case_code: str) -> list[Notification]:
    with session_scope(settings.database_url) as session:
        rows = session.exec(
            select(Notification)
            .where(Notification.case_code == case_code)
            .order_by(Notification.created_at)  # type: ignore[arg-type]  # SQLModel column typing
        )
        return list(rows)


def inbox(settings: Settings, case_code: str) -> list[DepartmentInbox]:
    with session_scope(settings.database_url) as session:
        return list(
            session.exec(select(DepartmentInbox).where(DepartmentInbox.case_code == case_code))
        )


async def wait_for(
    handle: WorkflowHandle[CaseWorkflow, CaseState],
    predicate: Callable[[CaseState], bool],
    *,
    seconds: float = 20.0,
) -> CaseState:
    """Poll the state in real time (activities finishing) until ``predicate`` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        current = await state(handle)
        if predicate(current):
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                "state never reached; timeline: "
                + "; ".join(f"{e.kind}:{e.step_id}" for e in current.timeline)
            )
        await asyncio.sleep(0.1)


def decision(step_id: str, department: str, kind: DecisionKind, **fields: Any) -> DecisionInput:
    return DecisionInput(
        step_id=step_id, decision=kind, officer_id="officer-7", department=department, **fields
    )


async def refused(update: Awaitable[Any]) -> str:
    """Run an Update expected to be rejected; return the rejection message."""
    try:
        await update
    except WorkflowUpdateFailedError as err:
        return str(err.cause)
    raise AssertionError("the update was accepted")


def dispatched(current: CaseState, *step_ids: str) -> bool:
    """Every step named has reached its department (its dispatch activity completed)."""
    done = {e.step_id for e in current.timeline if e.kind == "dispatched"}
    return all(step_id in done for step_id in step_ids)
