"""``onething bundle ...``: validate, publish and version bundle definitions.

Exit codes: 0 success; 2 invalid input (every issue on stderr, one per line, file:line:col);
1 any other failure (unknown bundle or version, database unreachable), as a message, never a
traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from definitions.schema import Bundle, Department, DepartmentRegistry, Step
from definitions.validation import (
    DefinitionError,
    Issue,
    LoadedBundle,
    has_errors,
    load_departments,
    validate_paths,
)
from onething import registry
from onething.bundle_diff import diff as diff_bundles
from onething.bundle_diff import render_value
from onething.db import migrate, session_scope
from onething.models import BundleVersion, VersionStatus
from onething.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Author, validate, publish and version bundles.")

EXIT_FAILURE = 1
EXIT_INVALID = 2

DepartmentsOption = Annotated[
    Path | None,
    typer.Option(
        "--departments",
        help="Department registry YAML (default: the one in the definitions directory).",
        dir_okay=False,
    ),
]
PathsArgument = Annotated[
    list[Path], typer.Argument(help="Bundle YAML files, or directories of *.yaml files.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _print_issues(issues: Sequence[Issue]) -> None:
    for issue in issues:
        typer.echo(str(issue), err=True)


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Directories stand for the *.yaml files in them; other paths pass through (a missing
    file is reported by validation with its name)."""
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


def _departments(path: Path | None) -> DepartmentRegistry:
    try:
        return load_departments(path or get_settings().departments_file)
    except DefinitionError as exc:
        _print_issues(exc.issues)
        typer.echo("error: the department registry is invalid", err=True)
        raise typer.Exit(EXIT_INVALID) from None


def _validate(paths: Sequence[Path], departments: Path | None) -> list[LoadedBundle]:
    """Every file's issues on stderr; exit 2 if any of them is an error."""
    files = _expand(paths)
    if not files:
        _fail("no bundle files given (directories contained no *.yaml)", EXIT_INVALID)
    loaded, issues = validate_paths(files, _departments(departments))
    _print_issues(issues)
    if has_errors(issues):
        errors = sum(1 for i in issues if i.severity == "error")
        typer.echo(f"{errors} error(s) in {len(files)} file(s)", err=True)
        raise typer.Exit(EXIT_INVALID)
    return loaded


@contextmanager
def _registry_session() -> Iterator[Session]:
    """A session on the migrated database; registry and database failures become exit 1."""
    url = get_settings().database_url
    try:
        migrate(url)
        with session_scope(url) as session:
            yield session
    except registry.RegistryError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        # The DBAPI message names the cause (refused connection, locked file) without a trace.
        _fail(f"database error: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")


def _metadata(row: BundleVersion) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "version": row.version,
        "status": row.status.value,
        "content_hash": row.content_hash,
        "published_at": row.published_at.isoformat(),
        "retired_at": row.retired_at.isoformat() if row.retired_at else None,
    }


def _status_note(row: BundleVersion) -> str:
    return " (retired)" if row.status == VersionStatus.retired else ""


@app.command()
def validate(paths: PathsArgument, departments: DepartmentsOption = None) -> None:
    """Check bundle definitions; every problem is printed as file:line:col: path: reason."""
    loaded = _validate(paths, departments)
    for lb in loaded:
        typer.echo(f"ok {lb.path} ({lb.bundle.code})")


@app.command()
def publish(paths: PathsArgument, departments: DepartmentsOption = None) -> None:
    """Validate, then publish each definition as a new version (nothing if any file is invalid)."""
    loaded = _validate(paths, departments)
    with _registry_session() as session:
        for lb in loaded:
            result = registry.publish(session, bundle=lb.bundle, source_yaml=lb.source_yaml)
            row = result.version
            if result.created:
                typer.echo(f"published {row.code} version {row.version}")
            elif result.retired:
                typer.echo(
                    f"unchanged {row.code} version {row.version} is identical and RETIRED; "
                    "it stays retired (publish changed content to make a new active version)"
                )
            else:
                typer.echo(f"unchanged {row.code} version {row.version} (identical content)")


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every published version of every bundle."""
    with _registry_session() as session:
        rows = registry.list_versions(session)
    if as_json:
        typer.echo(json.dumps([_metadata(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no bundles published yet")
        return
    width = max(len(r.code) for r in rows)
    for r in rows:
        published = r.published_at.strftime("%Y-%m-%d %H:%M")
        typer.echo(
            f"{r.code:<{width}}  v{r.version:<3} {r.status.value:<7}  {published}  "
            f"{r.content_hash[:12]}  {r.name}"
        )


def _department_names(path: Path | None) -> dict[str, Department]:
    """Names for display only: a registry that fails to load degrades to bare codes."""
    try:
        return load_departments(path or get_settings().departments_file).by_code()
    except DefinitionError as exc:
        typer.echo(f"warning: department names unavailable ({len(exc.issues)} issue(s))", err=True)
        return {}


def _step_lines(step: Step, departments: dict[str, Department]) -> list[str]:
    dept = departments.get(step.department)
    dept_text = f"{dept.name} ({step.department})" if dept else step.department
    timing = [f"limit {step.time_limit}"]
    if step.warn_before:
        timing.append(f"warn {step.warn_before} before")
    on_timeout = f"on timeout {step.on_timeout.value}"
    if step.escalation:
        on_timeout += f" ({render_value(step.escalation)})"
    timing.append(on_timeout)
    timing.append(f"extension {render_value(step.extension)}")
    lines = [
        f"  {step.id} [{step.mode.value}] {step.item}",
        f"      department: {dept_text}",
        f"      {', '.join(timing)}",
    ]
    if step.depends_on:
        lines.append(f"      after: {', '.join(step.depends_on)}")
    if step.materials:
        lines.append(f"      materials: {', '.join(step.materials)}")
    return lines


def _summary(row: BundleVersion, bundle: Bundle, departments: dict[str, Department]) -> list[str]:
    lines = [
        f"{bundle.name} ({bundle.code}) version {row.version} [{row.status.value}]",
        f"kind {bundle.kind.value}, applicant {bundle.applicant_type.value}, "
        f"promised limit {bundle.promised_limit}, case code abbreviation {bundle.abbr}",
        f"hash {row.content_hash[:12]}, published {row.published_at.isoformat()}"
        + (f", retired {row.retired_at.isoformat()}" if row.retired_at else ""),
    ]
    if bundle.materials:
        lines.append("materials:")
        lines += [
            f"  {m.id}: {m.name}{'' if m.required else ' (optional)'}" for m in bundle.materials
        ]
    if bundle.form:
        lines.append("form: " + ", ".join(f"{f.name} ({f.type.value})" for f in bundle.form))
    lines.append(f"steps ({len(bundle.steps)}):")
    for step in bundle.steps:
        lines += _step_lines(step, departments)
    return lines


@app.command()
def show(
    code: str,
    version: Annotated[
        int | None, typer.Option("--version", help="Default: the latest active version.")
    ] = None,
    as_json: JsonOption = False,
    departments: DepartmentsOption = None,
) -> None:
    """One version: a readable summary of its steps, or the definition with metadata (--json)."""
    with _registry_session() as session:
        row = registry.get_version(session, code=code, version=version)
    bundle = registry.load_definition(row)
    if as_json:
        payload = {**_metadata(row), "definition": bundle.model_dump(mode="json")}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for line in _summary(row, bundle, _department_names(departments)):
        typer.echo(line)


@app.command()
def diff(code: str, a: int, b: int) -> None:
    """Step-level differences from version A to version B."""
    with _registry_session() as session:
        row_a = registry.get_version(session, code=code, version=a)
        row_b = registry.get_version(session, code=code, version=b)
    changes = diff_bundles(registry.load_definition(row_a), registry.load_definition(row_b))
    typer.echo(f"{code}: version {a}{_status_note(row_a)} -> version {b}{_status_note(row_b)}")
    if not changes:
        typer.echo("no differences")
    for change in changes:
        typer.echo(str(change))


@app.command()
def retire(code: str, version: int) -> None:
    """Stop a version from taking new cases; running cases keep their pinned definition."""
    with _registry_session() as session:
        result = registry.retire(session, code=code, version=version)
        try:
            active: BundleVersion | None = registry.get_version(session, code=code)
        except registry.NotFoundError:
            active = None
    if result.changed:
        typer.echo(f"retired {code} version {version}")
    else:
        typer.echo(f"{code} version {version} was already retired")
    if active is None:
        typer.echo(f"warning: {code} has no active version left; new cases cannot start", err=True)
    else:
        typer.echo(f"new cases use {code} version {active.version}")
