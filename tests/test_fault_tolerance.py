"""Fault tolerance: 54 cases over four bundles run against a dev server this test starts on its
own SQLite file, with the orchestrator and three department workers as ``onething worker``
subprocesses. While officers (the driver) decide cases through Updates, the HTTP department's
worker is killed -9 in the middle of a call to the department's system, the orchestrator is
killed -9, and the dev server is stopped and started again on the same file and ports. Every
case must end as its scenario says, exactly once, and every department effect must happen once
per case and step."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus

from activities.adapters.http import HttpAdapter
from activities.models import NotificationKind, StepPayload, WithdrawStepInput
from definitions.schema import StepMode
from onething.db import get_engine, migrate, session_scope
from onething.embedded import DevServer
from onething.models import DepartmentInbox, InboxStatus, Notification, Submission
from onething.settings import AdapterConfig, Settings
from onething.submission import submit_case
from onething.temporal import connect
from tests.casekit import eventually, free_port, publish, resident_id
from tests.fault_cases import Driver, FaultDepartments, Scenario, scenarios
from tests.fault_support import CountingDepartment, WorkerProcess, worker_env, write_departments
from tests.workflow_support import step
from workflows.models import CaseState, StepStatus

CASES = 54  # six of each scenario
HOLD_SECONDS = 0.5  # how long the department's system holds each HTTP call
DRIVE_SECONDS = 240.0  # every case closed within this, faults included (~80 s on an idle machine)
READY_SECONDS = 60.0
DECIDED = (StepStatus.approved, StepStatus.rejected)


def _payload(case_code: str, department: str) -> StepPayload:
    return StepPayload(
        case_code=case_code,
        bundle_code="fault-unit",
        bundle_name="故障测试",
        step=step("p1", department),
        region="510100",
        applicant_id_type="resident_id",
        applicant_id_number=resident_id(),
        applicant_name="张三",
    )


async def test_counting_department_applies_each_idempotency_key_once() -> None:
    counting = CountingDepartment(hold_seconds=0)
    counting.start()
    try:
        adapter = HttpAdapter(url=counting.url, timeout_seconds=5)
        payload = _payload("510100-FAULT-20261126-00001-X", "510100.tfault-http")
        await adapter.dispatch(payload)
        await adapter.dispatch(payload)  # a retry after a lost answer: same key
        decision = await adapter.decide(payload)
        await adapter.withdraw(
            WithdrawStepInput(
                case_code=payload.case_code, step_id="p1", department="d", reason="case rejected"
            )
        )
        assert decision.decision.value == "approve"
        key = f"{payload.case_code}:p1"
        assert counting.raw_counts() == Counter(
            {f"{key}:dispatch": 2, f"{key}:decide": 1, f"{key}:withdraw": 1}
        )
        assert set(counting.effects()) == {f"{key}:dispatch", f"{key}:decide", f"{key}:withdraw"}
        assert counting.open_calls(fresher_than=60) == []
    finally:
        counting.stop()


async def test_counting_department_refuses_a_key_that_does_not_match_the_body() -> None:
    counting = CountingDepartment(hold_seconds=0)
    counting.start()
    try:
        body = {"action": "dispatch", "case_code": "A", "step": {"id": "p1"}}
        async with httpx.AsyncClient() as http:
            wrong_case = await http.post(
                counting.url, json=body, headers={"Idempotency-Key": "B:p1:dispatch"}
            )
            no_key = await http.post(counting.url, json=body)
        assert wrong_case.status_code == 400 and "case or step" in wrong_case.text
        assert no_key.status_code == 400 and "Idempotency-Key" in no_key.text
        assert counting.deliveries() == []
    finally:
        counting.stop()


def _settings(tmp_path: Path, counting: CountingDepartment, depts: FaultDepartments) -> Settings:
    return Settings(
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'onething.db'}",
        department_adapters={depts["http"]: AdapterConfig(kind="http", url=counting.url)},
    )


def _workers(
    tmp_path: Path, settings: Settings, depts: FaultDepartments
) -> dict[str, WorkerProcess]:
    definitions = tmp_path / "definitions"
    write_departments(definitions, depts.codes)
    adapters = {k: v.model_dump() for k, v in settings.department_adapters.items()}
    env = worker_env(
        {
            "ONETHING_TEMPORAL_ADDRESS": settings.temporal_address,
            "ONETHING_DATABASE_URL": settings.database_url,
            "ONETHING_DATA_DIR": str(settings.data_dir),
            "ONETHING_DEFINITIONS_DIR": str(definitions),
            "ONETHING_DEPARTMENT_ADAPTERS": json.dumps(adapters),
            "ONETHING_LOG_FORMAT": "json",
        }
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = {
        "orchestrator": WorkerProcess("orchestrator", ["--orchestrator"], env=env, log_dir=logs)
    }
    for name in ("http", "inbox", "local"):
        procs[name] = WorkerProcess(name, ["--department", depts[name]], env=env, log_dir=logs)
    return procs


async def _submit(client: Client, settings: Settings, plan: list[Scenario]) -> dict[str, Scenario]:
    """Submit one case per plan entry (request id ``fault-<index>``); returns code -> scenario."""
    gate = asyncio.Semaphore(6)  # overlaps the workflow starts; SQLite serialises the inserts

    async def one(i: int, scenario: Scenario) -> tuple[str, Scenario]:
        async with gate:
            with session_scope(settings.database_url) as session:
                result = await submit_case(
                    client,
                    session,
                    settings=settings,
                    bundle_code=scenario.bundle.code,
                    applicant_id=resident_id(seq=f"{i:03d}"),
                    applicant_name="张三",
                    form={},
                    materials=[],
                    request_id=f"fault-{i}",
                )
        return result.case_code, scenario

    return dict(await asyncio.gather(*(one(i, s) for i, s in enumerate(plan))))


async def _restart(worker: WorkerProcess) -> None:
    worker.kill()
    await asyncio.sleep(0.5)
    worker.start()
    await worker.ready(seconds=READY_SECONDS)


async def _progress(
    driver: Driver, driving: asyncio.Task[dict[str, CaseState]], finished: int
) -> None:
    """Wait until ``finished`` cases are done (the driver's own deadline bounds this)."""
    while driver.finished < finished and not driving.done():
        if asyncio.get_running_loop().time() > driver.deadline:
            raise AssertionError(f"only {driver.finished} cases finished, wanted {finished}")
        await asyncio.sleep(0.2)
    if driving.done():
        driving.result()  # the driver failed: show why now


async def _kill_mid_call(worker: WorkerProcess, counting: CountingDepartment) -> set[str]:
    """kill -9 while the department's system holds a call from the worker; the keys cut off."""
    end = time.monotonic() + 20
    cut: set[str] = set()
    while not cut and time.monotonic() < end:
        cut = {d.key for d in counting.open_calls(fresher_than=HOLD_SECONDS / 2)}
        if not cut:
            await asyncio.sleep(0.05)
    await _restart(worker)
    return cut


def _expected_http_keys(results: dict[str, CaseState], dept: str) -> set[str]:
    """What the HTTP department must have received once: dispatch and outcome of each decided
    manual step, dispatch and withdraw of each withdrawn one, the check of each automatic one."""
    keys: set[str] = set()
    for code, state in results.items():
        for st in state.steps:
            if st.department != dept:
                continue
            if st.mode is StepMode.automatic and st.status in DECIDED:
                keys.add(f"{code}:{st.id}:decide")
            elif st.mode is StepMode.manual and st.status in DECIDED:
                keys |= {f"{code}:{st.id}:dispatch", f"{code}:{st.id}:outcome"}
            elif st.mode is StepMode.manual and st.status is StepStatus.withdrawn:
                keys |= {f"{code}:{st.id}:dispatch", f"{code}:{st.id}:withdraw"}
    return keys


def _expected_inbox(
    results: dict[str, CaseState], depts: list[str]
) -> dict[tuple[str, str], InboxStatus]:
    rows: dict[tuple[str, str], InboxStatus] = {}
    for code, state in results.items():
        for st in state.steps:
            if st.department not in depts or st.mode is not StepMode.manual:
                continue
            if st.status in DECIDED:
                rows[(code, st.id)] = InboxStatus.decided
            elif st.status is StepStatus.withdrawn:
                rows[(code, st.id)] = InboxStatus.withdrawn
    return rows


async def test_every_case_survives_killed_workers_and_a_server_restart(tmp_path: Path) -> None:
    began = time.monotonic()
    depts = FaultDepartments()
    counting = CountingDepartment(hold_seconds=HOLD_SECONDS)
    counting.start()
    settings = _settings(tmp_path, counting, depts)
    server = DevServer(settings, data_dir=settings.data_dir)
    workers = _workers(tmp_path, settings, depts)
    figures: dict[str, object] = {}
    try:
        await server.start()
        migrate(settings.database_url)
        variants = scenarios(depts)
        for bundle in {s.bundle.code: s.bundle for s in variants}.values():
            publish(settings.database_url, bundle)
        for worker in workers.values():
            worker.start()
        await asyncio.gather(*(w.ready(seconds=READY_SECONDS) for w in workers.values()))
        client = await connect(settings)
        figures["setup_seconds"] = round(time.monotonic() - began, 1)
        plan = [variants[i % len(variants)] for i in range(CASES)]
        submitting = time.monotonic()
        cases = await _submit(client, settings, plan)
        figures["submit_seconds"] = round(time.monotonic() - submitting, 1)
        assert len(cases) == CASES

        loop = asyncio.get_running_loop()
        driver = Driver(client, deadline=loop.time() + DRIVE_SECONDS)
        driving = asyncio.create_task(driver.run(cases))
        try:
            open_at_fault: list[int] = []
            fault_at: list[float] = []
            await _progress(driver, driving, 2)
            open_at_fault.append(CASES - driver.finished)
            fault_at.append(round(time.monotonic() - submitting, 1))
            cut = await _kill_mid_call(workers["http"], counting)
            await _progress(driver, driving, 8)
            open_at_fault.append(CASES - driver.finished)
            fault_at.append(round(time.monotonic() - submitting, 1))
            await _restart(workers["orchestrator"])
            await _progress(driver, driving, 14)
            open_at_fault.append(CASES - driver.finished)
            fault_at.append(round(time.monotonic() - submitting, 1))
            down = time.monotonic()
            await server.stop()
            figures["server_stop_seconds"] = round(time.monotonic() - down, 1)
            await asyncio.sleep(2)  # the driver meets a dead server for a while
            await server.start()
            figures["server_down_seconds"] = round(time.monotonic() - down, 1)
            results = await asyncio.wait_for(driving, DRIVE_SECONDS)
            figures["drive_seconds"] = round(time.monotonic() - submitting, 1)
        finally:
            driving.cancel()

        # Each fault struck while cases were still open.
        assert min(open_at_fault) > 0, open_at_fault
        # Every worker lived through the server restart (the killed ones were restarted).
        assert all(w.alive for w in workers.values()), {n: w.tail() for n, w in workers.items()}

        # Every case ended as its scenario says.
        assert set(results) == set(cases)
        for code, state in results.items():
            scenario = cases[code]
            assert state.status is scenario.outcome, (code, scenario.name, state.timeline)
            assert {s.id: s.status for s in state.steps} == scenario.steps, (code, scenario.name)

        # None lost, none duplicated: visibility lists each case code exactly once, closed.
        listed = await eventually(
            lambda: _list_cases(client),
            lambda found: (
                len(found) >= CASES
                and all(s is WorkflowExecutionStatus.COMPLETED for _, s in found)
            ),
            seconds=30,
            what="every case closed in visibility",
        )
        ids = Counter(code for code, _ in listed)
        assert set(ids) == set(cases) and max(ids.values()) == 1, ids.most_common(3)

        # The applicant submitting again with the same request ids gets the same cases back.
        again = await _submit(client, settings, plan)
        assert again.keys() == cases.keys()
        assert (await client.count_workflows("WorkflowType = 'CaseWorkflow'")).count == CASES
        with session_scope(settings.database_url) as session:
            assert len(list(session.exec(select(Submission)))) == CASES

        # The HTTP department applied each effect once per case, step and action.
        effects = counting.effects()
        raw = counting.raw_counts()
        assert set(effects) == _expected_http_keys(results, depts["http"])
        # The calls cut off by the kill reached the department again, with the same key.
        assert cut, "no call was open at the department when its worker was killed"
        assert all(raw[k] >= 2 for k in cut), {k: raw[k] for k in cut}

        # The inbox holds exactly one row per (case, step), ended as the case says.
        with session_scope(settings.database_url) as session:
            rows = list(session.exec(select(DepartmentInbox)))
        assert len(rows) == len({(r.case_code, r.step_id) for r in rows})
        expected_rows = _expected_inbox(results, [depts["inbox"], depts["local"]])
        assert {(r.case_code, r.step_id): r.status for r in rows} == expected_rows

        # Notices keyed per case and step: one result delivery per case, one withdrawal notice
        # per withdrawn step.
        with session_scope(settings.database_url) as session:
            notices = list(session.exec(select(Notification)))
        deliveries = {n.key for n in notices if n.kind == NotificationKind.delivery}
        assert deliveries == {f"{c}:delivery:{s.status.value}:web" for c, s in results.items()}
        withdrawals = {
            (n.case_code, n.step_id) for n in notices if n.kind == NotificationKind.withdrawal
        }
        assert withdrawals == {
            (c, st.id)
            for c, s in results.items()
            for st in s.steps
            if st.status is StepStatus.withdrawn
        }

        figures.update(
            cases=CASES,
            completed=sum(1 for s in results.values() if s.status.value == "completed"),
            rejected=sum(1 for s in results.values() if s.status.value == "rejected"),
            http_deliveries=sum(raw.values()),
            http_effects=len(effects),
            retried_keys=sum(1 for n in raw.values() if n > 1),
            cut_keys=len(cut),
            open_at_faults=open_at_fault,
            fault_at_seconds=fault_at,
            inbox_rows=len(rows),
            driver_retries=driver.transient_errors,
            seconds=round(time.monotonic() - began, 1),
        )
        print("fault-tolerance figures:", json.dumps(figures))
    finally:
        for worker in workers.values():
            worker.stop()
        await server.stop()
        counting.stop()
        get_engine(settings.database_url).dispose()


async def _list_cases(client: Client) -> list[tuple[str, WorkflowExecutionStatus | None]]:
    return [(w.id, w.status) async for w in client.list_workflows("WorkflowType = 'CaseWorkflow'")]
