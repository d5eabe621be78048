"""``onething up`` as a user runs it: a subprocess with its own data directory and free ports,
up until it prints the Web UI address, then SIGTERM and a clean exit; run again on the same
data directory, it reuses the SQLite files: nothing to publish any more, and a case submitted
in the first run is still open in the second."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from definitions.validation import load_departments, validate_paths
from onething.demo import sample_application
from onething.embedded import dev_server_command, split_address
from onething.search_attributes import ALL_KEYS
from onething.settings import Settings
from tests.casekit import free_port

START_SECONDS = 120
STOP_SECONDS = 60


def test_dev_server_command_registers_every_search_attribute(tmp_path: Path) -> None:
    settings = Settings(
        temporal_address="127.0.0.1:7300", temporal_ui_port=8300, temporal_namespace="cases"
    )
    cmd = dev_server_command(settings, data_dir=tmp_path)
    assert cmd[1:3] == ["server", "start-dev"]
    assert cmd[cmd.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert cmd[cmd.index("--port") + 1] == "7300"
    assert cmd[cmd.index("--ui-port") + 1] == "8300"
    assert cmd[cmd.index("--namespace") + 1] == "cases"
    registered = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--search-attribute"]
    assert len(registered) == len(ALL_KEYS)
    assert "OnethingPendingDepartments=KeywordList" in registered
    assert "OnethingDeadline=Datetime" in registered


@pytest.mark.parametrize("address", ["localhost", "host:port", ":"])
def test_bad_temporal_address_is_named(address: str) -> None:
    with pytest.raises(ValueError, match="temporal_address"):
        split_address(address)


async def _read_until(
    stream: asyncio.StreamReader, marker: str, seconds: float, seen: list[str]
) -> str:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        left = end - loop.time()
        if left <= 0:
            raise AssertionError(f"no {marker!r} within {seconds}s; output so far: {seen}")
        raw = await asyncio.wait_for(stream.readline(), left)
        if not raw:
            raise AssertionError(f"output ended before {marker!r}: {seen}")
        line = raw.decode().rstrip()
        seen.append(line)
        if marker in line:
            return line


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "onething"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _run_up(
    data_dir: Path,
    env: dict[str, str],
    while_up: Callable[[], Awaitable[None]] | None = None,
) -> list[str]:
    """Start `onething up`, wait for the UI address, check it answers, run ``while_up``,
    SIGTERM, clean exit."""
    exe = Path(sys.executable).parent / "onething"
    with (data_dir.parent / "up-stderr.log").open("ab") as stderr:
        proc = await asyncio.create_subprocess_exec(
            str(exe),
            "up",
            "--data-dir",
            str(data_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        seen: list[str] = []
        try:
            assert proc.stdout is not None
            line = await _read_until(proc.stdout, "Temporal Web UI:", START_SECONDS, seen)
            url = line.split("Temporal Web UI:", 1)[1].strip()
            assert url.startswith(f"http://127.0.0.1:{env['ONETHING_TEMPORAL_UI_PORT']}/")
            await _read_until(proc.stdout, "Stop with Ctrl-C.", 10, seen)
            status = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).status)
            assert status == 200
            if while_up is not None:
                await while_up()
            proc.send_signal(signal.SIGTERM)
            rest, _ = await asyncio.wait_for(proc.communicate(), STOP_SECONDS)
            seen += rest.decode().splitlines()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, seen
    return seen


async def test_up_starts_serves_and_stops_cleanly_then_reuses_its_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ONETHING_") or k == "ONETHING_TEST_POSTGRES_URL"
    }
    env |= {
        "ONETHING_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "ONETHING_TEMPORAL_UI_PORT": str(free_port()),
        "ONETHING_API_PORT": str(free_port()),
        "ONETHING_LOG_FORMAT": "json",
    }
    env["ONETHING_DATA_DIR"] = str(data_dir)  # so the `case` commands find the same files
    bundle_code = "marriage-hukou"
    departments = load_departments(Settings().departments_file)
    [loaded] = validate_paths([Settings().bundles_dir / f"{bundle_code}.yaml"], departments)[0]
    applicant_id, form, materials = sample_application(loaded.bundle, random.Random(5))
    form_path = tmp_path / "form.json"
    form_path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    submitted: list[str] = []

    async def submit_one() -> None:
        code, out = await _cli(
            env,
            "case",
            "submit",
            bundle_code,
            "--applicant-id",
            applicant_id,
            "--applicant-name",
            "冯十二",
            "--form",
            str(form_path),
            "--materials",
            ",".join(materials),
        )
        assert code == 0, out
        submitted.append(out.strip())

    async def still_open() -> None:
        # The automatic checks may still have been in flight at shutdown; they finish now.
        for _ in range(40):
            code, out = await _cli(env, "case", "show", submitted[0], "--json")
            assert code == 0, out
            state = json.loads(out)
            assert state["status"] == "running"
            if any(s["status"] == "awaiting_decision" for s in state["steps"]):
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"the manual step never came up for decision: {state}")

    first = await _run_up(data_dir, env, submit_one)
    assert any(line.startswith("Starting the Temporal dev server") for line in first)
    published = [line for line in first if line.startswith("published ")]
    assert len(published) == len(list(Settings().bundles_dir.glob("*.yaml")))
    assert "Stopping (SIGTERM): workers stopped." in first
    assert "Temporal dev server stopped (exit 0)." in first
    assert (data_dir / "temporal.db").exists() and (data_dir / "onething.db").exists()

    again = await _run_up(data_dir, env, still_open)
    logs = (tmp_path / "up-stderr.log").read_text(encoding="utf-8")
    assert submitted[0] in logs  # the case code is bound in the workers' log lines
    assert applicant_id not in logs and "冯十二" not in logs
    assert not [line for line in again if line.startswith("published ")]
    assert "Temporal dev server stopped (exit 0)." in again


@pytest.mark.parametrize(
    "args",
    [[], ["--orchestrator", "--department", "510000.market"], ["--department", "510000.nope"]],
    ids=["neither", "both", "unknown-department"],
)
def test_worker_arguments_are_checked(args: list[str], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tests.casekit import cli_app

    env = {"ONETHING_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    result = CliRunner().invoke(cli_app(), ["worker", *args], env=env)
    assert result.exit_code == 2, result.output
    assert "department" in result.stderr


@pytest.mark.parametrize("mode", [["--orchestrator"], ["--department", "510000.market"]])
async def test_worker_stops_gracefully_on_sigterm(
    dev_env: WorkflowEnvironment, tmp_path: Path, mode: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETHING_")}
    env |= {
        "ONETHING_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "ONETHING_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "ONETHING_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "onething"),
        "worker",
        *mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        await _read_until(proc.stdout, "worker serving", START_SECONDS, seen)
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), STOP_SECONDS)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert "stopped (SIGTERM)" in rest.decode()


async def test_up_uses_a_server_that_already_answers(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """With a server at the address, `up` says so and starts none; asked to stop before the
    workers run, it builds them, stops, and leaves the other server alone."""
    from onething.embedded import StopSignal
    from onething.launcher import run_up

    client = dev_env.client
    settings = Settings(
        temporal_address=client.service_client.config.target_host,
        data_dir=tmp_path,
    )
    stop = StopSignal()
    stop.event.set()
    lines: list[str] = []
    await run_up(settings, say=lines.append, stop=stop)
    assert lines[0].startswith("A Temporal server already answers at")
    assert not any(line.startswith("Starting the Temporal dev server") for line in lines)
    assert any(line.startswith("published ") for line in lines)
    assert not any("dev server stopped" in line for line in lines)
    assert not (tmp_path / "temporal.db").exists()
    await client.service_client.check_health()


async def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    from onething.embedded import DevServer, DevServerError

    (tmp_path / "temporal.db").mkdir()  # SQLite cannot open a directory: the server exits
    settings = Settings(temporal_address=f"127.0.0.1:{free_port()}", temporal_ui_port=free_port())
    server = DevServer(settings, data_dir=tmp_path)
    with pytest.raises(DevServerError, match="exited with code") as info:
        await server.start(wait_seconds=60)
    assert str(server.log_path) in str(info.value)
    assert server.log_path.stat().st_size > 0
