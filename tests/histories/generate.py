"""Regenerate the committed histories replayed by tests/test_replay.py.

    .venv/bin/python -m tests.histories.generate [--output DIR] [NAME ...]

Each scenario runs a case on the time-skipping test server with the current workflow code and
writes its history as ``NAME.json`` (default: every scenario, into this directory). Regenerate
only on purpose: a history that no longer replays means the workflow code changed in a way
running cases cannot follow (use workflow.patched for such changes). To try the generator
without touching the committed files, give ``--output`` a scratch directory.

``FROZEN`` histories were recorded by older workflow code and cannot be produced again: the
current code takes every ``workflow.patched`` branch in a new run, so it would record the
patch markers the frozen histories exist to lack. They keep the replay test honest for cases
started before each patch."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Escalation, StepMode
from onething.settings import Settings
from onething.temporal import bundled_binary, data_converter
from tests.workflow_support import (
    Departments,
    bundle,
    case_input,
    decision,
    make_settings,
    minutes,
    start,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import (
    CaseState,
    DecisionKind,
    RateInput,
    RatingLevel,
    RectifyInput,
    StepStatus,
    SupplementInput,
)

HERE = Path(__file__).parent
Handle = WorkflowHandle[CaseWorkflow, CaseState]


async def completed_with_supplement_extension_and_rating(
    env: WorkflowEnvironment, settings: Settings
) -> Handle:
    d = Departments()
    definition = bundle(
        step("share", d["bigdata"], mode=StepMode.automatic),
        step("tax", d["tax"], depends_on=["share"], limit=minutes(60), extension=minutes(30)),
        step("social", d["hrss"], depends_on=["share"], limit=minutes(60), warn_before=minutes(10)),
    )
    async with workers(env.client, settings, definition) as queue:
        handle = await start(env.client, queue, case_input(definition))
        await wait_for(handle, lambda s: s.step("tax").status is StepStatus.awaiting_decision)
        await wait_for(handle, lambda s: s.step("social").status is StepStatus.awaiting_decision)
        await handle.execute_update(
            CaseWorkflow.decide,
            decision("tax", d["tax"], DecisionKind.extend, reason="expert review", amount=15),
        )
        await handle.execute_update(
            CaseWorkflow.decide,
            decision(
                "social", d["hrss"], DecisionKind.supplement, reason="blurred", materials=["photo"]
            ),
        )
        await env.sleep(timedelta(minutes=20))
        await handle.execute_update(CaseWorkflow.supplement, SupplementInput(materials=["photo"]))
        await env.sleep(timedelta(minutes=45))  # the social step's warning fires
        for step_id, dept in (("tax", d["tax"]), ("social", d["hrss"])):
            await handle.execute_update(
                CaseWorkflow.decide, decision(step_id, dept, DecisionKind.approve)
            )
        await wait_for(handle, lambda s: s.status.value == "completed")
        await handle.execute_update(
            CaseWorkflow.rate, RateInput(level=RatingLevel.dissatisfied, comment="slow")
        )
        await handle.execute_update(
            CaseWorkflow.rectify, RectifyInput(officer_id="officer-9", note="called back")
        )
        await handle.result()
    return handle


async def escalated_then_rejected(env: WorkflowEnvironment, settings: Settings) -> Handle:
    d = Departments()
    definition = bundle(
        step(
            "permit",
            d["police"],
            limit=minutes(30),
            warn_before=minutes(5),
            escalation=Escalation(supervise_after=minutes(10), elevate_after=minutes(20)),
        ),
        step("other", d["civil"], limit=minutes(600)),
    )
    async with workers(env.client, settings, definition) as queue:
        handle = await start(env.client, queue, case_input(definition))
        await wait_for(handle, lambda s: all(x.due_at for x in s.steps))
        await env.sleep(timedelta(minutes=65))
        await wait_for(handle, lambda s: s.step("permit").escalation_level == 2)
        await handle.execute_update(
            CaseWorkflow.decide,
            decision("permit", d["police"], DecisionKind.reject, reason="材料不实"),
        )
        await handle.result()
    return handle


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, Settings], Awaitable[Handle]]] = {
    "read_model_completed": completed_with_supplement_extension_and_rating,
    "read_model_escalated_rejected": escalated_then_rejected,
}

# Name -> what recorded it. Same scenarios as above, before the read model existed.
FROZEN: dict[str, str] = {
    "completed": "commit e53f535, before the read-model-v1 patch",
    "escalated_rejected": "commit e53f535, before the read-model-v1 patch",
}


async def generate(env: WorkflowEnvironment, output: Path, names: list[str]) -> list[Path]:
    """Run the named scenarios on ``env`` and write their histories into ``output``."""
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            handle = await SCENARIOS[name](env, make_settings(Path(tmp) / name))
            written.append(_save(output / f"{name}.json", await _fetch(env.client, handle)))
    return written


def _save(target: Path, history_json: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(history_json, encoding="utf-8")
    return target


def patch_ids(history_json: str) -> set[str]:
    """The ``workflow.patched`` ids a history recorded (its core_patch markers)."""
    found = set()
    for event in json.loads(history_json)["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") != "core_patch":
            continue
        for payload in marker["details"]["patch-data"]["payloads"]:
            found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.histories.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--output", type=Path, default=HERE, help="directory for NAME.json (default: %(default)s)"
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"scenarios to run (default: all of {', '.join(SCENARIOS)})",
    )
    args = parser.parse_args(argv)
    for name in args.names:
        if name in FROZEN:
            parser.error(f"NAME: {name} is frozen (recorded by {FROZEN[name]}); see the docstring")
        if name not in SCENARIOS:
            parser.error(f"NAME: unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    args.names = args.names or list(SCENARIOS)
    return args


async def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    settings = Settings()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(bundled_binary("temporal-test-server")),
        data_converter=data_converter(settings),
    )
    try:
        for path in await generate(env, args.output, args.names):
            print(f"wrote {path}")
    finally:
        await env.shutdown()


async def _fetch(client: Client, handle: Handle) -> str:
    history = await client.get_workflow_handle(handle.id).fetch_history()
    return history.to_json()


if __name__ == "__main__":
    asyncio.run(main())
