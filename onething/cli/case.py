"""``onething case ...``: submit cases and act on them as an applicant or an officer.

Exit codes: 0 success; 2 invalid input (every problem on stderr, one per line, naming the
field) or an action the case refused (the Update validator's message); 1 any other failure
(unknown case, Temporal or database unreachable), as a message, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from onething import caseops
from onething.casecode import is_valid_case_code
from onething.cli import case_render as render
from onething.db import migrate, session_scope
from onething.settings import get_settings
from onething.submission import SubmissionError, submit_case
from onething.temporal import connect
from workflows.models import (
    CaseState,
    CaseStatus,
    DecisionInput,
    DecisionKind,
    RateInput,
    RatingLevel,
    SupplementInput,
    WithdrawInput,
)

app = typer.Typer(no_args_is_help=True, help="Submit cases and act on them.")

EXIT_FAILURE = 1
EXIT_INVALID = 2

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
CodeArgument = Annotated[str, typer.Argument(help="The case code (the workflow ID).")]

# English names are easier to type than the national levels; both are accepted.
RATING_ALIASES = {level.name.replace("_", "-"): level for level in RatingLevel} | {
    level.name: level for level in RatingLevel
}


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _invalid(problems: list[tuple[str, str]], *, outcome: str = "nothing was done") -> NoReturn:
    for field, reason in problems:
        typer.echo(f"{field}: {reason}", err=True)
    typer.echo(f"{len(problems)} problem(s); {outcome}", err=True)
    raise typer.Exit(EXIT_INVALID)


def _check_code(code: str) -> None:
    if not is_valid_case_code(code):
        _fail(
            f"case_code: {code!r} is not a valid case code (format REGION-ABBR-YYYYMMDD-SEQ-C, "
            "check character must match)",
            EXIT_INVALID,
        )


async def _client() -> Client:
    settings = get_settings()
    try:
        return await connect(settings)
    except RuntimeError as exc:
        raise caseops.NoAnswerError(
            f"cannot reach Temporal at {settings.temporal_address} ({exc}); "
            "is `onething up` running?"
        ) from None


def _run(make: Callable[[Client], Awaitable[T]]) -> T:
    """Connect, run, and turn every expected failure into a message and an exit code."""

    async def go() -> T:
        return await make(await _client())

    try:
        return asyncio.run(go())
    except SubmissionError as exc:
        _invalid([(p.field, p.reason) for p in exc.problems], outcome="nothing was submitted")
    except caseops.ActionRejectedError as exc:
        _fail(str(exc), EXIT_INVALID)
    except (caseops.CaseNotFoundError, caseops.NoAnswerError) as exc:
        _fail(str(exc))
    except RPCError as exc:
        _fail(f"Temporal error ({exc.status.name if exc.status else 'unknown'}): {exc.message}")
    except SQLAlchemyError as exc:
        _fail(f"database error: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")


@contextmanager
def _session() -> Iterator[Session]:
    url = get_settings().database_url
    migrate(url)
    with session_scope(url) as session:
        yield session


def _read_form(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _invalid([("form", f"cannot read {path}: {exc.strerror or exc}")])
    except json.JSONDecodeError as exc:
        _invalid([("form", f"{path} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}")])
    if not isinstance(data, dict):
        _invalid([("form", f"{path} must hold a JSON object of field values")])
    return data


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@app.command()
def submit(
    bundle: Annotated[str, typer.Argument(help="Bundle code, e.g. marriage-household.")],
    applicant_id: Annotated[str, typer.Option(help="居民身份证号 or 统一社会信用代码.")],
    applicant_name: Annotated[str, typer.Option(help="The applicant's name.")],
    form: Annotated[
        Path | None, typer.Option(help="JSON file with the form's field values.", dir_okay=False)
    ] = None,
    materials: Annotated[str | None, typer.Option(help="Material ids, comma-separated.")] = None,
    region: Annotated[str, typer.Option(help="6-digit region code.")] = "510100",
    channel: Annotated[str, typer.Option(help="web, app or hall.")] = "web",
    request_id: Annotated[
        str | None, typer.Option(help="Idempotency key: the same id returns the same case.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Pre-review and submit one application; prints the case code."""
    values = _read_form(form)
    settings = get_settings()

    async def go(client: Client) -> Any:
        with _session() as session:
            return await submit_case(
                client,
                session,
                settings=settings,
                bundle_code=bundle,
                applicant_id=applicant_id,
                applicant_name=applicant_name,
                form=values,
                materials=_split(materials),
                region=region,
                channel=channel,
                request_id=request_id,
            )

    result = _run(go)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        typer.echo(result.case_code)
        if not result.created:
            typer.echo(
                f"(request id {result.request_id} was submitted before; same case)", err=True
            )


@app.command()
def show(code: CodeArgument, as_json: JsonOption = False) -> None:
    """The whole case: steps with deadlines and escalation, the clock-stop ledger, the timeline."""
    _check_code(code)
    state = _run(lambda client: caseops.case_state(client, code))
    if as_json:
        typer.echo(state.model_dump_json(indent=2))
        return
    typer.echo(render.case_text(state, render.department_names()))


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help="running, completed, rejected, withdrawn.")
    ] = None,
    bundle: Annotated[str | None, typer.Option(help="Bundle code.")] = None,
    department: Annotated[
        str | None, typer.Option(help="Department code with a step pending.")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue cases.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many cases.", min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Cases by search attributes (no personal data is stored there or shown)."""
    if status is not None and status not in {s.value for s in CaseStatus}:
        _invalid([("status", f"must be one of {', '.join(s.value for s in CaseStatus)}")])
    try:
        query = caseops.list_query(
            status=status, bundle=bundle, department=department, overdue=overdue
        )
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        _invalid([(field, reason)])
    rows = _run(lambda client: caseops.list_cases(client, query=query, limit=limit))
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    typer.echo(render.list_text(rows))


@app.command()
def decide(
    code: CodeArgument,
    step: Annotated[str, typer.Argument(help="Step id.")],
    decision: Annotated[DecisionKind, typer.Argument(help="approve, reject, supplement, extend.")],
    officer: Annotated[str, typer.Option(help="The deciding officer's id.")],
    department: Annotated[str, typer.Option(help="The officer's department code.")],
    reason: Annotated[str, typer.Option(help="Required to reject or extend.")] = "",
    amount: Annotated[
        int | None, typer.Option(help="extend: units to add (default: all allowed).", min=1)
    ] = None,
    materials: Annotated[
        str | None, typer.Option(help="supplement: material ids the applicant must supply.")
    ] = None,
) -> None:
    """An officer's decision on a step awaiting it (sent as a Temporal Update)."""
    _check_code(code)
    try:
        inp = DecisionInput(
            step_id=step,
            decision=decision,
            officer_id=officer,
            department=department,
            reason=reason,
            amount=amount,
            materials=_split(materials),
        )
    except ValidationError as exc:
        _invalid(_pydantic_problems(exc))
    _after_update(code, lambda client: caseops.decide(client, code, inp), step=step)


@app.command()
def supplement(
    code: CodeArgument,
    materials: Annotated[str, typer.Option(help="Material ids supplied, comma-separated.")],
    step: Annotated[str | None, typer.Option(help="Only this step (default: all in 补正).")] = None,
    note: Annotated[str, typer.Option(help="A note for the department.")] = "",
) -> None:
    """The applicant supplies requested material (补正); the stopped clocks restart."""
    _check_code(code)
    try:
        inp = SupplementInput(materials=_split(materials), step_id=step, note=note)
    except ValidationError as exc:
        _invalid(_pydantic_problems(exc))
    _after_update(code, lambda client: caseops.supplement(client, code, inp), step=step)


@app.command()
def withdraw(
    code: CodeArgument,
    reason: Annotated[str, typer.Option(help="Why the applicant withdraws.")] = "",
) -> None:
    """The applicant withdraws the case; steps in flight are withdrawn at their departments."""
    _check_code(code)
    inp = WithdrawInput(reason=reason)
    _after_update(code, lambda client: caseops.withdraw(client, code, inp), step=None)


@app.command()
def rate(
    code: CodeArgument,
    level: Annotated[
        str,
        typer.Argument(help="非常满意 满意 基本满意 不满意 非常不满意 (or very-satisfied ...)."),
    ],
    comment: Annotated[str, typer.Option(help="What went well or badly.")] = "",
) -> None:
    """好差评: rate a completed case; a bad rating opens a rectification follow-up."""
    _check_code(code)
    chosen = RATING_ALIASES.get(level)
    if chosen is None:
        try:
            chosen = RatingLevel(level)
        except ValueError:
            _invalid([("level", f"must be one of {', '.join(v.value for v in RatingLevel)}")])
    inp = RateInput(level=chosen, comment=comment)
    _after_update(code, lambda client: caseops.rate(client, code, inp), step=None)


@app.command()
def history(
    code: CodeArgument,
    everything: Annotated[
        bool, typer.Option("--all", help="Include workflow-task bookkeeping events.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The case's Temporal event history, summarised (payloads are not shown)."""
    _check_code(code)
    lines = _run(lambda client: caseops.history(client, code, everything=everything))
    if as_json:
        typer.echo(json.dumps([ln.model_dump(mode="json") for ln in lines], indent=2))
        return
    typer.echo(render.history_text(lines))


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    return [(".".join(str(p) for p in e["loc"]) or "input", e["msg"]) for e in exc.errors()]


def _after_update(
    code: str, send: Callable[[Client], Awaitable[CaseState]], *, step: str | None
) -> None:
    """Send the Update and print where the case (and the step) stands after it."""
    state = _run(send)
    typer.echo(render.after_update_text(state, step))
