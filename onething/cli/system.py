"""``onething up``, ``onething worker`` and ``onething demo``: run the system.

Exit codes: 0 clean stop; 2 invalid input (e.g. an unknown department); 1 anything else
(server failed to start, definitions invalid, Temporal unreachable), as a message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from definitions.validation import DefinitionError
from onething import caseops
from onething.embedded import DevServerError, server_answers
from onething.launcher import LaunchError, run_up, run_worker
from onething.settings import Settings, get_settings
from onething.temporal import connect

EXIT_FAILURE = 1
EXIT_INVALID = 2


def _say(line: str) -> None:
    # Flushed at once: `up` runs for hours and a supervisor reads its output through a pipe.
    typer.echo(line)


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(data_dir: Path | None) -> Settings:
    # Re-read from the environment so the SQLite database follows the data directory unless
    # ONETHING_DATABASE_URL names one explicitly.
    return get_settings() if data_dir is None else Settings(data_dir=data_dir)


def up(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where the SQLite files live (default: ONETHING_DATA_DIR, .onething)."),
    ] = None,
) -> None:
    """Start the embedded system: Temporal dev server, database, definitions, all workers."""
    settings = _settings(data_dir)
    try:
        asyncio.run(run_up(settings, say=_say))
    except (LaunchError, DevServerError) as exc:
        _fail(str(exc))
    except DefinitionError as exc:
        _fail("definitions invalid:\n" + "\n".join(str(i) for i in exc.issues))
    except SQLAlchemyError as exc:
        _fail(f"database error: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")
    except RuntimeError as exc:
        _fail(f"{exc}")


def worker(
    department: Annotated[
        str | None, typer.Option(help="Serve this department's activities (its task queue).")
    ] = None,
    orchestrator: Annotated[
        bool, typer.Option("--orchestrator", help="Serve the case workflows and shared activities.")
    ] = False,
) -> None:
    """Run one worker until SIGINT/SIGTERM (graceful shutdown)."""
    if orchestrator == (department is not None):
        _fail("give exactly one of --department CODE or --orchestrator", EXIT_INVALID)
    settings = get_settings()
    try:
        asyncio.run(run_worker(settings, department=department, say=_say))
    except LaunchError as exc:
        _fail(str(exc), EXIT_INVALID)
    except RuntimeError as exc:
        # temporalio reports an unreachable server as RuntimeError("Failed client connect...").
        _fail(f"{exc}; is `onething up` running at {settings.temporal_address}?")


def demo(
    wait: Annotated[
        int,
        typer.Option(help="Seconds to wait for the escalation (0: don't wait).", min=0),
    ] = 150,
) -> None:
    """Submit and drive demo cases against a running `onething up`."""
    from onething.demo import run_demo
    from onething.launcher import next_steps

    settings = get_settings()

    async def go() -> None:
        if not await server_answers(settings):
            _fail(
                f"no Temporal server answers at {settings.temporal_address}; "
                "start the system first: onething up"
            )
        client = await connect(settings)
        cases = await run_demo(client, settings, say=_say, wait_escalation_seconds=wait)
        _say("")
        _say(
            "case code                              bundle                        goal      status"
        )
        for c in cases:
            _say(f"{c.case_code:<38} {c.bundle:<29} {c.goal:<9} {c.status}")
        _say("")
        _say(next_steps(settings, running_up=False))

    try:
        asyncio.run(go())
    except caseops.NoAnswerError as exc:
        _fail(f"{exc} (is `onething up` running?)")
    except SQLAlchemyError as exc:
        _fail(f"database error: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(worker)
    app.command()(demo)
