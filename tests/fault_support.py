"""Machinery for the fault-tolerance test: a department system that counts what reaches it, and
worker subprocesses that can really be killed (SIGKILL) and started again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class Delivery:
    """One HTTP call from a department worker: the adapter's Idempotency-Key and what it names."""

    key: str
    action: str
    case_code: str
    step_id: str
    arrived: float


class CountingDepartment:
    """A department's own system behind the HTTP adapter. It records every delivery, applies
    each Idempotency-Key once (a repeated key gets the first answer again, no new effect), and
    holds each call for ``hold_seconds`` so a worker can be killed while a call is open."""

    def __init__(self, *, hold_seconds: float) -> None:
        self.hold_seconds = hold_seconds
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._answers: dict[str, bytes] = {}
        self._open: dict[int, Delivery] = {}
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        department = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                department._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # the test reads the counters, not an access log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="counting-department", daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def raw_counts(self) -> Counter[str]:
        return Counter(d.key for d in self.deliveries())

    def effects(self) -> dict[str, Delivery]:
        """The department's view: one effect per key, the first delivery that carried it."""
        first: dict[str, Delivery] = {}
        for d in self.deliveries():
            first.setdefault(d.key, d)
        return first

    def open_calls(self, *, fresher_than: float) -> list[Delivery]:
        """Calls being held that arrived less than ``fresher_than`` seconds ago, i.e. that will
        certainly still be open a moment from now."""
        now = time.monotonic()
        with self._lock:
            return [d for d in self._open.values() if now - d.arrived < fresher_than]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        try:
            body = json.loads(request.rfile.read(length) or b"{}")
        except ValueError:
            self._send(request, 400, {"error": "body: not JSON"})
            return
        key = request.headers.get("Idempotency-Key") or ""
        parts = key.split(":")
        problem = _key_problem(parts, body)
        if problem:
            self._send(request, 400, {"error": problem})
            return
        case_code, step_id, action = parts
        delivery = Delivery(key, action, case_code, step_id, time.monotonic())
        token = id(delivery)
        with self._lock:
            self._deliveries.append(delivery)
            self._open[token] = delivery
            answer = self._answers.setdefault(key, _answer(action))
        try:
            time.sleep(self.hold_seconds)
            self._send_raw(request, 200, answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller was killed mid-call; its retry carries the same key
        finally:
            with self._lock:
                del self._open[token]

    def _send(self, request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        self._send_raw(request, status, json.dumps(body).encode())

    @staticmethod
    def _send_raw(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def _key_problem(parts: list[str], body: dict[str, Any]) -> str | None:
    if len(parts) != 3:
        return "Idempotency-Key: expected CASE:STEP:ACTION"
    case_code, step_id, action = parts
    if body.get("action") != action:
        return f"Idempotency-Key: action {action!r} differs from the body's {body.get('action')!r}"
    step = body.get("step")
    body_step = step.get("id") if isinstance(step, dict) else body.get("step_id")
    if body.get("case_code") != case_code or body_step != step_id:
        return "Idempotency-Key: case or step differs from the body"
    return None


def _answer(action: str) -> bytes:
    if action == "decide":
        return json.dumps(
            {"decision": "approve", "reason": "department system: checks passed"}
        ).encode()
    return json.dumps({"accepted": True}).encode()


def write_departments(definitions_dir: Path, codes: list[str]) -> None:
    """A registry holding just the test's departments (``onething worker`` refuses others),
    written as JSON, which is also YAML."""
    definitions_dir.mkdir(parents=True, exist_ok=True)
    registry = {
        "departments": [{"code": c, "name": f"测试部门 {c}", "region": "510100"} for c in codes]
    }
    (definitions_dir / "departments.yaml").write_text(
        json.dumps(registry, ensure_ascii=False, indent=2), encoding="utf-8"
    )


def worker_env(overrides: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any ONETHING_* setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETHING_")}
    env.update(overrides)
    return env


class WorkerProcess:
    """One ``onething worker`` subprocess; every start writes its own log file."""

    READY = "worker serving"

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_dir = log_dir
        self.starts = 0
        self.kills = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "onething"), "worker", *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.log_dir,  # no stray .env from the checkout
            start_new_session=True,
        )

    async def ready(self, *, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self.READY not in self.log_path.read_text(errors="replace"):
            if not self.alive:
                raise AssertionError(f"{self.name} exited: {self.tail()}")
            if time.monotonic() > end:
                raise AssertionError(f"{self.name} not ready within {seconds}s: {self.tail()}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """kill -9: no shutdown, in-flight activities are simply abandoned."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(timeout=10)
        self.kills += 1
        self._close_log()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; safe to call on a dead process."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._close_log()

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
