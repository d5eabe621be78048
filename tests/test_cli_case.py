"""``onething case ...`` through Typer's CliRunner against the dev server, with the workers
running in this test. The CLI runs in a thread (it calls asyncio.run) while the workers keep
polling on the test's event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from onething.casecode import format_case_code
from onething.queues import ORCHESTRATOR_TASK_QUEUE
from onething.settings import get_settings
from tests.casekit import (
    GOOD_FORM,
    cli_app,
    department,
    eventually,
    orchestrator,
    publish,
    resident_id,
    running,
    settings_for,
    small_bundle,
    unique_department,
)


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    from onething.logs import configure_logging

    # Configure logging now, on the test's stderr: configured inside the first invoke, it
    # would keep writing to that CliRunner's stream, which is closed once the invoke returns.
    configure_logging(fmt="console", force=True)
    return cli_app()


@pytest.fixture
def cli_env(
    dev_env: WorkflowEnvironment, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    client = dev_env.client
    monkeypatch.setenv("ONETHING_TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("ONETHING_TEMPORAL_NAMESPACE", client.namespace)
    monkeypatch.setenv("ONETHING_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(app: typer.Typer, *args: str) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), catch_exceptions=False))


def form_file(tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / f"form-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    return str(path)


async def test_case_commands_end_to_end(
    cli: typer.Typer, cli_env: None, dev_env: WorkflowEnvironment, db_url: str, tmp_path: Path
) -> None:
    client = dev_env.client
    settings = settings_for(client, db_url)
    manual, auto = unique_department("a"), unique_department("b")
    b = small_bundle(manual_dept=manual, auto_dept=auto)
    publish(db_url, b)
    person = resident_id(birth="19800229", seq="789")
    submit = [
        "case",
        "submit",
        b.code,
        "--applicant-id",
        person,
        "--applicant-name",
        "周九",
        "--materials",
        "id-card",
    ]

    # Bad input: every problem named on stderr, exit 2, nothing started.
    bad = await invoke(
        cli,
        *submit,
        "--form",
        form_file(tmp_path, {"household_size": "x", "color": 1}),
        "--channel",
        "fax",
    )
    assert bad.exit_code == 2, bad.output
    for field in ("form.full_address", "form.household_size", "form.color", "channel"):
        assert field in bad.stderr
    assert person not in bad.stderr

    workers = [
        orchestrator(client, settings, ORCHESTRATOR_TASK_QUEUE),
        department(client, settings, manual),
        department(client, settings, auto),
    ]
    async with running(workers):
        good = [*submit, "--form", form_file(tmp_path, GOOD_FORM), "--request-id", "cli-req-1"]
        first = await invoke(cli, *good)
        assert first.exit_code == 0, first.output
        code = first.stdout.strip()
        again = await invoke(cli, *good, "--json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout) | {"created": False} == json.loads(again.stdout)
        assert json.loads(again.stdout)["case_code"] == code

        async def shown() -> Result:
            return await invoke(cli, "case", "show", code, "--json")

        result = await eventually(
            shown,
            lambda r: (
                r.exit_code == 0
                and json.loads(r.stdout)["steps"][0]["status"] == "awaiting_decision"
            ),
            what="manual step awaiting decision",
        )
        text = await invoke(cli, "case", "show", code)
        assert text.exit_code == 0
        for expected in (code, "测试一件事", "approve", "awaiting_decision", manual, "timeline"):
            assert expected in text.stdout
        assert person not in text.stdout and person not in result.stdout

        decide = ["case", "decide", code, "approve"]
        wrong = await invoke(cli, *decide, "approve", "--officer", "o1", "--department", auto)
        assert wrong.exit_code == 2 and "department" in wrong.stderr
        unknown_step = await invoke(cli, *decide, "nope", "--officer", "o1", "--department", manual)
        assert unknown_step.exit_code == 2 and "nope" in unknown_step.stderr
        ok = await invoke(cli, *decide, "approve", "--officer", "o1", "--department", manual)
        assert ok.exit_code == 0, ok.output
        assert "approved" in ok.stdout
        # The automatic check may already have closed the case; either way it is refused.
        twice = await invoke(cli, *decide, "approve", "--officer", "o1", "--department", manual)
        assert twice.exit_code == 2
        assert any(
            why in twice.stderr for why in ("already has a decision", "is closing", "is closed")
        ), twice.stderr
        assert "ValueError" not in twice.stderr

        async def status() -> str:
            r = await invoke(cli, "case", "show", code, "--json")
            return str(json.loads(r.stdout)["status"])

        await eventually(status, lambda s: s == "completed", what="case completed")

        rated = await invoke(cli, "case", "rate", code, "satisfied", "--comment", "快")
        assert rated.exit_code == 0, rated.output
        # A satisfied rating ends the case's aftercare, so the case takes no second one.
        rated_again = await invoke(cli, "case", "rate", code, "满意")
        assert rated_again.exit_code == 2
        assert "already rated" in rated_again.stderr or "is closed" in rated_again.stderr
        bad_level = await invoke(cli, "case", "rate", code, "great")
        assert bad_level.exit_code == 2 and "level" in bad_level.stderr

        async def listed() -> Result:
            return await invoke(cli, "case", "list", "--bundle", b.code, "--json")

        rows = await eventually(
            listed,
            lambda r: (
                [row["case_code"] for row in json.loads(r.stdout)] == [code]
                and json.loads(r.stdout)[0]["status"] == "completed"
            ),
            what="case listed as completed",
        )
        assert person not in rows.stdout
        table = await invoke(cli, "case", "list", "--bundle", b.code, "--status", "completed")
        assert code in table.stdout and "1 case(s)" in table.stdout

        # A second case, withdrawn by the applicant.
        other = await invoke(cli, *submit, "--form", form_file(tmp_path, GOOD_FORM))
        other_code = other.stdout.strip()

        async def dispatched() -> Result:
            return await invoke(cli, "case", "show", other_code, "--json")

        await eventually(
            dispatched,
            # 补正 needs the step's deadline, which an activity computes after the step starts.
            lambda r: (
                r.exit_code == 0
                and json.loads(r.stdout)["steps"][0]["status"] == "awaiting_decision"
                and json.loads(r.stdout)["steps"][0]["due_at"] is not None
            ),
            what="second case dispatched with its deadline",
        )
        # 补正: the officer asks for material, the clock stops; the applicant supplies it.
        ask = await invoke(
            cli,
            "case",
            "decide",
            other_code,
            "approve",
            "supplement",
            "--officer",
            "o2",
            "--department",
            manual,
            "--reason",
            "照片不清晰",
            "--materials",
            "photo",
        )
        assert ask.exit_code == 0, ask.output
        assert "supplementing" in ask.stdout
        too_few = await invoke(cli, "case", "supplement", other_code, "--materials", "id-card")
        assert too_few.exit_code == 2 and "still needs photo" in too_few.stderr
        supplied = await invoke(cli, "case", "supplement", other_code, "--materials", "photo")
        assert supplied.exit_code == 0, supplied.output
        ledger = await invoke(cli, "case", "show", other_code)
        assert "照片不清晰" in ledger.stdout and "awaiting_decision" in ledger.stdout

        withdrawn = await invoke(cli, "case", "withdraw", other_code, "--reason", "不办了")
        assert withdrawn.exit_code == 0, withdrawn.output
        assert "withdrawn" in withdrawn.stdout

        history = await invoke(cli, "case", "history", code)
        assert history.exit_code == 0
        for kind in ("workflow_execution_started", "activity_task_scheduled", "update_accepted"):
            assert kind in history.stdout
        assert person not in history.stdout


async def test_unknown_and_malformed_codes(
    cli: typer.Typer, cli_env: None, dev_env: WorkflowEnvironment
) -> None:
    missing = format_case_code(region="510100", abbr="NOPE", day=date(2026, 1, 5), seq=1)
    for args in (
        ["show", missing],
        ["history", missing],
        ["withdraw", missing],
        ["decide", missing, "s", "approve", "--officer", "o", "--department", "510100.x"],
    ):
        result = await invoke(cli, "case", *args)
        assert result.exit_code == 1, (args, result.output)
        assert f"case {missing} not found" in result.stderr
        assert "Traceback" not in result.output

    typo = missing[:-1] + ("0" if missing[-1] != "0" else "1")
    result = await invoke(cli, "case", "show", typo)
    assert result.exit_code == 2 and "case_code" in result.stderr


async def test_list_rejects_unknown_status_and_odd_codes(cli: typer.Typer, cli_env: None) -> None:
    result = await invoke(cli, "case", "list", "--status", "lost")
    assert result.exit_code == 2 and "status" in result.stderr
    result = await invoke(cli, "case", "list", "--department", "x' OR 1=1")
    assert result.exit_code == 2 and result.stderr.startswith("department:")


async def test_submit_form_file_errors_are_named(
    cli: typer.Typer, cli_env: None, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = await invoke(
        cli,
        "case",
        "submit",
        "x",
        "--applicant-id",
        resident_id(),
        "--applicant-name",
        "吴十",
        "--form",
        str(broken),
    )
    assert result.exit_code == 2 and "form:" in result.stderr and "not JSON" in result.stderr


async def test_unreachable_temporal_is_a_message(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.casekit import free_port

    monkeypatch.setenv("ONETHING_TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    try:
        code = format_case_code(region="510100", abbr="JHLH", day=date(2026, 1, 5), seq=1)
        result = await invoke(cli, "case", "show", code)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "cannot reach Temporal" in result.stderr and "Traceback" not in result.output
