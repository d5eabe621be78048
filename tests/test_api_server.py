"""Serving the API over a real socket: `onething api`, and the embedded server `onething up`
starts (address printed, development tokens written and accepted)."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from onething.api.devtokens import TOKENS_FILE
from onething.api.server import ApiServerError, bind, start_embedded
from onething.settings import ApiIdentity, Settings
from tests.casekit import cli_app, free_port


async def test_embedded_api_prints_its_address_and_accepts_dev_tokens(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}", api_port=port
    )
    lines: list[str] = []
    stop = asyncio.Event()
    task = await start_embedded(
        settings,
        client=dev_env.client,
        departments=["510000.market"],
        stop=stop,
        say=lines.append,
    )
    try:
        assert any(f"HTTP API: http://127.0.0.1:{port}" in line for line in lines), lines
        tokens = json.loads((tmp_path / TOKENS_FILE).read_text(encoding="utf-8"))
        officer = next(t for t, v in tokens.items() if v["subject"] == "officer@510000.market")
        # The token itself is printed only for the admin (the curl example).
        assert not any(officer in line for line in lines)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(50):
                try:
                    resp = await client.get(
                        "/api/me", headers={"Authorization": f"Bearer {officer}"}
                    )
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            assert resp.json()["department"] == "510000.market"
            assert (await client.get("/api/me")).status_code == 401
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert task.done() and task.exception() is None


def test_a_busy_port_is_an_error_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ApiServerError, match=f"api_port: cannot listen on http://127.0.0.1:{port}"
        ):
            bind("127.0.0.1", port)


def test_cli_api_refuses_to_start_without_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from onething.settings import get_settings

    monkeypatch.delenv("ONETHING_API_TOKENS", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app(), ["api", "--port", str(free_port())])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no API tokens configured" in result.output


def test_cli_api_reports_a_busy_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from onething.settings import get_settings

    token = secrets.token_urlsafe(16)
    ident = ApiIdentity(subject="a", role="admin").model_dump(exclude_none=True)
    monkeypatch.setenv("ONETHING_API_TOKENS", json.dumps({token: ident}))
    get_settings.cache_clear()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            result = CliRunner().invoke(cli_app(), ["api", "--port", str(port)])
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 1
    assert f"cannot listen on http://127.0.0.1:{port}" in result.output
    assert token not in result.output


async def test_onething_api_serves_until_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import sys

    token = secrets.token_urlsafe(16)
    ident = ApiIdentity(subject="adm", role="admin").model_dump(exclude_none=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETHING_")}
    env |= {
        "ONETHING_API_TOKENS": json.dumps({token: ident}),
        "ONETHING_DATA_DIR": str(tmp_path),
        "ONETHING_LOG_FORMAT": "json",
    }
    exe = Path(sys.executable).parent / "onething"
    proc = await asyncio.create_subprocess_exec(
        str(exe),
        "api",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert f"http://127.0.0.1:{port}" in line.decode()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(50):
                try:
                    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            assert resp.json()["role"] == "admin"
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert token not in err.decode()
