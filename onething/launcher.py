"""What ``onething up`` and ``onething worker`` do, as functions the CLI and tests call.

``up`` order matters on the way in (server, database, definitions, workers) and on the way
out (workers first, so in-flight activities finish or are cancelled cleanly while the server
is still there to record it, then the server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.worker import Worker

from definitions.validation import has_errors, load_departments, validate_paths
from onething import registry
from onething.api.server import start_embedded
from onething.db import migrate, session_scope
from onething.embedded import DevServer, StopSignal, run_workers, server_answers, ui_url
from onething.logs import get_logger
from onething.search_attributes import ALL_KEYS
from onething.settings import Settings
from onething.temporal import connect

log = get_logger(__name__)

Say = Callable[[str], None]


class LaunchError(RuntimeError):
    """The system cannot start; the message says what to fix."""


def publish_bundled(settings: Settings) -> list[str]:
    """Publish every bundled definition not yet in the registry; returns what changed."""
    departments = load_departments(settings.departments_file)
    loaded, issues = validate_paths(sorted(settings.bundles_dir.glob("*.yaml")), departments)
    if has_errors(issues):
        detail = "\n".join(str(i) for i in issues if i.severity == "error")
        raise LaunchError(f"the bundled definitions do not validate:\n{detail}")
    changed: list[str] = []
    with session_scope(settings.database_url) as session:
        for lb in loaded:
            result = registry.publish(session, bundle=lb.bundle, source_yaml=lb.source_yaml)
            if result.created:
                changed.append(f"{result.version.code} v{result.version.version}")
    return changed


def department_codes(settings: Settings) -> list[str]:
    return [d.code for d in load_departments(settings.departments_file).departments]


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register any of our search attributes a server (not started by us) lacks."""
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL_KEYS
        if key.name not in resp.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


def build_workers(client: Client, settings: Settings) -> list[Worker]:
    from workers.builders import build_department_worker, build_orchestrator_worker

    workers = [build_orchestrator_worker(client, settings=settings)]
    workers += [
        build_department_worker(client, settings=settings, department_code=code)
        for code in department_codes(settings)
    ]
    return workers


def next_steps(settings: Settings, *, running_up: bool = True) -> str:
    """The Web UI address and the commands to try next (plus how to stop, inside `up`)."""
    return "\n".join(
        [
            f"Temporal Web UI: {ui_url(settings)}/namespaces/{settings.temporal_namespace}"
            "/workflows",
            "Try, in another terminal:",
            "  onething demo                      # submit and drive a few cases",
            "  onething case list                 # cases by status, bundle, department",
            "  onething case show CASE-CODE       # steps, deadlines, ledger, timeline",
            "  onething bundle list               # the published bundle definitions",
        ]
        + (["Stop with Ctrl-C."] if running_up else [])
    )


async def run_up(settings: Settings, *, say: Say, stop: StopSignal | None = None) -> None:
    """Bring the whole system up and keep it running until SIGINT/SIGTERM."""
    stop = stop or StopSignal()
    stop.install()
    data_dir: Path = settings.data_dir
    server: DevServer | None = None
    try:
        if await server_answers(settings):
            say(
                f"A Temporal server already answers at {settings.temporal_address}; "
                "using it (not starting another)."
            )
        else:
            server = DevServer(settings, data_dir=data_dir)
            say(f"Starting the Temporal dev server at {settings.temporal_address} ...")
            await server.start()
            say(
                f"Temporal dev server running (state in {data_dir / 'temporal.db'}, "
                f"log {server.log_path})."
            )
        migrate(settings.database_url)
        for line in publish_bundled(settings):
            say(f"published {line}")
        client = await connect(settings)
        added = await ensure_search_attributes(client)
        if added:
            say(f"registered search attributes: {', '.join(added)}")
        workers = build_workers(client, settings)
        say(f"{len(workers)} workers: the orchestrator and {len(workers) - 1} departments.")
        api_task = await start_embedded(
            settings,
            client=client,
            departments=department_codes(settings),
            stop=stop.event,
            say=say,
        )
        say(next_steps(settings))
        try:
            if not stop.event.is_set():
                await run_workers(workers, stop.event)
        finally:
            # A worker that failed ends `up` as well; the API must not outlive the workers.
            stop.event.set()
            await api_task
        say(f"Stopping ({stop.received or 'workers ended'}): workers stopped.")
    finally:
        stop.uninstall()
        if server is not None:
            code = await server.stop()
            say(f"Temporal dev server stopped (exit {code}).")


async def run_worker(
    settings: Settings, *, department: str | None, say: Say, stop: StopSignal | None = None
) -> None:
    """One worker (a department's, or the orchestrator) until SIGINT/SIGTERM."""
    from workers.builders import build_department_worker, build_orchestrator_worker

    if department is not None and department not in department_codes(settings):
        raise LaunchError(f"department: unknown department code {department!r}")
    stop = stop or StopSignal()
    stop.install()
    try:
        client = await connect(settings)
        if department is None:
            worker = build_orchestrator_worker(client, settings=settings)
        else:
            worker = build_department_worker(client, settings=settings, department_code=department)
        say(f"worker serving {worker.task_queue}; stop with Ctrl-C or SIGTERM")
        await run_workers([worker], stop.event)
        say(f"worker on {worker.task_queue} stopped ({stop.received or 'ended'})")
    finally:
        stop.uninstall()
