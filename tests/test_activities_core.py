"""Deadline, notification and department activities, run in an ActivityEnvironment."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deadlines import DeadlineActivities
from activities.department import DepartmentActivities
from activities.models import (
    AdapterDecision,
    AdapterVerdict,
    DeadlineInput,
    DecideAutomaticInput,
    DeliverInput,
    DispatchInput,
    NotificationKind,
    NotifyInput,
    ResumeDeadlineInput,
    WithdrawStepInput,
)
from activities.notifications import NotificationActivities
from definitions.schema import Duration, TimeUnit
from onething.db import migrate
from onething.settings import Settings
from tests.test_activities_adapters import payload
from tests.workflow_support import RESIDENT_ID, inbox, notifications, step

CST_MIDNIGHT = timedelta(hours=8)


def _settings(tmp_path: Path, *, fallback: bool = False) -> Settings:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", calendar_weekday_fallback=fallback
    )
    migrate(settings.database_url)
    return settings


def wd(n: int) -> Duration:
    return Duration(amount=n, unit=TimeUnit.working_days)


async def test_deadline_on_the_working_day_calendar(tmp_path: Path) -> None:
    acts = DeadlineActivities(_settings(tmp_path))
    accepted = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # 10:00 in Chengdu
    result = await ActivityEnvironment().run(
        acts.compute_deadline, DeadlineInput(case_code="C1", start=accepted, duration=wd(20))
    )
    assert result.due_date == date(2026, 10, 30)
    # End of that day in China Standard Time.
    assert result.due_at == datetime(2026, 10, 31, tzinfo=UTC) - CST_MIDNIGHT
    assert result.calendar_version.startswith("chinesecalendar")
    assert not result.fallback_used


async def test_year_without_calendar_data_fails_retryably_or_falls_back(tmp_path: Path) -> None:
    request = DeadlineInput(case_code="C1", start=datetime(2027, 3, 1, tzinfo=UTC), duration=wd(5))
    with pytest.raises(ApplicationError, match="no working-day calendar data for 2027") as info:
        await ActivityEnvironment().run(
            DeadlineActivities(_settings(tmp_path)).compute_deadline, request
        )
    assert info.value.type == "CalendarUnavailable" and not info.value.non_retryable
    result = await ActivityEnvironment().run(
        DeadlineActivities(_settings(tmp_path, fallback=True)).compute_deadline, request
    )
    assert result.fallback_used and result.due_date == date(2027, 3, 8)


async def test_resume_gives_back_the_remaining_budget(tmp_path: Path) -> None:
    acts = DeadlineActivities(_settings(tmp_path))
    env = ActivityEnvironment()
    stopped = datetime(2026, 5, 6, 3, 0, tzinfo=UTC)
    minutes = await env.run(
        acts.resume_deadline,
        ResumeDeadlineInput(
            case_code="C1",
            unit_of=Duration(amount=90, unit=TimeUnit.minutes),
            stopped_at=stopped,
            resumed_at=stopped + timedelta(hours=5),
            due_at=stopped + timedelta(minutes=40),
        ),
    )
    assert minutes.due_at == stopped + timedelta(hours=5, minutes=40)
    # Working days: stopped on Wed 2026-09-23 with the limit due Wed 2026-09-30: 4 working
    # days left (24, 28, 29, 30; the 25th is the Mid-Autumn holiday). Resumed Fri 2026-10-09
    # after National Day, the 4 days are 10, 12, 13, 14 October (Sat 10-10 is a 调休 day).
    days = await env.run(
        acts.resume_deadline,
        ResumeDeadlineInput(
            case_code="C1",
            unit_of=wd(20),
            stopped_at=datetime(2026, 9, 23, 2, 0, tzinfo=UTC),
            resumed_at=datetime(2026, 10, 9, 2, 0, tzinfo=UTC),
            due_at=datetime(2026, 10, 1, tzinfo=UTC) - CST_MIDNIGHT,
            due_date=date(2026, 9, 30),
        ),
    )
    assert days.due_date == date(2026, 10, 14)


async def test_notifications_are_recorded_once(db_url: str) -> None:
    settings = Settings(database_url=db_url)
    acts = NotificationActivities(settings)
    env = ActivityEnvironment()
    request = NotifyInput(
        case_code="C1",
        kind=NotificationKind.warning,
        recipient="510100.civil",
        message="预警",
        step_id="a",
        key="C1:a:warning",
    )
    assert await env.run(acts.notify, request) is True
    assert await env.run(acts.notify, request) is False
    channels = await env.run(
        acts.deliver_result,
        DeliverInput(case_code="C1", outcome="completed", channels=["app", "sms"], message="ok"),
    )
    assert channels == ["app", "sms"]
    await env.run(
        acts.deliver_result,
        DeliverInput(case_code="C1", outcome="completed", channels=["app", "sms"], message="ok"),
    )
    rows = notifications(settings, "C1")
    assert sorted((r.kind, r.recipient) for r in rows) == [
        ("delivery", "applicant:app"),
        ("delivery", "applicant:sms"),
        ("warning", "510100.civil"),
    ]


async def test_department_activities_route_to_the_adapter_and_guard_the_department(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    acts = DepartmentActivities(settings, "510100.bigdata")
    env = ActivityEnvironment()
    verdict = await env.run(acts.decide_automatic, DecideAutomaticInput(payload=payload()))
    assert verdict.decision.value == "approve"
    manual = payload(step=step("review", "510100.bigdata"))
    await env.run(acts.dispatch, DispatchInput(payload=manual))
    await env.run(
        acts.withdraw,
        WithdrawStepInput(
            case_code=manual.case_code, step_id="review", department="510100.bigdata", reason="r"
        ),
    )
    assert [r.status for r in inbox(settings, manual.case_code)] == ["withdrawn"]
    other = payload(step=step("x", "510100.tax"))
    with pytest.raises(ApplicationError, match=r"belongs to department '510100\.tax'") as info:
        await env.run(acts.dispatch, DispatchInput(payload=other))
    assert info.value.non_retryable
    # Log lines carry the case code and never the applicant's identifier or name.
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert manual.case_code in text
    assert RESIDENT_ID not in text and "张三" not in text


async def test_a_slow_department_call_heartbeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import activities.department as department

    class SlowRules:
        async def decide(self, request: object) -> AdapterDecision:
            await asyncio.sleep(0.35)
            return AdapterDecision(decision=AdapterVerdict.approve)

    monkeypatch.setattr(department, "HEARTBEAT_EVERY", 0.1)
    monkeypatch.setattr(department, "adapter_for", lambda *args: SlowRules())
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    acts = DepartmentActivities(_settings(tmp_path), "510100.bigdata")
    verdict = await env.run(acts.decide_automatic, DecideAutomaticInput(payload=payload()))
    assert verdict.decision is AdapterVerdict.approve
    assert len(beats) >= 2
