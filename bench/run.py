"""The three measurements: throughput against the baseline, latency and memory with open cases."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.driver import (
    Side,
    Watch,
    baseline_side,
    onething_side,
    run_round,
    start,
)
from bench.processes import WorkerProcess, cpu_seconds, running, server_pid
from bench.scenario import MANUAL_STEPS, Scenario
from bench.stats import summary, timed
from onething import caseops
from onething.db import session_scope
from onething.models import CaseRecord, DepartmentInbox, InboxStatus, StepRecord
from workflows.models import QUERY_STATE, CaseState, StepStatus

INBOX_PAGE = 50
READ_MODEL_INBOX_STATUSES = (StepStatus.awaiting_decision.value, StepStatus.supplementing.value)
# Steps s3 and s4 wait at their departments once a case has settled.
OPEN_ROWS_PER_CASE = 2
OPEN_TIMEOUT_BASE = 60.0
OPEN_TIMEOUT_PER_CASE = 2.0


@dataclass
class Config:
    cases: int
    rounds: int
    warmup: int
    concurrency: int
    latency_cases: int
    samples: int
    memory_cases: int
    cache: int | None


@dataclass
class Context:
    client: Client
    address: str
    database_url: str
    workdir: Path

    def worker(self, name: str, *args: str, cache: int | None = None) -> WorkerProcess:
        extra = [] if cache is None else ["--max-cached-workflows", str(cache)]
        return WorkerProcess(
            name,
            ["--address", self.address, "--database-url", self.database_url, *args, *extra],
            workdir=self.workdir,
        )

    def departments(self, scenario: Scenario) -> WorkerProcess:
        args = [a for code in scenario.departments.values() for a in ("--department", code)]
        return self.worker(f"departments-{scenario.tag}", *args)


def say(text: str) -> None:
    print(text, flush=True)


async def history_profile(client: Client, case_code: str) -> dict[str, Any]:
    """Events and activities of one finished case (where a workflow's time goes)."""
    history = await client.get_workflow_handle(case_code).fetch_history()
    kinds: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for event in history.events:
        kinds[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()] += 1
        if event.HasField("activity_task_scheduled_event_attributes"):
            activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return {
        "events": len(history.events),
        "workflow_tasks": kinds["workflow_task_completed"],
        "activities": dict(activities),
        "timers_started": kinds["timer_started"],
        "timers_cancelled": kinds["timer_canceled"],
        "search_attribute_upserts": kinds["upsert_workflow_search_attributes"],
        "local_activity_markers": kinds["marker_recorded"],
        "history_bytes": history.to_json().__len__(),
    }


async def throughput(ctx: Context, cfg: Config) -> dict[str, Any]:
    scenario = Scenario("t")
    suffix = uuid.uuid4().hex[:8]
    sides = [onething_side(f"bench-orch-{suffix}"), baseline_side(f"bench-base-{suffix}")]
    orchestrators = ctx.worker(
        "orchestrators",
        "--orchestrator",
        sides[0].task_queue,
        "--baseline",
        sides[1].task_queue,
        cache=cfg.cache,
    )
    rates: dict[str, list[float]] = {side.name: [] for side in sides}
    cpu: dict[str, dict[str, float]] = {side.name: defaultdict(float) for side in sides}
    departments = ctx.departments(scenario)
    profiles: dict[str, Any] = {}

    async def round_of(side: Side, cases: int) -> tuple[float, str]:
        return await run_round(
            ctx.client, side, scenario, ctx.database_url, cases=cases, concurrency=cfg.concurrency
        )

    async with running(orchestrators, departments):
        processes = {
            "orchestrator": orchestrators.pid,
            "departments": departments.pid,
            "server": server_pid(),
            "driver": os.getpid(),
        }
        for side in sides:
            await round_of(side, cfg.warmup)
        say(f"throughput: warm-up done ({cfg.warmup} cases each); {cfg.rounds} rounds each")
        for r in range(cfg.rounds):
            for side in sides if r % 2 == 0 else reversed(sides):
                before = {name: cpu_seconds(pid) for name, pid in processes.items()}
                rate, last = await round_of(side, cfg.cases)
                for name, pid in processes.items():
                    cpu[side.name][name] += cpu_seconds(pid) - before[name]
                rates[side.name].append(rate)
                say(f"  round {r + 1} {side.name:9s} {cfg.cases} cases: {rate:7.2f} cases/s")
                profiles[side.name] = await history_profile(ctx.client, last)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    ratio = medians["onething"] / medians["baseline"]
    say(
        f"throughput median: onething {medians['onething']:.2f} cases/s, "
        f"baseline {medians['baseline']:.2f} cases/s, ratio {ratio:.2f}x (target >= 0.8x)"
    )
    cpu_ms = {
        side: {
            name: round(seconds * 1000 / (cfg.cases * cfg.rounds), 1)
            for name, seconds in used.items()
        }
        for side, used in cpu.items()
    }
    for name, profile in profiles.items():
        say(f"  per case, {name}: CPU ms {cpu_ms[name]}; history {profile}")
    return {
        "cases_per_round": cfg.cases,
        "concurrency": cfg.concurrency,
        "rounds": rates,
        "median": medians,
        "ratio": round(ratio, 3),
        "cpu_ms_per_case": cpu_ms,
        "per_case": profiles,
    }


def inbox_page(database_url: str, department: str) -> list[DepartmentInbox]:
    """An officer's inbox page: the department's pending steps, earliest deadline first."""
    with session_scope(database_url) as session:
        return list(
            session.exec(
                select(DepartmentInbox)
                .where(
                    DepartmentInbox.department == department,
                    DepartmentInbox.status == InboxStatus.pending,
                )
                .order_by(col(DepartmentInbox.due_at))
                .limit(INBOX_PAGE)
            )
        )


def read_model_inbox(database_url: str, department: str) -> list[Any]:
    """The read model's inbox statement as ``GET /api/inbox`` runs it: every step awaiting the
    department with its case row, earliest deadline first (the API pages nothing)."""
    with session_scope(database_url) as session:
        return list(
            session.exec(
                select(StepRecord, CaseRecord)
                .join(
                    CaseRecord,
                    col(CaseRecord.case_code) == col(StepRecord.case_code),
                    isouter=True,
                )
                .where(
                    StepRecord.department == department,
                    col(StepRecord.status).in_(READ_MODEL_INBOX_STATUSES),
                )
                .order_by(
                    col(StepRecord.due_at).is_(None),
                    col(StepRecord.due_at),
                    col(StepRecord.case_code),
                )
            ).all()
        )


async def open_cases(
    ctx: Context, scenario: Scenario, queue: str, codes: list[str], total: int, batch: int
) -> float:
    """Start cases until ``total`` are open and all have settled at their departments (steps
    s3 and s4 dispatched, their timers running); returns the seconds it took. Cases start in
    batches that settle before the next: thousands at once would time out workflow tasks on a
    small machine and measure the overload instead."""
    began = time.perf_counter()
    watch = Watch(ctx.database_url, scenario)
    side = onething_side(queue)
    while len(codes) < total:
        inputs = [scenario.case_input() for _ in range(min(batch, total - len(codes)))]
        codes.extend(request.case_code for request in inputs)
        await asyncio.gather(*(start(ctx.client, side, request) for request in inputs))
        limit = time.perf_counter() + OPEN_TIMEOUT_BASE + len(inputs) * OPEN_TIMEOUT_PER_CASE
        while await asyncio.to_thread(watch.pending_count) < OPEN_ROWS_PER_CASE * len(codes):
            if time.perf_counter() > limit:
                raise RuntimeError(f"{len(codes)} open cases did not settle; see the worker logs")
            await asyncio.sleep(0.2)
    return time.perf_counter() - began


async def query_latency(ctx: Context, codes: list[str], samples: int) -> dict[str, float]:
    picks = [random.choice(codes) for _ in range(samples)]

    async def query(i: int) -> None:
        handle = ctx.client.get_workflow_handle(picks[i])
        await handle.query(QUERY_STATE, result_type=CaseState)

    return summary(await timed(query, samples))


async def open_phases(ctx: Context, cfg: Config, *, latency: bool, memory: bool) -> dict[str, Any]:
    """Latency with ``latency_cases`` open cases, then orchestrator RSS up to ``memory_cases``."""
    scenario = Scenario("o")
    queue = f"bench-open-{uuid.uuid4().hex[:8]}"
    orchestrator = ctx.worker("orchestrator", "--orchestrator", queue, cache=cfg.cache)
    results: dict[str, Any] = {"max_cached_workflows": cfg.cache or 1000}
    codes: list[str] = []
    async with running(orchestrator, ctx.departments(scenario)):
        await asyncio.sleep(2)
        results["rss_idle_mib"] = round(orchestrator.rss_mib(), 1)
        first = cfg.latency_cases if latency else min(cfg.latency_cases, cfg.memory_cases)
        took = await open_cases(ctx, scenario, queue, codes, first, cfg.concurrency)
        results[f"rss_{first}_open_mib"] = round(orchestrator.rss_mib(), 1)
        say(f"open cases: {first} settled in {took:.1f}s; orchestrator RSS {results}")
        if latency:
            results.update(await latency_figures(ctx, cfg, scenario, codes))
        if memory and cfg.memory_cases > first:
            took = await open_cases(ctx, scenario, queue, codes, cfg.memory_cases, cfg.concurrency)
            await asyncio.sleep(2)
            rss = round(orchestrator.rss_mib(), 1)
            results[f"rss_{cfg.memory_cases}_open_mib"] = rss
            say(
                f"open cases: {cfg.memory_cases} settled (+{took:.1f}s); orchestrator RSS {rss} MiB"
            )
            query = await query_latency(ctx, codes, cfg.samples)
            results[f"query_state_{cfg.memory_cases}_open"] = query
            say(f"  query state at {cfg.memory_cases} open: {query}")
    return results


async def latency_figures(
    ctx: Context, cfg: Config, scenario: Scenario, codes: list[str]
) -> dict[str, Any]:
    departments = [scenario.department_of(step_id) for step_id in MANUAL_STEPS[:2]]
    query = await query_latency(ctx, codes, cfg.samples)
    say(f"  query state ({len(codes)} open): {query}")

    async def inbox(i: int) -> None:
        rows = await asyncio.to_thread(inbox_page, ctx.database_url, departments[i % 2])
        assert len(rows) == min(INBOX_PAGE, len(codes)), "inbox page incomplete"

    inbox_sql = summary(await timed(inbox, cfg.samples))
    say(f"  inbox page, department_inbox table ({len(codes)} pending per department): {inbox_sql}")

    seen: list[int] = []

    async def read_model(i: int) -> None:
        # The read model is written a moment after the inbox row, so the count is reported
        # rather than checked.
        rows = await asyncio.to_thread(read_model_inbox, ctx.database_url, departments[i % 2])
        seen.append(len(rows))

    read_model_sql = summary(await timed(read_model, cfg.samples))
    say(
        f"  department inbox, read model (all rows as GET /api/inbox, {max(seen)} rows): "
        f"{read_model_sql}"
    )

    async def visibility(i: int) -> None:
        query = caseops.list_query(department=departments[i % 2])
        await caseops.list_cases(ctx.client, query=query, limit=INBOX_PAGE)

    listing = summary(await timed(visibility, max(cfg.samples // 5, 10)))
    say(f"  case list by pending department, visibility (caseops.list_cases): {listing}")
    return {
        f"query_state_{len(codes)}_open": query,
        "inbox_page_sql": inbox_sql,
        "inbox_read_model_all_rows": read_model_sql,
        "case_list_visibility": listing,
    }
