"""The working-day calendar: deadlines of time limits (限时办结) in China Standard Time.

Rules (行政许可法 art. 82, 民法典 art. 201/203):

- ``working_days``: the day of acceptance is not counted; the deadline is the end of the
  N-th working day after it. Statutory holidays are skipped and make-up workdays (调休
  Saturdays and Sundays) count, straight from ``chinesecalendar``'s ``is_workday``.
- ``calendar_days``: N days after the day of acceptance; a due day that is not a working day
  moves to the next working day, and the deadline is the end of that day.
- ``hours`` / ``minutes``: exactly that long after the start, with no calendar.

"The end of a day" is the next midnight in China Standard Time, returned in UTC.

``chinesecalendar`` only knows the years it ships data for (each new year's holidays arrive
in November). A deadline that needs another year raises :class:`CalendarUnavailable` unless
the caller allows the Monday-Friday fallback (setting ``ONETHING_CALENDAR_WEEKDAY_FALLBACK``),
which is logged and marked on the deadline. Every deadline records the calendar data that
produced it, so it can be recomputed when the data changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from definitions.schema import TimeUnit

CST = ZoneInfo("Asia/Shanghai")
FALLBACK_SETTING = "ONETHING_CALENDAR_WEEKDAY_FALLBACK"

log = structlog.get_logger(__name__)


class Deadline(BaseModel):
    model_config = ConfigDict(frozen=True)

    due_at: AwareDatetime  # always UTC
    due_date: date | None = None  # day units only: the last day, in China Standard Time
    calendar_version: str
    fallback_used: bool = False

    @field_validator("due_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class CalendarUnavailable(Exception):  # noqa: N818  # name fixed by the issue's API
    """The working-day calendar has no data for a year a deadline needs."""

    def __init__(self, year: int) -> None:
        self.year = year
        first, last = data_years()
        super().__init__(
            f"no working-day calendar data for {year}: chinesecalendar "
            f"{_package_version()} covers {first}-{last}. Upgrade chinesecalendar, or set "
            f"{FALLBACK_SETTING}=true to count Monday-Friday as working days (logged)"
        )


def _package_version() -> str:
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:  # an unpackaged checkout still carries __version__
        return str(chinese_calendar.__version__)


@lru_cache(maxsize=1)
def data_years() -> tuple[int, int]:
    """First and last year ``chinesecalendar`` has holiday data for."""
    years = {d.year for d in chinese_calendar.holidays}
    return min(years), max(years)


def calendar_version() -> str:
    """Which calendar data produces deadlines, e.g. ``chinesecalendar 1.11.0 (2004-2026)``."""
    first, last = data_years()
    return f"chinesecalendar {_package_version()} ({first}-{last})"


def _has_data(year: int) -> bool:
    first, last = data_years()
    return first <= year <= last


class _Days:
    """Working-day test that remembers which years fell back to Monday-Friday, so one
    deadline logs one warning per year rather than one per day."""

    def __init__(self, *, allow_fallback: bool) -> None:
        self.allow_fallback = allow_fallback
        self.fallback_years: set[int] = set()

    def is_working(self, d: date) -> bool:
        if _has_data(d.year):
            return bool(chinese_calendar.is_workday(d))
        if not self.allow_fallback:
            raise CalendarUnavailable(d.year)
        self.fallback_years.add(d.year)
        return d.weekday() < 5

    def log_fallbacks(self) -> None:
        for year in sorted(self.fallback_years):
            log.warning(
                "calendar_fallback",
                year=year,
                rule="Monday-Friday are working days",
                calendar_version=calendar_version(),
            )


def is_working_day(d: date, *, allow_fallback: bool = False) -> bool:
    days = _Days(allow_fallback=allow_fallback)
    result = days.is_working(d)
    days.log_fallbacks()
    return result


def working_days_after(start: date, through: date, *, allow_fallback: bool = False) -> int:
    """Working days in ``(start, through]``; 0 when ``through`` is not after ``start``."""
    days = _Days(allow_fallback=allow_fallback)
    count = 0
    d = start + timedelta(days=1)
    while d <= through:
        count += days.is_working(d)
        d += timedelta(days=1)
    days.log_fallbacks()
    return count


def _end_of_day(d: date) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=CST).astimezone(UTC)


def add_duration(
    start: datetime, amount: int, unit: TimeUnit, *, allow_fallback: bool = False
) -> Deadline:
    """The deadline ``amount`` ``unit`` after ``start`` (an aware instant).

    Day units need ``amount >= 1``; hours and minutes accept 0 (what is left of a budget
    that has run out).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be a timezone-aware datetime, got a naive one")
    unit = TimeUnit(unit)
    if unit in (TimeUnit.hours, TimeUnit.minutes):
        if amount < 0:
            raise ValueError(f"amount must not be negative, got {amount} {unit.value}")
        delta = timedelta(hours=amount) if unit is TimeUnit.hours else timedelta(minutes=amount)
        return Deadline(due_at=start + delta, calendar_version=calendar_version())
    if amount < 1:
        raise ValueError(f"amount must be at least 1 for {unit.value}, got {amount}")
    days = _Days(allow_fallback=allow_fallback)
    day = start.astimezone(CST).date()
    if unit is TimeUnit.working_days:
        remaining = amount
        while remaining:
            day += timedelta(days=1)
            remaining -= days.is_working(day)
    else:
        day += timedelta(days=amount)
        while not days.is_working(day):
            day += timedelta(days=1)
    days.log_fallbacks()
    return Deadline(
        due_at=_end_of_day(day),
        due_date=day,
        calendar_version=calendar_version(),
        fallback_used=bool(days.fallback_years),
    )
