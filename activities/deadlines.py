"""Deadlines on the working-day calendar, computed in activities so the result (and the
calendar data version that produced it) is recorded in the case history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import (
    COMPUTE_DEADLINE,
    RESUME_DEADLINE,
    DeadlineInput,
    DeadlineResult,
    ResumeDeadlineInput,
)
from definitions.schema import TimeUnit
from onething import workcal
from onething.logs import get_logger
from onething.settings import Settings

CHINA = ZoneInfo("Asia/Shanghai")
log = get_logger(__name__)
T = TypeVar("T")


class DeadlineActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name=COMPUTE_DEADLINE)
    async def compute_deadline(self, request: DeadlineInput) -> DeadlineResult:
        with structlog.contextvars.bound_contextvars(case_code=request.case_code):
            return self._add(request.start, request.duration.amount, request.duration.unit)

    @activity.defn(name=RESUME_DEADLINE)
    async def resume_deadline(self, request: ResumeDeadlineInput) -> DeadlineResult:
        """After a clock stop the limit restarts with the budget that was left when it stopped."""
        with structlog.contextvars.bound_contextvars(case_code=request.case_code):
            unit = request.unit_of.unit
            if unit in (TimeUnit.minutes, TimeUnit.hours):
                left = max(request.due_at - request.stopped_at, timedelta(0))
                return DeadlineResult(
                    due_at=request.resumed_at + left,
                    calendar_version="clock",
                )
            stop_day = request.stopped_at.astimezone(CHINA).date()
            due_day = request.due_date or request.due_at.astimezone(CHINA).date()
            if unit is TimeUnit.working_days:
                left_days = self._calendar(
                    lambda: workcal.working_days_after(
                        stop_day, due_day, allow_fallback=self.settings.calendar_weekday_fallback
                    )
                )
            else:
                left_days = (due_day - stop_day).days
            # Stopped on the last day itself: the department keeps one day after resuming
            # rather than a deadline that has already passed.
            return self._add(request.resumed_at, max(left_days, 1), unit)

    def _add(self, start: datetime, amount: int, unit: TimeUnit) -> DeadlineResult:
        deadline = self._calendar(
            lambda: workcal.add_duration(
                start, amount, unit, allow_fallback=self.settings.calendar_weekday_fallback
            )
        )
        if deadline.fallback_used:
            log.warning(
                "deadline computed with the weekday-only fallback",
                amount=amount,
                unit=unit.value,
                calendar_version=deadline.calendar_version,
            )
        return DeadlineResult(
            due_at=deadline.due_at,
            due_date=deadline.due_date,
            calendar_version=deadline.calendar_version,
            fallback_used=deadline.fallback_used,
        )

    def _calendar(self, compute: Callable[[], T]) -> T:
        try:
            return compute()
        except workcal.CalendarUnavailable as exc:
            # Retryable on purpose: the case waits visibly (a pending activity with this error)
            # until next year's calendar data is installed or the operator enables the
            # weekday fallback; the workflow caps the retry interval so it notices soon.
            log.error("no working-day calendar data", error=str(exc))
            raise ApplicationError(str(exc), type="CalendarUnavailable") from exc
