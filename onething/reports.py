"""办理质效分析: effectiveness figures per bundle and per department, from the read model only.

Scope: the cases submitted on or after ``since`` (a day in China Standard Time; all cases when
omitted). Definitions, per row:

- bundle rows count cases: ``submitted`` all of them, ``completed`` / ``rejected`` /
  ``withdrawn`` by final status, ``open_now`` still running.
- department rows count the steps the department received (started) in those cases:
  ``completed`` approved or deemed approved, ``rejected``, ``withdrawn`` (the case ended while
  the step was at the department), ``open_now`` still at the department.
- ``decided`` = completed + rejected. A decided case is on time when it closed by its promised
  limit and never went overdue; a decided step when it was decided by its deadline (clock stops
  and an approved extension move the deadline) and never went overdue, so a 承诺制 deemed
  approval is not on time. ``on_time_rate`` = on time / decided.
- Handling time, in working days: from acceptance to closing (cases), from start to decision
  (steps), elapsed time including 补正. Each calendar day in China Standard Time contributes
  the fraction of it that lies in the interval if it is a working day (onething.workcal), so
  Friday 10:00 to Monday 10:00 is 1.0. Median and 90th percentile interpolate linearly between
  ranks (numpy's default).
- ``overdue_now``: running cases past their promise (unless its clock is stopped for 补正) or
  with a step past its deadline; for a department, its steps in checking or awaiting a decision
  past their deadline.
- Escalations: step escalation events by level (1 督办, 2 提级), counted once per event.
- Ratings: the level distribution of the cases in the row; bad ratings (不满意, 非常不满意) by
  rectification status: done, open (before its due time), overdue.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from onething import workcal
from onething.models import CaseEvent, CaseRecord, StepRecord
from onething.readmodel import aware
from workflows.models import RatingLevel

Scope = Literal["bundle", "department", "total"]
RATING_LEVELS = [level.value for level in RatingLevel]
BAD_LEVELS = frozenset(level.value for level in RatingLevel if level.is_bad)
APPROVED_STEPS = frozenset({"approved", "deemed_approved"})
OPEN_STEPS = frozenset({"checking", "awaiting_decision", "supplementing"})
CLOCK_RUNNING_STEPS = frozenset({"checking", "awaiting_decision"})
DAY = timedelta(days=1)
YEAR = timedelta(days=366)
T = TypeVar("T")


class ReportRow(BaseModel):
    scope: Scope
    code: str
    name: str = ""
    submitted: int = 0
    completed: int = 0
    rejected: int = 0
    withdrawn: int = 0
    decided: int = 0
    on_time: int = 0
    on_time_rate: float | None = None
    handling_median_days: float | None = None
    handling_p90_days: float | None = None
    open_now: int = 0
    overdue_now: int = 0
    escalations_level1: int = 0
    escalations_level2: int = 0
    ratings: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(RATING_LEVELS, 0))
    bad_ratings: int = 0
    rectification_done: int = 0
    rectification_open: int = 0
    rectification_overdue: int = 0


class Report(BaseModel):
    generated_at: datetime
    since: date | None
    # True when a day of a year without calendar data counted Monday-Friday (the setting).
    calendar_fallback_used: bool = False
    calendar_version: str
    total: ReportRow
    bundles: list[ReportRow]
    departments: list[ReportRow]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class WorkingDays:
    """Fractional working days between instants. Whole days come from a prefix count over a
    window of days (widened a year at a time), so each interval costs O(1) after warm-up."""

    def __init__(self, *, allow_fallback: bool) -> None:
        self.allow_fallback = allow_fallback
        self.fallback_used = False
        self._days: dict[date, bool] = {}
        self._base: date | None = None
        self._prefix: list[int] = [0]  # working days in [base, base + i)

    def is_working(self, day: date) -> bool:
        known = self._days.get(day)
        if known is None:
            first, last = workcal.data_years()
            if not first <= day.year <= last and self.allow_fallback:
                self.fallback_used = True
            known = workcal.is_working_day(day, allow_fallback=self.allow_fallback)
            self._days[day] = known
        return known

    def count(self, first: date, last: date) -> int:
        """Working days in ``[first, last]``."""
        if last < first:
            return 0
        base = self._base
        if base is None or first < base or last >= base + timedelta(days=len(self._prefix) - 1):
            self._widen(first, last)
            base = self._base
            assert base is not None
        return self._prefix[(last - base).days + 1] - self._prefix[(first - base).days]

    def _widen(self, first: date, last: date) -> None:
        base = self._base
        low, high = first, last
        if base is not None:
            low = min(low, base)
            high = max(high, base + timedelta(days=len(self._prefix) - 2))
        # A year of margin, but only where there is calendar data: a margin must never fail
        # or fall back on a year no interval needs.
        data_first, data_last = workcal.data_years()
        low = min(low, max(first - YEAR, date(data_first, 1, 1)))
        high = max(high, min(last + YEAR, date(data_last, 12, 31)))
        prefix = [0]
        day = low
        while day <= high:
            prefix.append(prefix[-1] + self.is_working(day))
            day += DAY
        self._base, self._prefix = low, prefix

    def between(self, start: datetime, end: datetime) -> float:
        start, end = start.astimezone(workcal.CST), end.astimezone(workcal.CST)
        if end <= start:
            return 0.0
        first, last = start.date(), end.date()
        if first == last:
            return (end - start) / DAY if self.is_working(first) else 0.0
        head = datetime.combine(first + DAY, time(0), tzinfo=workcal.CST) - start
        tail = end - datetime.combine(last, time(0), tzinfo=workcal.CST)
        total = float(self.count(first + DAY, last - DAY))
        if self.is_working(first):
            total += head / DAY
        if self.is_working(last):
            total += tail / DAY
        return total


def build_report(
    session: Session,
    *,
    since: date | None,
    now: datetime,
    allow_fallback: bool = False,
    department_names: Mapping[str, str] | None = None,
) -> Report:
    """The effectiveness report over the read model (see the module docstring).

    Raises ``workcal.CalendarUnavailable`` for a handling time in a year without calendar data
    unless ``allow_fallback`` (the setting ``calendar_weekday_fallback``)."""
    now = aware(now)
    cases = _cases(session, since)
    codes = {c.case_code for c in cases}
    steps = [s for s in _steps(session, since) if s.case_code in codes]
    escalations = [e for e in _escalations(session, since) if e.case_code in codes]
    days = WorkingDays(allow_fallback=allow_fallback)
    case_by_code = {c.case_code: c for c in cases}
    steps_of: dict[str, list[StepRecord]] = defaultdict(list)
    for s in steps:
        steps_of[s.case_code].append(s)

    case_handling: dict[str, float] = {}

    def handled(c: CaseRecord, closed: datetime) -> float:
        if c.case_code not in case_handling:
            accepted = aware(c.accepted_at or c.submitted_at)
            case_handling[c.case_code] = days.between(accepted, closed)
        return case_handling[c.case_code]

    def case_row(scope: Scope, code: str, rows: Sequence[CaseRecord]) -> ReportRow:
        name = rows[0].bundle_name if scope == "bundle" else ""
        row = ReportRow(scope=scope, code=code, name=name)
        row.submitted = len(rows)
        handling: list[float] = []
        for c in rows:
            _count_outcome(row, c.status, completed="completed")
            if c.status in ("completed", "rejected") and c.closed_at is not None:
                closed = aware(c.closed_at)
                promised = c.promised_due_at
                if not c.overdue and (promised is None or closed <= aware(promised)):
                    row.on_time += 1
                handling.append(handled(c, closed))
            elif c.status == "running":
                row.open_now += 1
                row.overdue_now += _case_overdue(c, steps_of[c.case_code], now)
        _finish(row, handling)
        _ratings(row, rows, now)
        return row

    def department_row(code: str, rows: Sequence[StepRecord]) -> ReportRow:
        name = (department_names or {}).get(code, "")
        row = ReportRow(scope="department", code=code, name=name, submitted=len(rows))
        handling: list[float] = []
        for s in rows:
            _count_outcome(row, s.status, completed=APPROVED_STEPS)
            if s.status in OPEN_STEPS:
                row.open_now += 1
                row.overdue_now += _step_overdue(s, now)
            elif s.decided_at is not None and s.started_at is not None and row_decided(s):
                decided_at = aware(s.decided_at)
                if not s.overdue and (s.due_at is None or decided_at <= aware(s.due_at)):
                    row.on_time += 1
                handling.append(days.between(aware(s.started_at), decided_at))
        _finish(row, handling)
        _ratings(row, [case_by_code[c] for c in sorted({s.case_code for s in rows})], now)
        return row

    total = case_row("total", "*", cases) if cases else ReportRow(scope="total", code="*")
    bundles = [case_row("bundle", code, rows) for code, rows in _group(cases, _bundle_of)]
    received = [s for s in steps if s.started_at is not None]
    departments = [department_row(code, rows) for code, rows in _group(received, _dept_of)]
    by_key: dict[tuple[str, str], ReportRow] = {
        (r.scope, r.code): r for r in [total, *bundles, *departments]
    }
    bundle_of_case = {c.case_code: c.bundle_code for c in cases}
    for e in escalations:
        for key in (
            ("total", "*"),
            ("bundle", bundle_of_case[e.case_code]),
            ("department", e.department or ""),
        ):
            target = by_key.get(key)
            if target is None:
                continue
            if e.level == 1:
                target.escalations_level1 += 1
            elif e.level == 2:
                target.escalations_level2 += 1
    return Report(
        generated_at=now,
        since=since,
        calendar_fallback_used=days.fallback_used,
        calendar_version=workcal.calendar_version(),
        total=total,
        bundles=bundles,
        departments=departments,
    )


def row_decided(step: StepRecord) -> bool:
    return step.status in APPROVED_STEPS or step.status == "rejected"


def since_instant(since: date) -> datetime:
    """The start of ``since`` in China Standard Time, in UTC."""
    return datetime.combine(since, time(0), tzinfo=workcal.CST).astimezone(UTC)


def _cases(session: Session, since: date | None) -> list[CaseRecord]:
    stmt = select(CaseRecord)
    if since is not None:
        stmt = stmt.where(col(CaseRecord.submitted_at) >= since_instant(since))
    return list(session.exec(stmt.order_by(col(CaseRecord.case_code))))


def _steps(session: Session, since: date | None) -> list[StepRecord]:
    stmt = select(StepRecord)
    if since is not None:
        in_scope = select(CaseRecord.case_code).where(
            col(CaseRecord.submitted_at) >= since_instant(since)
        )
        stmt = stmt.where(col(StepRecord.case_code).in_(in_scope))
    return list(session.exec(stmt))


def _escalations(session: Session, since: date | None) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(col(CaseEvent.level).is_not(None))
    if since is not None:
        in_scope = select(CaseRecord.case_code).where(
            col(CaseRecord.submitted_at) >= since_instant(since)
        )
        stmt = stmt.where(col(CaseEvent.case_code).in_(in_scope))
    return list(session.exec(stmt))


def _bundle_of(c: CaseRecord) -> str:
    return c.bundle_code


def _dept_of(s: StepRecord) -> str:
    return s.department


def _group(rows: Iterable[T], key: Callable[[T], str]) -> list[tuple[str, list[T]]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return sorted(groups.items())


def _count_outcome(row: ReportRow, status: str, *, completed: str | frozenset[str]) -> None:
    done = status == completed if isinstance(completed, str) else status in completed
    if done:
        row.completed += 1
    elif status == "rejected":
        row.rejected += 1
    elif status == "withdrawn":
        row.withdrawn += 1


def _finish(row: ReportRow, handling: list[float]) -> None:
    row.decided = row.completed + row.rejected
    row.on_time_rate = _round(row.on_time / row.decided) if row.decided else None
    row.handling_median_days = _round(percentile(handling, 0.5))
    row.handling_p90_days = _round(percentile(handling, 0.9))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _case_overdue(case: CaseRecord, steps: Sequence[StepRecord], now: datetime) -> bool:
    if case.overdue or any(_step_overdue(s, now) for s in steps):
        return True
    stopped = any(s.status == "supplementing" for s in steps)
    promised = case.promised_due_at
    return not stopped and promised is not None and aware(promised) < now


def _step_overdue(step: StepRecord, now: datetime) -> bool:
    if step.status not in CLOCK_RUNNING_STEPS:
        return False
    return step.overdue or (step.due_at is not None and aware(step.due_at) < now)


def _ratings(row: ReportRow, cases: Iterable[CaseRecord], now: datetime) -> None:
    for c in cases:
        if c.rating_level is None:
            continue
        row.ratings[c.rating_level] = row.ratings.get(c.rating_level, 0) + 1
        if c.rating_level not in BAD_LEVELS:
            continue
        row.bad_ratings += 1
        if c.rectification_status == "done":
            row.rectification_done += 1
        elif c.rectification_due_at is not None and aware(c.rectification_due_at) < now:
            row.rectification_overdue += 1
        else:
            row.rectification_open += 1
