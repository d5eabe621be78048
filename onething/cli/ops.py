"""Operations commands: the codec endpoint for the Web UI and the docker-compose generator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from definitions.loader import DefinitionError
from onething.codec import EncryptionConfigError
from onething.settings import get_settings

EXIT_FAILURE = 1
EXIT_INVALID = 2

compose_app = typer.Typer(no_args_is_help=True, help="The production docker-compose topology.")


def codec_server(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default ONETHING_CODEC_SERVER_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default ONETHING_CODEC_SERVER_PORT)")
    ] = None,
) -> None:
    """Serve /encode and /decode so the Temporal Web UI can show encrypted payloads."""
    from onething.codec_server import serve

    settings = get_settings()
    try:
        serve(
            settings,
            host=host or settings.codec_server_host,
            port=port or settings.codec_server_port,
        )
    except EncryptionConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None


@compose_app.command()
def generate(
    output: Annotated[Path, typer.Option(help="Where the file goes")] = Path("docker-compose.yml"),
    departments: Annotated[
        Path | None, typer.Option(help="Department registry (default: the bundled one)")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if OUTPUT is not current")
    ] = False,
) -> None:
    """Write docker-compose.yml from the department registry (one worker per department)."""
    from onething.compose import is_current, load_registry, render

    try:
        registry = load_registry(departments or get_settings().departments_file)
    except DefinitionError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        typer.echo("error: the department registry is invalid", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    text = render(registry)
    if check:
        if not is_current(output, text):
            typer.echo(
                f"{output} is out of date with the department registry;"
                " run `onething compose generate`",
                err=True,
            )
            raise typer.Exit(EXIT_FAILURE)
        typer.echo(f"{output} is current")
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output} ({len(registry.departments)} department worker services)")


def register(app: typer.Typer) -> None:
    app.command("codec-server")(codec_server)
    app.add_typer(compose_app, name="compose")
