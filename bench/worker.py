"""Worker process for the benchmark (``python -m bench.worker``), so the driver, the server and
the workers do not share one interpreter and the orchestrator's RSS can be read on its own.

``--orchestrator Q`` runs onething's case workflow on queue Q with the configuration of
``workers.build_orchestrator_worker``; ``--baseline Q`` runs the hand-written workflow on Q with
exactly the same configuration; ``--department D`` (repeatable) runs onething's department
worker for D; ``--max-cached-workflows N`` changes the workflow cache of both."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid

from temporalio.worker import Worker, WorkerConfig

from bench.baseline import BaselineWorkflow
from onething.logs import configure_logging
from onething.settings import Settings
from onething.temporal import connect
from workers.builders import build_department_worker, build_orchestrator_worker
from workflows.case import CaseWorkflow


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("--address", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--orchestrator", help="task queue of onething's orchestrator worker")
    parser.add_argument("--baseline", help="task queue of the hand-written workflow's worker")
    parser.add_argument("--department", action="append", default=[])
    parser.add_argument(
        "--max-cached-workflows", type=int, help="override the worker default (1000)"
    )
    return parser.parse_args(argv)


def from_template(config: WorkerConfig, task_queue: str, workflow: type) -> Worker:
    own = config.copy()
    own["task_queue"] = task_queue
    own["workflows"] = [workflow]
    return Worker(**own)


async def main(argv: list[str]) -> None:
    args = parse(argv)
    settings = Settings(
        temporal_address=args.address,
        database_url=args.database_url,
        # Deadlines reaching past the calendar data's last year must not stall the benchmark.
        calendar_weekday_fallback=True,
    )
    configure_logging(fmt="json", level=settings.log_level)
    client = await connect(settings)
    workers: list[Worker] = []
    if args.orchestrator or args.baseline:
        # onething's builder makes the configuration (activities, converter, tuning); both
        # workflows get a worker from it. The template itself never runs, and has a queue of its
        # own because a worker claims its queue when it is built.
        template = build_orchestrator_worker(
            client, settings=settings, task_queue=f"bench-template-{uuid.uuid4().hex}"
        )
        config = template.config()
        if args.max_cached_workflows is not None:
            config["max_cached_workflows"] = args.max_cached_workflows
        if args.orchestrator:
            workers.append(from_template(config, args.orchestrator, CaseWorkflow))
        if args.baseline:
            workers.append(from_template(config, args.baseline, BaselineWorkflow))
    for code in args.department:
        workers.append(build_department_worker(client, settings=settings, department_code=code))
    if not workers:
        raise SystemExit("bench.worker: give --orchestrator, --baseline or --department")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    print("ready", flush=True)
    await stop.wait()
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
