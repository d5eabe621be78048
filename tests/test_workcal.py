from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from structlog.testing import capture_logs

from definitions.schema import TimeUnit
from onething.workcal import (
    CST,
    CalendarUnavailable,
    Deadline,
    add_duration,
    calendar_version,
    is_working_day,
    working_days_after,
)


def cst(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CST)


def end_of(d: date) -> datetime:
    """Next midnight in China Standard Time, as UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=CST).astimezone(UTC) + timedelta(days=1)


def test_twenty_working_days_after_2026_09_28() -> None:
    deadline = add_duration(cst(2026, 9, 28), 20, TimeUnit.working_days)
    assert deadline.due_date == date(2026, 10, 30)
    assert deadline.due_at == datetime(2026, 10, 30, 16, 0, tzinfo=UTC)  # 10-31 00:00 CST
    assert deadline.due_at.tzinfo is UTC
    assert not deadline.fallback_used
    assert deadline.calendar_version == calendar_version()
    # the library's own answer agrees
    assert chinese_calendar.find_workday(20, date(2026, 9, 28)) == date(2026, 10, 30)


def test_acceptance_day_is_not_counted() -> None:
    # Monday 2026-11-23: one working day later is Tuesday, whatever the hour of acceptance.
    for hour in (0, 9, 23):
        assert add_duration(cst(2026, 11, 23, hour), 1, TimeUnit.working_days).due_date == date(
            2026, 11, 24
        )
    # Accepted on a Saturday: the first working day is Monday.
    assert add_duration(cst(2026, 11, 21), 1, TimeUnit.working_days).due_date == date(2026, 11, 23)


def test_start_is_read_in_china_standard_time() -> None:
    # 2026-11-23 17:00 UTC is already Tuesday 01:00 in China.
    start = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert add_duration(start, 1, TimeUnit.working_days).due_date == date(2026, 11, 25)


def test_make_up_saturday_is_a_working_day() -> None:
    assert date(2026, 2, 14).weekday() == 5
    assert is_working_day(date(2026, 2, 14))
    assert not is_working_day(date(2026, 2, 21))  # an ordinary Saturday
    assert not is_working_day(date(2026, 2, 17))  # Spring Festival, a Tuesday
    # Accepted Friday 2026-02-13: the next working day is that Saturday.
    deadline = add_duration(cst(2026, 2, 13), 1, TimeUnit.working_days)
    assert deadline.due_date == date(2026, 2, 14)


def test_national_day_week_is_skipped() -> None:
    # Accepted Wednesday 2026-09-30: 10-01..10-07 are holidays, so the first working day
    # after acceptance is Thursday 10-08; Saturday 10-10 is a make-up workday, Sunday is not.
    assert [is_working_day(date(2026, 10, d)) for d in range(1, 8)] == [False] * 7
    days = [add_duration(cst(2026, 9, 30), n, TimeUnit.working_days).due_date for n in (1, 3, 4)]
    assert days == [date(2026, 10, 8), date(2026, 10, 10), date(2026, 10, 12)]
    assert working_days_after(date(2026, 9, 30), date(2026, 10, 12)) == 4


def test_calendar_days_landing_on_a_holiday_move_to_the_next_working_day() -> None:
    # 2026-09-28 + 5 calendar days = 10-03, inside National Day: due the next working day.
    moved = add_duration(cst(2026, 9, 28), 5, TimeUnit.calendar_days)
    assert moved.due_date == date(2026, 10, 8)
    assert moved.due_at == end_of(moved.due_date)
    # On an ordinary working day nothing moves: 2026-11-23 + 3 = Thursday 11-26.
    plain = add_duration(cst(2026, 11, 23), 3, TimeUnit.calendar_days)
    assert plain.due_date == date(2026, 11, 26)
    # Landing on an ordinary Sunday moves to Monday.
    sunday = add_duration(cst(2026, 11, 23), 6, TimeUnit.calendar_days)
    assert sunday.due_date == date(2026, 11, 30)


def test_hours_and_minutes_are_exact() -> None:
    start = datetime(2026, 9, 30, 23, 30, 15, tzinfo=CST)  # the eve of National Day
    hours = add_duration(start, 5, TimeUnit.hours)
    assert hours.due_at == start + timedelta(hours=5)
    assert hours.due_at.tzinfo is UTC
    assert hours.due_date is None
    minutes = add_duration(start, 90, TimeUnit.minutes)
    assert minutes.due_at == start + timedelta(minutes=90)
    assert add_duration(start, 0, TimeUnit.minutes).due_at == start
    # no calendar needed, so a year without data is fine
    assert add_duration(cst(2027, 6, 1), 2, TimeUnit.hours).due_at == cst(2027, 6, 1, 12)


def test_2027_fails_clearly_by_default() -> None:
    with pytest.raises(CalendarUnavailable) as info:
        add_duration(cst(2027, 3, 1), 5, TimeUnit.working_days)
    message = str(info.value)
    assert "no working-day calendar data for 2027" in message
    assert "chinesecalendar 1.11.0 covers 2004-2026" in message
    assert "ONETHING_CALENDAR_WEEKDAY_FALLBACK=true" in message
    assert info.value.year == 2027
    with pytest.raises(CalendarUnavailable, match="2027"):
        is_working_day(date(2027, 1, 4))
    # A 2026 deadline that runs into 2027 fails the same way.
    with pytest.raises(CalendarUnavailable, match="2027"):
        add_duration(cst(2026, 12, 20), 20, TimeUnit.working_days)


def test_2027_with_fallback_counts_weekdays_and_logs() -> None:
    with capture_logs() as logs:
        deadline = add_duration(cst(2027, 3, 5), 3, TimeUnit.working_days, allow_fallback=True)
    assert date(2027, 3, 5).weekday() == 4  # a Friday: Mon 8, Tue 9, Wed 10
    assert deadline.due_date == date(2027, 3, 10)
    assert deadline.fallback_used
    assert deadline.due_at == end_of(date(2027, 3, 10))
    fallbacks = [e for e in logs if e["event"] == "calendar_fallback"]
    assert len(fallbacks) == 1  # one warning per year, not per day
    assert fallbacks[0]["log_level"] == "warning"
    assert fallbacks[0]["year"] == 2027

    with capture_logs() as logs:
        assert not is_working_day(date(2027, 1, 2), allow_fallback=True)  # Saturday
        assert is_working_day(date(2027, 1, 4), allow_fallback=True)
    assert [e["year"] for e in logs if e["event"] == "calendar_fallback"] == [2027, 2027]


def test_fallback_is_not_used_or_logged_inside_the_data_range() -> None:
    with capture_logs() as logs:
        deadline = add_duration(cst(2026, 9, 28), 20, TimeUnit.working_days, allow_fallback=True)
    assert not deadline.fallback_used
    assert deadline.due_date == date(2026, 10, 30)
    assert not [e for e in logs if e["event"] == "calendar_fallback"]


def test_working_days_after() -> None:
    assert working_days_after(date(2026, 9, 28), date(2026, 10, 30)) == 20
    assert working_days_after(date(2026, 2, 13), date(2026, 2, 14)) == 1  # make-up Saturday
    assert working_days_after(date(2026, 11, 26), date(2026, 11, 26)) == 0
    assert working_days_after(date(2026, 11, 26), date(2026, 11, 1)) == 0
    with pytest.raises(CalendarUnavailable):
        working_days_after(date(2026, 12, 30), date(2027, 1, 5))
    assert working_days_after(date(2026, 12, 30), date(2027, 1, 5), allow_fallback=True) >= 3


def test_calendar_version_is_recorded() -> None:
    assert calendar_version() == "chinesecalendar 1.11.0 (2004-2026)"
    for unit in TimeUnit:
        assert add_duration(cst(2026, 5, 6), 1, unit).calendar_version == calendar_version()


@pytest.mark.parametrize(
    ("start", "amount", "unit", "message"),
    [
        (datetime(2026, 5, 6, 10), 1, TimeUnit.working_days, "timezone-aware"),
        (cst(2026, 5, 6), 0, TimeUnit.working_days, "at least 1 for working_days"),
        (cst(2026, 5, 6), -1, TimeUnit.calendar_days, "at least 1 for calendar_days"),
        (cst(2026, 5, 6), -1, TimeUnit.hours, "must not be negative"),
    ],
)
def test_bad_arguments(start: datetime, amount: int, unit: TimeUnit, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        add_duration(start, amount, unit)


def test_deadline_model_normalizes_to_utc() -> None:
    d = Deadline(due_at=cst(2026, 5, 6, 8), calendar_version="x")
    assert d.due_at == datetime(2026, 5, 6, 0, 0, tzinfo=UTC)
    assert d.due_at.utcoffset() == timedelta(0)
