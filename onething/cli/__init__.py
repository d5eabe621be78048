"""The ``onething`` command line."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from onething.logs import configure_logging
from onething.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="onething: 高效办成一件事 on Temporal.")


@app.callback()
def _root() -> None:
    s = get_settings()
    configure_logging(fmt=s.log_format, level=s.log_level)


def _register() -> None:
    from onething.cli import bundle, case, system

    app.add_typer(bundle.app, name="bundle")
    app.add_typer(case.app, name="case")
    system.register(app)

    from onething.cli import ops

    ops.register(app)

    from onething.cli import report

    app.command("report")(report.report)

    from onething.cli import api

    api.register(app)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def main() -> None:
    _register()
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
        code = 1
    # The Temporal client's Rust threads can outlive the event loop and abort the interpreter
    # during finalization ("PyGILState_Release ... must be current", temporalio/sdk-python
    # issue 300), turning a finished command into exit 134. Everything is done and flushed
    # here, so leave without the interpreter teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
