"""Remaining time of a step as an officer counts it: working days for day limits (a deadline
at midnight China Standard Time is the end of its last working day), hours and minutes
otherwise."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pydantic import BaseModel

from onething.workcal import CST, CalendarUnavailable, is_working_day


class Remaining(BaseModel):
    seconds: float | None
    working_days: int | None
    text: str


def _is_day_deadline(due_at: datetime) -> bool:
    return due_at.astimezone(CST).time() == time(0)


def _working_days_through(today: date, last: date, *, allow_fallback: bool) -> int:
    """Working days in ``[today, last]``."""
    count = 0
    d = today
    while d <= last:
        count += is_working_day(d, allow_fallback=allow_fallback)
        d += timedelta(days=1)
    return count


def _clock(seconds: float) -> str:
    minutes = int(abs(seconds)) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours}小时{minutes}分" if hours else f"{minutes}分钟"


def _clock_text(seconds: float) -> str:
    return f"剩余{_clock(seconds)}" if seconds > 0 else f"已超期{_clock(seconds)}"


def remaining(due_at: datetime | None, *, now: datetime, allow_fallback: bool = False) -> Remaining:
    if due_at is None:
        return Remaining(seconds=None, working_days=None, text="未计时")
    seconds = (due_at - now).total_seconds()
    if not _is_day_deadline(due_at):
        return Remaining(seconds=seconds, working_days=None, text=_clock_text(seconds))
    last = (due_at.astimezone(CST) - timedelta(seconds=1)).date()
    today = now.astimezone(CST).date()
    try:
        if seconds > 0:
            days = _working_days_through(today, last, allow_fallback=allow_fallback)
            return Remaining(seconds=seconds, working_days=days, text=f"剩余{days}个工作日")
        late = _working_days_through(last + timedelta(days=1), today, allow_fallback=allow_fallback)
    except CalendarUnavailable:
        # No calendar data for the year: the wall-clock figure is still true.
        return Remaining(seconds=seconds, working_days=None, text=_clock_text(seconds))
    return Remaining(seconds=seconds, working_days=-late, text=f"已超期{late}个工作日")
