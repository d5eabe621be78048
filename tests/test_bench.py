"""The benchmark's pure helpers (the benchmark itself is a script: ``python -m bench``)."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.__main__ import config, parse
from bench.baseline import BaselineWorkflow
from bench.driver import Watch, baseline_side, drive_case
from bench.run import history_profile
from bench.scenario import MANUAL_STEPS, Scenario
from bench.stats import percentile, summary
from definitions.schema import StepMode
from onething.db import migrate
from tests.workflow_support import make_settings
from workers.builders import build_department_worker, build_orchestrator_worker


def test_percentile_is_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert summary([3.0, 1.0, 2.0]) == {"n": 3, "p50_ms": 2.0, "p99_ms": 3.0}


def test_percentile_of_nothing_names_the_argument() -> None:
    with pytest.raises(ValueError, match="samples: empty"):
        percentile([], 50)


def test_quick_and_explicit_numbers() -> None:
    quick = config(parse(["--quick"]))
    full = config(parse(["--cases", "7", "--memory-cases", "9"]))
    assert quick.cases < full.latency_cases and quick.memory_cases < 100
    assert (full.cases, full.memory_cases, full.latency_cases) == (7, 9, 1000)


def test_non_positive_numbers_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--cases", "0"])
    assert "--cases: must be at least 1, got 0" in capsys.readouterr().err


def test_scenario_has_five_departments_and_both_modes() -> None:
    scenario = Scenario("x")
    steps = scenario.bundle.steps
    assert len({s.department for s in steps}) == 5
    assert {s.mode for s in steps} == {StepMode.automatic, StepMode.manual}
    assert [s.id for s in steps if s.mode is StepMode.manual] == MANUAL_STEPS
    first, second = scenario.case_input(), scenario.case_input()
    assert first.case_code != second.case_code
    assert all(m in first.materials for s in steps for m in s.materials)


async def test_baseline_makes_the_same_activity_calls_as_a_case(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The throughput comparison is fair only if the hand-written workflow does the same
    department and deadline work per case as onething's happy path."""
    client = time_env.client
    scenario = Scenario("x")
    settings = make_settings(tmp_path)
    migrate(settings.database_url)
    queue = "bench-test-" + uuid.uuid4().hex
    # Built only for its configuration, as bench.worker does; a worker registers its queue
    # when built, so the baseline takes another one.
    orchestrator = build_orchestrator_worker(client, settings=settings, task_queue=queue + "-o")
    config = orchestrator.config()
    config["workflows"] = [BaselineWorkflow]
    config["task_queue"] = queue
    baseline = Worker(**config)
    departments = [
        build_department_worker(client, settings=settings, department_code=code)
        for code in scenario.departments.values()
    ]
    side = baseline_side(queue)
    async with baseline, AsyncExitStack() as stack:
        for worker in departments:
            await stack.enter_async_context(worker)
        async with Watch(settings.database_url, scenario) as watch:
            code = await asyncio.wait_for(drive_case(client, side, scenario, watch), 60)
    profile = await history_profile(client, code)
    assert profile["activities"] == {
        "compute_deadline": 7,  # the promise, five steps, the rating window
        "department_decide": 2,
        "department_dispatch": 3,
        "department_record_outcome": 3,
        "deliver_result": 1,
    }
