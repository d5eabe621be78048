"""Replay committed histories against the current workflow code: a change that running cases
could not follow (non-determinism) fails here. Histories come from tests/histories/generate.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from onething.settings import Settings
from onething.temporal import data_converter
from workflows.case import CaseWorkflow
from workflows.models import WORKFLOW_NAME, CaseInput, CaseState

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    assert {p.stem for p in HISTORIES} >= {"completed", "escalated_rejected"}


def _history(path: Path) -> tuple[WorkflowHistory, list[dict[str, object]]]:
    raw = path.read_text(encoding="utf-8")
    events: list[dict[str, object]] = json.loads(raw)["events"]
    return WorkflowHistory.from_json(path.stem, raw), events


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path, settings: Settings) -> None:
    history, events = _history(path)
    replayer = Replayer(workflows=[CaseWorkflow], data_converter=data_converter(settings))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
    # The history really exercised the case: it ran to a close with updates in between.
    kinds = {e.get("eventType") for e in events}
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED" in kinds
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED" in kinds


@workflow.defn(name=WORKFLOW_NAME, sandboxed=False)
class DriftedCase:
    """Same workflow type, different commands: what an incompatible code change looks like."""

    @workflow.run
    async def run(self, request: CaseInput) -> CaseState:
        await workflow.sleep(timedelta(seconds=1))
        raise RuntimeError("unreachable in replay")


async def test_replay_detects_an_incompatible_change(settings: Settings) -> None:
    history, _ = _history(HISTORIES[0])
    replayer = Replayer(workflows=[DriftedCase], data_converter=data_converter(settings))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
