"""tests/histories/generate.py: it regenerates every history the current code can produce, into
a directory of one's choice, and what it writes replays. The committed files are never written
here (the generator runs into tmp_path)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from onething.settings import Settings
from onething.temporal import data_converter
from tests.histories.generate import FROZEN, HERE, SCENARIOS, _arguments, generate, patch_ids
from workflows.case import READ_MODEL_PATCH, CaseWorkflow

COMMITTED = sorted(HERE.glob("*.json"))


def _digests() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in COMMITTED}


def _event_types(text: str) -> Counter[str]:
    return Counter(str(e["eventType"]) for e in json.loads(text)["events"])


def test_every_committed_history_is_generated_or_frozen() -> None:
    assert {p.stem for p in COMMITTED} == set(SCENARIOS) | set(FROZEN)
    assert not set(SCENARIOS) & set(FROZEN)
    for path in COMMITTED:
        recorded = patch_ids(path.read_text(encoding="utf-8"))
        # Frozen histories are the pre-patch recordings; the current code always takes the patch.
        assert (READ_MODEL_PATCH in recorded) is (path.stem in SCENARIOS), path.name


def test_arguments() -> None:
    args = _arguments([])
    assert args.output == HERE and args.names == list(SCENARIOS)
    args = _arguments(["--output", "/tmp/x", "read_model_completed"])
    assert args.output == Path("/tmp/x") and args.names == ["read_model_completed"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("completed", "NAME: completed is frozen"), ("nope", "NAME: unknown scenario 'nope'")],
)
def test_arguments_refuse_frozen_and_unknown_names(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _arguments([name])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


async def test_generated_histories_replay(
    time_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    before = _digests()
    written = await generate(time_env, tmp_path / "out", list(SCENARIOS))
    assert [p.name for p in written] == [f"{name}.json" for name in SCENARIOS]
    assert _digests() == before  # the committed histories are untouched
    replayer = Replayer(workflows=[CaseWorkflow], data_converter=data_converter(settings))
    for path in written:
        text = path.read_text(encoding="utf-8")
        result = await replayer.replay_workflow(
            WorkflowHistory.from_json(path.stem, text), raise_on_replay_failure=True
        )
        assert result.replay_failure is None
        assert READ_MODEL_PATCH in patch_ids(text)
        # The same scenario as the committed recording: same kinds of events (counts may
        # differ by a workflow task where the time-skipping server batches differently).
        committed = _event_types((HERE / path.name).read_text(encoding="utf-8"))
        assert set(_event_types(text)) == set(committed), path.name
        assert (
            _event_types(text)["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"]
            == (committed["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"])
        )
