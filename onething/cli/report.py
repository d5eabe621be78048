"""``onething report``: the effectiveness analysis (办理质效分析) from the read model.

Exit codes: 0 success; 2 an invalid option value; 1 any other failure (database unreachable,
a year without calendar data while the weekday fallback is off), as a message.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from definitions.validation import DefinitionError, load_departments
from onething.db import migrate, session_scope
from onething.reports import RATING_LEVELS, Report, ReportRow, build_report
from onething.settings import Settings, get_settings
from onething.workcal import CalendarUnavailable

EXIT_FAILURE = 1


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


SCALARS = [
    "submitted",
    "completed",
    "rejected",
    "withdrawn",
    "decided",
    "on_time",
    "on_time_rate",
    "handling_median_days",
    "handling_p90_days",
    "open_now",
    "overdue_now",
    "escalations_level1",
    "escalations_level2",
]
RECTIFICATION = ["bad_ratings", "rectification_done", "rectification_open", "rectification_overdue"]


def report(
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Only cases submitted on or after this day (China Standard Time), YYYY-MM-DD.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Per bundle and per department: outcomes, on-time rate, handling time in working days,
    open and overdue cases, escalations, ratings and rectification."""
    settings = get_settings()
    try:
        migrate(settings.database_url)
        with session_scope(settings.database_url) as session:
            result = build_report(
                session,
                since=since.date() if since else None,
                now=datetime.now(UTC),
                allow_fallback=settings.calendar_weekday_fallback,
                department_names=_department_names(settings),
            )
    except CalendarUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    except SQLAlchemyError as exc:
        typer.echo(f"error: database {settings.database_url}: {exc.__class__.__name__}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if fmt is Format.json:
        typer.echo(result.model_dump_json(indent=2))
    elif fmt is Format.csv:
        typer.echo(render_csv(result), nl=False)
    else:
        typer.echo(render_table(result))


def _department_names(settings: Settings) -> dict[str, str]:
    """Names make the table readable; a missing or broken registry only costs the names."""
    try:
        registry = load_departments(settings.departments_file)
    except (DefinitionError, OSError):
        return {}
    return {d.code: d.name for d in registry.departments}


def _rows(result: Report) -> list[ReportRow]:
    return [result.total, *result.bundles, *result.departments]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def render_csv(result: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "scope",
            "code",
            "name",
            *SCALARS,
            *(f"rating_{lvl}" for lvl in RATING_LEVELS),
            *RECTIFICATION,
        ]
    )
    for row in _rows(result):
        data = row.model_dump()
        writer.writerow(
            [row.scope, row.code, row.name]
            + [_cell(data[name]) for name in SCALARS]
            + [str(row.ratings.get(lvl, 0)) for lvl in RATING_LEVELS]
            + [str(data[name]) for name in RECTIFICATION]
        )
    return out.getvalue()


TABLE_COLUMNS = [
    ("code", "code"),
    ("submitted", "受理"),
    ("completed", "办结"),
    ("rejected", "不予"),
    ("withdrawn", "撤回"),
    ("open_now", "在办"),
    ("overdue_now", "超期"),
    ("on_time", "按时率%"),
    ("median", "中位"),
    ("p90", "P90"),
    ("escalations", "督办/提级"),
    ("ratings", "好差评 5/4/3/2/1"),
    ("bad", "差评 整改/在办/超期"),
    ("name", "name"),
]


def _table_values(row: ReportRow) -> dict[str, str]:
    rate = "" if row.on_time_rate is None else f"{row.on_time_rate * 100:.1f}"
    days = [_fmt_days(row.handling_median_days), _fmt_days(row.handling_p90_days)]
    return {
        "code": row.code,
        "submitted": str(row.submitted),
        "completed": str(row.completed),
        "rejected": str(row.rejected),
        "withdrawn": str(row.withdrawn),
        "open_now": str(row.open_now),
        "overdue_now": str(row.overdue_now),
        "on_time": rate,
        "median": days[0],
        "p90": days[1],
        "escalations": f"{row.escalations_level1}/{row.escalations_level2}",
        "ratings": "/".join(str(row.ratings.get(lvl, 0)) for lvl in RATING_LEVELS),
        "bad": f"{row.rectification_done}/{row.rectification_open}/{row.rectification_overdue}",
        "name": row.name,
    }


def _fmt_days(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _section(title: str, rows: list[ReportRow]) -> list[str]:
    values = [_table_values(r) for r in rows]
    widths = {
        key: max([_width(header), *(_width(v[key]) for v in values)])
        for key, header in TABLE_COLUMNS
    }
    lines = [title, "  ".join(_pad(h, widths[k]) for k, h in TABLE_COLUMNS).rstrip()]
    for v in values:
        lines.append("  ".join(_pad(v[k], widths[k]) for k, _ in TABLE_COLUMNS).rstrip())
    if not rows:
        lines.append("(none)")
    return lines


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def render_table(result: Report) -> str:
    since = result.since.isoformat() if result.since else "all"
    header = [
        f"办理质效分析 — cases submitted since {since}; generated "
        f"{result.generated_at.isoformat(timespec='seconds')}",
        f"handling time in working days ({result.calendar_version}"
        + (", Monday-Friday fallback used" if result.calendar_fallback_used else "")
        + ")",
        "",
    ]
    lines = header + _section("合计 (all cases)", [result.total]) + [""]
    lines += [*_section("按一件事 (per bundle)", result.bundles), ""]
    lines += _section("按部门 (per department; counts are steps)", result.departments)
    return "\n".join(lines)
