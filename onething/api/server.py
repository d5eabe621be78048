"""Serving the API with uvicorn, alone (``onething api``) or inside ``onething up``.

The socket is bound here, before uvicorn starts, so a port already in use is an error with
the address in it (uvicorn itself would exit the process). Signals stay with the caller's
StopSignal: the server stops when the given event is set."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Generator

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from onething.api.app import create_app
from onething.settings import Settings


class ApiServerError(RuntimeError):
    """The API cannot listen where it was told to."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The caller's StopSignal owns SIGINT/SIGTERM and stops workers and API in order.
        yield


def api_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ApiServerError(
            f"api_port: cannot listen on {api_url(host, port)}: {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event,
    sock: socket.socket,
    client: Client | None = None,
    app: FastAPI | None = None,
) -> None:
    """Serve until ``stop`` is set; in-flight requests finish first."""
    config = uvicorn.Config(
        app or create_app(settings, client=client),
        log_config=None,
        # Request lines carry case codes and filters only, but an access log adds nothing
        # the structured logs lack.
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)

    async def watch() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        sock.close()


def embedded_settings(settings: Settings, departments: list[str]) -> tuple[Settings, list[str]]:
    """Settings for the API inside ``onething up``, and what to tell the user about tokens:
    configured tokens are used as they are; otherwise development tokens from the data dir."""
    from onething.api import devtokens

    if settings.api_tokens:
        return settings, ["API tokens: from ONETHING_API_TOKENS"]
    path, tokens = devtokens.load_or_create(settings.data_dir, departments)
    admin = devtokens.token_for(tokens, "admin")
    lines = [
        f"API tokens (development): {path} (admin, applicant-demo, officer@<department>, "
        "supervisor@<department>)",
        f"  e.g. curl -H 'Authorization: Bearer {admin}' "
        f"{api_url(settings.api_host, settings.api_port)}/api/bundles",
    ]
    return settings.model_copy(update={"api_tokens": tokens}), lines


async def start_embedded(
    settings: Settings,
    *,
    client: Client,
    departments: list[str],
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> asyncio.Task[None]:
    """Bind, announce the address, and serve in a task that ends when ``stop`` is set."""
    api_settings, lines = embedded_settings(settings, departments)
    sock = bind(settings.api_host, settings.api_port)
    base = api_url(settings.api_host, settings.api_port)
    say(f"HTTP API: {base} (OpenAPI at {base}/docs, console at {base}/console/)")
    for line in lines:
        say(line)
    return asyncio.create_task(serve(api_settings, stop=stop, sock=sock, client=client), name="api")
