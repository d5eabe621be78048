"""``onething bundle ...``: validate, publish and version bundle definitions."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Author, validate, publish and version bundles.")
