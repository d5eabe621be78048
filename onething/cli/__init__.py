"""The ``onething`` command line."""

from __future__ import annotations

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


def main() -> None:
    _register()
    app()
