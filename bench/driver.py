"""The officers and applicants of the benchmark: start cases, approve each manual step once it
reaches the department inbox, rate the case once its result is delivered.

Officers learn of work the way the built-in inbox adapter shows it (rows in
``department_inbox``) and the driver learns of delivery from the ``notification`` rows, so both
workflows are driven by the same observations and no polling reaches the workflows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from bench.baseline import BASELINE_NAME
from bench.scenario import MANUAL_STEPS, Scenario
from onething.db import session_scope
from onething.models import DepartmentInbox, InboxStatus, Notification
from workflows.models import (
    UPDATE_DECIDE,
    UPDATE_RATE,
    WORKFLOW_NAME,
    CaseInput,
    DecisionInput,
    DecisionKind,
    RateInput,
    RatingLevel,
)

POLL_SECONDS = 0.025
RATE_ATTEMPTS = 30
RATE_FIRST_PAUSE = 0.05
# A stuck round (a worker that died, a workflow task failing) ends the run with an error.
ROUND_TIMEOUT_BASE = 60.0
ROUND_TIMEOUT_PER_CASE = 2.0
EXECUTION_TIMEOUT = timedelta(days=90)


@dataclass
class Side:
    """One of the two workflows under test and the task queue its worker serves."""

    name: str
    workflow: str
    task_queue: str


def onething_side(task_queue: str) -> Side:
    return Side("onething", WORKFLOW_NAME, task_queue)


def baseline_side(task_queue: str) -> Side:
    return Side("baseline", BASELINE_NAME, task_queue)


@dataclass
class Watch:
    """Polls the database for inbox rows and deliveries of one scenario's departments."""

    database_url: str
    scenario: Scenario
    since: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(seconds=5))
    _inbox: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)
    _delivered: dict[str, asyncio.Event] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def _event(self, table: dict[Any, asyncio.Event], key: Any) -> asyncio.Event:
        if key not in table:
            table[key] = asyncio.Event()
        return table[key]

    async def inbox_ready(self, case_code: str, step_id: str) -> None:
        await self._event(self._inbox, (case_code, step_id)).wait()

    async def delivered(self, case_code: str) -> None:
        await self._event(self._delivered, case_code).wait()

    def _read(self) -> tuple[list[tuple[str, str]], list[str]]:
        prefix = f"510100.{self.scenario.tag}-%"
        with session_scope(self.database_url) as session:
            pending = session.exec(
                select(DepartmentInbox.case_code, DepartmentInbox.step_id).where(
                    col(DepartmentInbox.department).like(prefix),
                    DepartmentInbox.status == InboxStatus.pending,
                )
            ).all()
            delivered = session.exec(
                select(Notification.case_code).where(
                    Notification.kind == "delivery",
                    col(Notification.case_code).like(f"{self.scenario.tag.upper()}-%"),
                    col(Notification.created_at) >= self.since,
                )
            ).all()
        return [(c, s) for c, s in pending], list(delivered)

    async def _poll(self) -> None:
        while True:
            pending, delivered = await asyncio.to_thread(self._read)
            for key in pending:
                self._event(self._inbox, key).set()
            for code in delivered:
                self._event(self._delivered, code).set()
            await asyncio.sleep(POLL_SECONDS)

    def pending_count(self) -> int:
        return len(self._read()[0])

    async def __aenter__(self) -> Watch:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def start(client: Client, side: Side, request: CaseInput) -> None:
    await client.start_workflow(
        side.workflow,
        request,
        id=request.case_code,
        task_queue=side.task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
    )


async def drive_case(client: Client, side: Side, scenario: Scenario, watch: Watch) -> str:
    """One case from start to its rated, finished workflow; returns its case code."""
    request = scenario.case_input()
    await start(client, side, request)
    handle = client.get_workflow_handle(request.case_code)

    async def approve(step_id: str) -> None:
        await watch.inbox_ready(request.case_code, step_id)
        await handle.execute_update(
            UPDATE_DECIDE,
            DecisionInput(
                step_id=step_id,
                decision=DecisionKind.approve,
                officer_id="bench-officer",
                department=scenario.department_of(step_id),
            ),
        )

    await asyncio.gather(*(approve(step_id) for step_id in MANUAL_STEPS))
    await watch.delivered(request.case_code)
    await rate(handle)
    await handle.result()
    return request.case_code


async def rate(handle: WorkflowHandle[Any, Any]) -> None:
    """Rate the case. The delivery row is written before the workflow has seen its activity
    complete, so an early rating is refused (on both sides alike) and tried again later."""
    pause = RATE_FIRST_PAUSE
    for _ in range(RATE_ATTEMPTS - 1):
        await asyncio.sleep(pause)
        try:
            await handle.execute_update(UPDATE_RATE, RateInput(level=RatingLevel.satisfied))
        except WorkflowUpdateFailedError:
            pause = min(pause * 2, 1.0)
        else:
            return
    await handle.execute_update(UPDATE_RATE, RateInput(level=RatingLevel.satisfied))


async def bounded(jobs: Iterable[Any], concurrency: int) -> None:
    """Await the coroutines in ``jobs`` with at most ``concurrency`` running at once."""
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


async def run_round(
    client: Client,
    side: Side,
    scenario: Scenario,
    database_url: str,
    *,
    cases: int,
    concurrency: int,
) -> tuple[float, str]:
    """Drive ``cases`` cases to the end; returns cases per second and the last case's code."""
    codes: list[str] = []

    async def one() -> None:
        codes.append(await drive_case(client, side, scenario, watch))

    async with Watch(database_url, scenario) as watch:
        began = time.perf_counter()
        try:
            await asyncio.wait_for(
                bounded((one() for _ in range(cases)), concurrency),
                ROUND_TIMEOUT_BASE + cases * ROUND_TIMEOUT_PER_CASE,
            )
        except TimeoutError:
            raise RuntimeError(
                f"{side.name}: {cases} cases did not finish in time; see the worker logs"
            ) from None
        return cases / (time.perf_counter() - began), codes[-1]
