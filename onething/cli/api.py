"""``onething api``: serve the HTTP API (and the web console) against a running system.

Exit codes: 0 clean stop (SIGINT/SIGTERM); 1 the address cannot be bound or no tokens are
configured."""

from __future__ import annotations

import asyncio
from typing import Annotated, NoReturn

import typer

from onething.api.server import ApiServerError, api_url, bind, serve
from onething.embedded import StopSignal
from onething.settings import Settings, get_settings

EXIT_FAILURE = 1


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_FAILURE)


async def run_api(settings: Settings, *, host: str, port: int, stop: StopSignal) -> None:
    sock = bind(host, port)
    stop.install()
    try:
        typer.echo(f"onething API on {api_url(host, port)} (OpenAPI at /docs); stop with Ctrl-C")
        await serve(settings, stop=stop.event, sock=sock)
    finally:
        stop.uninstall()


def api(
    host: Annotated[str | None, typer.Option(help="Listen address (ONETHING_API_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (ONETHING_API_PORT).", min=0, max=65535)
    ] = None,
) -> None:
    """Serve the HTTP API until SIGINT/SIGTERM; tokens come from ONETHING_API_TOKENS."""
    settings = get_settings()
    if not settings.api_tokens:
        _fail(
            "no API tokens configured: set ONETHING_API_TOKENS (JSON {token: {subject, role, "
            "department, applicant_id}}), or use `onething up`, which writes development tokens"
        )
    try:
        asyncio.run(
            run_api(
                settings,
                host=host or settings.api_host,
                port=settings.api_port if port is None else port,
                stop=StopSignal(),
            )
        )
    except ApiServerError as exc:
        _fail(str(exc))


def register(app: typer.Typer) -> None:
    app.command()(api)
