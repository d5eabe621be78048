"""The dev server and the worker subprocesses the benchmark runs, and RSS readings."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from onething.search_attributes import ALL_KEYS
from onething.settings import Settings
from onething.temporal import bundled_binary, data_converter

REPO = Path(__file__).resolve().parent.parent
# Open cases are abandoned with the in-memory server, so nothing is worth a long drain.
STOP_GRACE_SECONDS = 10.0


@asynccontextmanager
async def dev_server(workdir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """The venv's ``temporal`` dev server on a free port, state in memory: a SQLite file on this
    machine's disk made the server itself the bottleneck (persistence timeouts)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(bundled_binary("temporal")),
        data_converter=data_converter(Settings()),
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


class WorkerProcess:
    """``python -m bench.worker ARGS`` with its log in ``workdir``."""

    def __init__(self, name: str, args: Sequence[str], *, workdir: Path) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = workdir / f"worker-{name}.log"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.worker",
                *self.args,
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"worker {self.name} did not start; see {self.log_path}")

    async def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int:
    """The dev server: the ``temporal`` child process of this process."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while the directory was listed
        name = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        if ppid == me and name == "temporal":
            return int(stat.parent.name)
    raise RuntimeError("no temporal dev server among this process's children")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


@asynccontextmanager
async def running(*workers: WorkerProcess) -> AsyncIterator[None]:
    try:
        for w in workers:
            await w.start()
        yield
    finally:
        for w in workers:
            await w.stop()
