"""办理质效分析 against a hand-built read model whose figures are worked out by hand below
(March 2026 has no holidays; 2026-03-07/08 and 03-14/15 are weekends; times in CST)."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from onething import workcal
from onething.cli.report import report
from onething.db import get_engine, migrate, session_scope
from onething.logs import configure_logging
from onething.models import CaseEvent, CaseRecord, StepRecord
from onething.reports import Report, ReportRow, WorkingDays, build_report, percentile
from onething.settings import get_settings

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=workcal.CST)
CIVIL, POLICE = "510000.civil-affairs", "510000.public-security"


def cst(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=workcal.CST).astimezone(UTC)


def case(code: str, bundle: str, submitted: datetime, status: str, **fields: Any) -> CaseRecord:
    values: dict[str, Any] = {
        "case_code": code,
        "bundle_code": bundle,
        "bundle_version": 1,
        "bundle_name": {"alpha": "甲一件事", "beta": "乙一件事"}[bundle],
        "region": "510100",
        "channel": "web",
        "status": status,
        "applicant_key": "0" * 64,
        "applicant_masked": "1101**********002X",
        "submitted_at": submitted,
        "accepted_at": submitted,
    }
    values.update(fields)
    return CaseRecord(**values)


def step(code: str, step_id: str, department: str, status: str, **fields: Any) -> StepRecord:
    values: dict[str, Any] = {
        "case_code": code,
        "step_id": step_id,
        "bundle_code": "alpha" if code.startswith("A") else "beta",
        "department": department,
        "item": "事项",
        "mode": "manual",
        "status": status,
    }
    values.update(fields)
    return StepRecord(**values)


def event(code: str, key: str, kind: str, department: str | None, level: int | None) -> CaseEvent:
    return CaseEvent(
        case_code=code,
        event_key=key,
        kind=kind,
        step_id="s",
        department=department,
        level=level,
        at=cst(10),
    )


def scenario() -> list[Any]:
    return [
        # alpha. Handling: A1 1.0, A2 15/24 + 3 + 21/24 = 4.5, A3 0.5 + 0.5 = 1.0, A4 0.25.
        case(
            "A1", "alpha", cst(2, 9), "completed", closed_at=cst(3, 9),
            promised_due_at=cst(6), rating_level="非常满意",
        ),
        case(
            "A2", "alpha", cst(2, 9), "completed", closed_at=cst(6, 21),
            promised_due_at=cst(5), overdue=True, rating_level="不满意",
            rectification_status="done", rectification_due_at=cst(18),
            rectification_done_at=cst(12),
        ),
        case(
            "A3", "alpha", cst(6, 12), "rejected", closed_at=cst(9, 12),
            promised_due_at=cst(10), rating_level="非常不满意",
            rectification_status="open", rectification_due_at=cst(25),
        ),
        case(
            "A4", "alpha", cst(2), "completed", closed_at=cst(2, 6), promised_due_at=cst(4),
            rating_level="非常不满意", rectification_status="open",
            rectification_due_at=cst(19),
        ),
        case("A5", "alpha", cst(2, 10), "withdrawn", closed_at=cst(3, 10)),
        # Running: past its promise (overdue now), and one whose clock is stopped for 补正.
        case("A6", "alpha", cst(9, 10), "running", promised_due_at=cst(16)),
        case("A7", "alpha", cst(10, 10), "running", promised_due_at=cst(13)),
        # beta. Handling: B1 Fri 18:00 -> Tue 18:00 = 0.25 + 1 + 0.75 = 2.0.
        case(
            "B1", "beta", cst(6, 18), "completed", closed_at=cst(10, 18),
            promised_due_at=cst(11), rating_level="满意",
        ),
        case("B2", "beta", cst(5, 23, 30), "running", promised_due_at=cst(30), overdue=True),
        # civil: handling A1 0.5, A2 3.0, A3 1.0, B1 2.0; on time A1 and A3 only.
        step("A1", "s", CIVIL, "approved", started_at=cst(2, 9), decided_at=cst(2, 21),
             due_at=cst(4), decision="approve", officer="o1"),
        step("A2", "s", CIVIL, "approved", started_at=cst(2, 9), decided_at=cst(5, 9),
             due_at=cst(4), overdue=True, escalation_level=1),
        step("A3", "s", CIVIL, "rejected", started_at=cst(6, 12), decided_at=cst(9, 12),
             due_at=cst(10)),
        step("A5", "s", CIVIL, "withdrawn", started_at=cst(2, 10), due_at=cst(4)),
        step("A6", "s", CIVIL, "awaiting_decision", started_at=cst(9, 10), due_at=cst(15),
             escalation_level=2),
        step("B1", "s", CIVIL, "deemed_approved", started_at=cst(6, 18),
             decided_at=cst(10, 18), due_at=cst(10, 18), overdue=True),
        # police: A4 0.25 on time; A7 in 补正 (past its old deadline but stopped); A7's
        # second step never started; B2 waiting with time left.
        step("A4", "s", POLICE, "approved", started_at=cst(2), decided_at=cst(2, 6),
             due_at=cst(3)),
        step("A7", "s", POLICE, "supplementing", started_at=cst(10, 10), due_at=cst(11)),
        step("A7", "t", POLICE, "waiting"),
        step("B2", "s", POLICE, "awaiting_decision", started_at=cst(5, 23, 30),
             due_at=cst(27)),
        event("A2", "1:supervision:s", "supervision", CIVIL, 1),
        event("A6", "1:supervision:s", "supervision", CIVIL, 1),
        event("A6", "2:escalation:s", "escalation", CIVIL, 2),
        event("B2", "1:supervision:s", "supervision", POLICE, 1),
        event("B2", "2:approved:s", "approved", POLICE, None),
    ]  # fmt: skip


def load(url: str) -> None:
    with session_scope(url) as session:
        session.add_all(scenario())
        session.commit()


def _report(url: str, since: date | None = None) -> Report:
    with session_scope(url) as session:
        return build_report(session, since=since, now=NOW)


def _ratings(a: int, b: int, c: int, d: int, e: int) -> dict[str, int]:
    return {"非常满意": a, "满意": b, "基本满意": c, "不满意": d, "非常不满意": e}


def test_report_figures_match_the_hand_worked_scenario(db_url: str) -> None:
    load(db_url)
    result = _report(db_url)
    assert result.total == ReportRow(
        scope="total", code="*", submitted=9, completed=4, rejected=1, withdrawn=1,
        decided=5, on_time=4, on_time_rate=0.8,
        # [0.25, 1, 1, 2, 4.5]: p90 at rank 3.6 = 2 + 0.6 * 2.5
        handling_median_days=1.0, handling_p90_days=3.5,
        open_now=3, overdue_now=2, escalations_level1=3, escalations_level2=1,
        ratings=_ratings(1, 1, 0, 1, 2), bad_ratings=3,
        rectification_done=1, rectification_open=1, rectification_overdue=1,
    )  # fmt: skip
    alpha, beta = result.bundles
    assert alpha == ReportRow(
        scope="bundle", code="alpha", name="甲一件事", submitted=7, completed=3, rejected=1,
        withdrawn=1, decided=4, on_time=3, on_time_rate=0.75,
        # [0.25, 1, 1, 4.5]: p90 at rank 2.7 = 1 + 0.7 * 3.5
        handling_median_days=1.0, handling_p90_days=3.45,
        open_now=2, overdue_now=1, escalations_level1=2, escalations_level2=1,
        ratings=_ratings(1, 0, 0, 1, 2), bad_ratings=3,
        rectification_done=1, rectification_open=1, rectification_overdue=1,
    )  # fmt: skip
    assert beta == ReportRow(
        scope="bundle", code="beta", name="乙一件事", submitted=2, completed=1, decided=1,
        on_time=1, on_time_rate=1.0, handling_median_days=2.0, handling_p90_days=2.0,
        open_now=1, overdue_now=1, escalations_level1=1, ratings=_ratings(0, 1, 0, 0, 0),
    )  # fmt: skip
    civil, police = result.departments
    assert civil == ReportRow(
        scope="department", code=CIVIL, submitted=6, completed=3, rejected=1, withdrawn=1,
        decided=4, on_time=2, on_time_rate=0.5,
        # [0.5, 1, 2, 3]: median 1.5, p90 at rank 2.7 = 2 + 0.7
        handling_median_days=1.5, handling_p90_days=2.7,
        open_now=1, overdue_now=1, escalations_level1=2, escalations_level2=1,
        ratings=_ratings(1, 1, 0, 1, 1), bad_ratings=2,
        rectification_done=1, rectification_open=1,
    )  # fmt: skip
    assert police == ReportRow(
        scope="department", code=POLICE, submitted=3, completed=1, decided=1, on_time=1,
        on_time_rate=1.0, handling_median_days=0.25, handling_p90_days=0.25,
        open_now=2, overdue_now=0, escalations_level1=1,
        ratings=_ratings(0, 0, 0, 0, 1), bad_ratings=1, rectification_overdue=1,
    )  # fmt: skip
    assert result.generated_at == NOW and not result.calendar_fallback_used


def test_since_is_a_day_in_china_standard_time(db_url: str) -> None:
    load(db_url)
    # B2 was submitted 2026-03-05 23:30 CST (15:30 UTC): before the day; A3 (06 12:00) after.
    result = _report(db_url, since=date(2026, 3, 6))
    assert result.total.submitted == 4  # A3, A6, A7, B1
    assert [(r.code, r.submitted) for r in result.bundles] == [("alpha", 3), ("beta", 1)]
    assert [(r.code, r.submitted) for r in result.departments] == [(CIVIL, 3), (POLICE, 1)]
    assert result.total.escalations_level1 == 1  # A6's; A2's and B2's cases are out of scope
    assert _report(db_url, since=date(2026, 4, 1)).total == ReportRow(scope="total", code="*")


def test_working_days_skip_holidays_and_count_make_up_days() -> None:
    days = WorkingDays(allow_fallback=False)
    # Thu 04-30 12:00 -> Mon 05-11 12:00: 0.5 + Wed-Fri 05-06..08 + make-up Sat 05-09 + 0.5;
    # 05-01..05-05 is the Labour Day holiday.
    assert days.between(cst(30, 12, month=4), cst(11, 12, month=5)) == pytest.approx(5.0)
    assert days.between(cst(7, 9), cst(8, 20)) == 0.0  # a weekend
    assert days.between(cst(3, 9), cst(2, 9)) == 0.0


def test_working_days_agree_with_a_day_by_day_count() -> None:
    """The prefix-count window widens as intervals arrive in any order; every answer must
    match the plain sum of each day's working share."""

    def naive(start: datetime, end: datetime) -> float:
        start, end = start.astimezone(workcal.CST), end.astimezone(workcal.CST)
        total, day = 0.0, start.date()
        while day <= end.date():
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=workcal.CST)
            overlap = min(end, midnight + timedelta(days=1)) - max(start, midnight)
            if overlap > timedelta(0) and workcal.is_working_day(day):
                total += overlap / timedelta(days=1)
            day += timedelta(days=1)
        return total

    rng = random.Random(7)
    days = WorkingDays(allow_fallback=False)
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = origin + timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        end = min(end, datetime(2026, 12, 31, 15, tzinfo=UTC))  # the data's last CST day
        assert days.between(start, end) == pytest.approx(naive(start, end)), (start, end)
    assert not days.fallback_used


def test_years_without_calendar_data_need_the_fallback() -> None:
    start = datetime(2027, 1, 4, 12, tzinfo=workcal.CST)
    with pytest.raises(workcal.CalendarUnavailable, match="2027"):
        WorkingDays(allow_fallback=False).between(start, start + timedelta(days=7))
    days = WorkingDays(allow_fallback=True)
    assert days.between(start, start + timedelta(days=7)) == pytest.approx(5.0)
    assert days.fallback_used


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == pytest.approx(
        9.1
    )


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    configure_logging(fmt="json")  # as the root command does
    url = f"sqlite:///{tmp_path / 'report.db'}"
    monkeypatch.setenv("ONETHING_DATABASE_URL", url)
    get_settings.cache_clear()
    migrate(url)
    yield url
    get_engine(url).dispose()
    get_settings.cache_clear()


def run(*args: str) -> Result:
    cli = typer.Typer()
    cli.command()(report)
    return CliRunner().invoke(cli, list(args))


def test_cli_json_is_the_report(cli_db: str) -> None:
    load(cli_db)
    result = run("--format", "json", "--since", "2026-03-01")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["since"] == "2026-03-01"
    assert data["total"]["submitted"] == 9
    assert [b["code"] for b in data["bundles"]] == ["alpha", "beta"]
    assert data["departments"][0]["handling_p90_days"] == 2.7


def test_cli_csv_has_one_row_per_scope(cli_db: str) -> None:
    load(cli_db)
    result = run("--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["scope"], r["code"]) for r in rows] == [
        ("total", "*"),
        ("bundle", "alpha"),
        ("bundle", "beta"),
        ("department", CIVIL),
        ("department", POLICE),
    ]
    alpha = rows[1]
    assert (alpha["on_time_rate"], alpha["handling_p90_days"]) == ("0.75", "3.45")
    # The CLI reports at the real clock, after A3's and A4's rectification due times.
    assert (alpha["rating_非常不满意"], alpha["rectification_overdue"]) == ("2", "2")
    assert rows[2]["rejected"] == "0" and rows[4]["on_time_rate"] == "1"


def test_cli_table_names_departments_from_the_registry(cli_db: str) -> None:
    load(cli_db)
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "按一件事 (per bundle)" in lines and "按部门 (per department; counts are steps)" in lines
    alpha = next(line for line in lines if line.startswith("alpha "))
    assert alpha.split() == [
        "alpha", "7", "3", "1", "1", "2", "1", "75.0", "1.00", "3.45", "2/1", "1/0/0/1/2",
        "1/0/2", "甲一件事",
    ]  # fmt: skip
    civil = next(line for line in lines if line.startswith(CIVIL))
    assert civil.endswith("四川省民政厅")


def test_cli_refuses_a_bad_date_and_a_year_without_calendar_data(
    cli_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run("--since", "2026-13-01")
    assert result.exit_code == 2
    assert "--since" in result.output
    with session_scope(cli_db) as session:
        session.add(
            case(
                "C1", "alpha", datetime(2027, 1, 4, tzinfo=UTC), "completed",
                closed_at=datetime(2027, 1, 8, tzinfo=UTC),
            )
        )  # fmt: skip
        session.commit()
    result = run("--format", "json")
    assert result.exit_code == 1
    assert "no working-day calendar data for 2027" in result.output
    monkeypatch.setenv("ONETHING_CALENDAR_WEEKDAY_FALLBACK", "true")
    get_settings.cache_clear()
    result = run("--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calendar_fallback_used"] is True
    assert data["total"]["handling_median_days"] == 4.0
