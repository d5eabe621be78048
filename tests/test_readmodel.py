"""The SQL read model: idempotent writes (SQLite and PostgreSQL), no personal data, and a case
followed by the read model from submission to rectification on the time-skipping server."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import func, select
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Escalation
from onething.db import get_engine, session_scope
from onething.models import CaseEvent, CaseRecord, StepRecord
from onething.readmodel import (
    CaseRecordInput,
    _insert,
    aware,
    case_events,
    event_key,
    record_from_state,
    write_record,
)
from tests.workflow_support import (
    RESIDENT_ID,
    Departments,
    bundle,
    case_input,
    decision,
    dispatched,
    make_settings,
    minutes,
    start,
    step,
    wait_for,
    workers,
)
from workflows.case import CaseWorkflow
from workflows.models import (
    CaseState,
    CaseStatus,
    Channel,
    DecisionKind,
    RateInput,
    RatingLevel,
    RectifyInput,
    StepState,
    StepStatus,
    TimelineEvent,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HISTORIES = Path(__file__).parent / "histories"


def _state(*, status: CaseStatus = CaseStatus.running, events: int = 2) -> CaseState:
    d = Departments()
    timeline = [TimelineEvent(at=T0, kind="submitted")]
    timeline += [
        TimelineEvent(at=T0 + timedelta(minutes=i), kind="step_started", step_id="a")
        for i in range(1, events)
    ]
    return CaseState(
        case_code="510100-TB-20260302-00001-7",
        bundle_code="test-bundle",
        bundle_name="测试一件事",
        bundle_version=1,
        content_hash="0" * 64,
        region="510100",
        channel=Channel.web,
        status=status,
        submitted_at=T0,
        steps=[
            StepState(id="a", item="事项 a", department=d["civil"], mode="manual", depends_on=[]),
            StepState(id="b", item="事项 b", department=d["police"], mode="manual", depends_on=[]),
        ],
        timeline=timeline,
    )


def _counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as session:
        return (
            session.exec(select(func.count()).select_from(CaseRecord)).one(),
            session.exec(select(func.count()).select_from(StepRecord)).one(),
            session.exec(select(func.count()).select_from(CaseEvent)).one(),
        )


def _write(url: str, record: CaseRecordInput) -> tuple[bool, int]:
    with session_scope(url) as session:
        result = write_record(session, record=record)
    return result.case_written, result.events_inserted


def test_same_input_twice_writes_one_row_each(db_url: str) -> None:
    record = record_from_state(_state(), revision=3, applicant_id=RESIDENT_ID, first_event=0)
    assert _write(db_url, record) == (True, 2)
    assert _write(db_url, record) == (True, 0)  # a retried activity
    assert _counts(db_url) == (1, 2, 2)
    # A later batch that repeats an already recorded event (the workflow re-sent it after a
    # crash between the write and the workflow task) adds only the new one.
    later = record_from_state(_state(events=3), revision=4, applicant_id=RESIDENT_ID, first_event=1)
    assert _write(db_url, later) == (True, 1)
    assert _counts(db_url) == (1, 2, 3)
    with session_scope(db_url) as session:
        keys = [e.event_key for e in case_events(session, case_code=record.case.case_code)]
    assert keys == ["0:submitted:-", "1:step_started:a", "2:step_started:a"]


def test_an_older_state_never_overwrites_a_newer_one(db_url: str) -> None:
    state = _state(status=CaseStatus.completed)
    state.closed_at = T0 + timedelta(hours=5)
    state.steps[0].status = StepStatus.approved
    newer = record_from_state(state, revision=9, applicant_id=RESIDENT_ID, first_event=0)
    older = record_from_state(_state(), revision=2, applicant_id=RESIDENT_ID, first_event=0)
    assert _write(db_url, newer)[0] is True
    assert _write(db_url, older) == (False, 0)
    with session_scope(db_url) as session:
        case = session.get(CaseRecord, state.case_code)
        assert case is not None
        assert (case.status, case.revision) == ("completed", 9)
        assert case.closed_at is not None
        assert aware(case.closed_at) == T0 + timedelta(hours=5)
        assert aware(case.submitted_at) == T0
        row = session.get(StepRecord, (state.case_code, "a"))
        assert row is not None and row.status == "approved"


def test_unchanged_step_rows_are_not_rewritten(db_url: str) -> None:
    state = _state()
    first = record_from_state(state, revision=3, applicant_id=RESIDENT_ID, first_event=0)
    assert _write(db_url, first) == (True, 2)
    with session_scope(db_url) as session:
        before = {r.step_id: r.updated_at for r in session.exec(select(StepRecord))}

    state.steps[0].status = StepStatus.awaiting_decision
    state.steps[0].started_at = T0 + timedelta(minutes=1)
    state.timeline.append(TimelineEvent(at=T0 + timedelta(minutes=2), kind="step_started"))
    second = record_from_state(state, revision=4, applicant_id=RESIDENT_ID, first_event=1)
    # The start of every statement the write sends to the database.
    sent: list[str] = []

    def _record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]  # SQLAlchemy event hook
        sent.append(" ".join(statement.split()[:3]))

    engine = get_engine(db_url)
    event.listen(engine, "after_cursor_execute", _record)
    try:
        assert _write(db_url, second) == (True, 1)
    finally:
        event.remove(engine, "after_cursor_execute", _record)
    # One upsert per table and no reads; of the two events sent only the new one is inserted.
    assert sent == [
        "INSERT INTO case_record",
        "INSERT INTO step_record",
        "INSERT INTO case_event",
    ]
    with session_scope(db_url) as session:
        after = {r.step_id: r for r in session.exec(select(StepRecord))}
    # Only the step that changed was rewritten.
    assert after["b"].updated_at == before["b"]
    assert after["a"].updated_at != before["a"]
    assert after["a"].status == "awaiting_decision"
    assert after["a"].started_at is not None
    assert aware(after["a"].started_at) == T0 + timedelta(minutes=1)
    # The same input again (a retried activity) rewrites no step row at all.
    assert _write(db_url, second) == (True, 0)
    with session_scope(db_url) as session:
        again = {r.step_id: r.updated_at for r in session.exec(select(StepRecord))}
    assert again == {"a": after["a"].updated_at, "b": before["b"]}


def test_unsupported_database_is_named() -> None:
    with pytest.raises(ValueError, match="dialect 'mysql' is not supported"):
        _insert("mysql")


def test_record_carries_no_personal_data() -> None:
    state = _state()
    record = record_from_state(state, revision=1, applicant_id=RESIDENT_ID, first_event=0)
    dumped = record.model_dump_json()
    assert RESIDENT_ID not in dumped
    assert record.case.applicant_key == hashlib.sha256(RESIDENT_ID.encode()).hexdigest()
    assert record.case.applicant_masked == RESIDENT_ID[:4] + "*" * 10 + RESIDENT_ID[-4:]
    # The same person typing a lower-case x or spaces finds the same cases.
    lower = record_from_state(
        state, revision=1, applicant_id=f" {RESIDENT_ID.lower()} ", first_event=0
    )
    assert lower.case.applicant_key == record.case.applicant_key


def test_event_keys_and_escalation_levels() -> None:
    state = _state()
    state.timeline += [
        TimelineEvent(at=T0, kind="supervision", step_id="b"),
        TimelineEvent(at=T0, kind="escalation", step_id="b"),
    ]
    record = record_from_state(state, revision=1, applicant_id=RESIDENT_ID, first_event=2)
    assert [(e.event_key, e.level, e.department) for e in record.events] == [
        ("2:supervision:b", 1, state.steps[1].department),
        ("3:escalation:b", 2, state.steps[1].department),
    ]
    assert event_key(0, state.timeline[0]) == "0:submitted:-"


async def test_read_model_follows_a_case_to_rectification(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    d = Departments()
    definition = bundle(
        step(
            "a",
            d["civil"],
            limit=minutes(60),
            warn_before=minutes(10),
            escalation=Escalation(supervise_after=minutes(30), elevate_after=minutes(60)),
        ),
        step("b", d["police"], depends_on=["a"], limit=minutes(60)),
    )
    settings = make_settings(tmp_path)
    url = settings.database_url
    async with workers(time_env.client, settings, definition) as queue:
        request = case_input(definition)
        code = request.case_code
        handle = await start(time_env.client, queue, request)
        await wait_for(handle, lambda s: s.step("a").due_at is not None)
        await time_env.sleep(timedelta(minutes=95))  # warned, overdue, 督办
        await wait_for(handle, lambda s: s.step("a").escalation_level == 1)
        await _until(url, code, lambda c, s: s["a"].escalation_level == 1)
        with session_scope(url) as session:
            inbox = session.exec(
                select(StepRecord).where(
                    StepRecord.department == d["civil"], StepRecord.status == "awaiting_decision"
                )
            ).all()
        assert [(r.case_code, r.warned, r.overdue) for r in inbox] == [(code, True, True)]

        await handle.execute_update(
            CaseWorkflow.decide, decision("a", d["civil"], DecisionKind.approve)
        )
        # Deciding while the dispatch is under way would have the closing case cancel it.
        await wait_for(handle, lambda s: dispatched(s, "b"))
        await handle.execute_update(
            CaseWorkflow.decide, decision("b", d["police"], DecisionKind.approve)
        )
        await wait_for(handle, lambda s: s.status is CaseStatus.completed)
        await handle.execute_update(
            CaseWorkflow.rate, RateInput(level=RatingLevel.dissatisfied, comment="排队太久")
        )
        rated, _ = await _until(url, code, lambda c, s: c.rectification_status == "open")
        assert rated.rating_level == "不满意"
        await handle.execute_update(
            CaseWorkflow.rectify, RectifyInput(officer_id="officer-9", note="已回访")
        )
        result = await handle.result()

    with session_scope(url) as session:
        final = session.get(CaseRecord, code)
        assert final is not None
        steps = {
            r.step_id: r
            for r in session.exec(select(StepRecord).where(StepRecord.case_code == code))
        }
        events = case_events(session, case_code=code)
    assert final.status == "completed"
    assert final.closed_at is not None and result.closed_at is not None
    assert aware(final.closed_at) == result.closed_at
    assert final.promised_due_at is not None
    assert final.rectification_status == "done"
    assert final.rectification_done_at is not None
    assert final.applicant_masked.startswith(RESIDENT_ID[:4])
    assert (steps["a"].status, steps["a"].officer, steps["a"].escalation_level) == (
        "approved",
        "officer-7",
        1,
    )
    assert steps["b"].status == "approved" and steps["b"].bundle_code == "test-bundle"
    assert steps["a"].department == d["civil"]
    # Every timeline entry is in the read model exactly once, in order.
    assert [e.kind for e in events] == [e.kind for e in result.timeline]
    assert len({e.event_key for e in events}) == len(events)
    supervision = [e for e in events if e.kind == "supervision"]
    assert [(e.step_id, e.department, e.level) for e in supervision] == [("a", d["civil"], 1)]


async def _until(
    url: str,
    code: str,
    predicate: Callable[[CaseRecord, dict[str, StepRecord]], bool],
    seconds: float = 20.0,
) -> tuple[CaseRecord, dict[str, StepRecord]]:
    """Poll the read model (written by a local activity) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        with session_scope(url) as session:
            case = session.get(CaseRecord, code)
            steps = {
                r.step_id: r
                for r in session.exec(select(StepRecord).where(StepRecord.case_code == code))
            }
        if case is not None and predicate(case, steps):
            return case, steps
        if loop.time() > deadline:
            raise AssertionError(f"read model never reached the state; case row: {case}")
        await asyncio.sleep(0.1)


def _markers(name: str) -> list[str]:
    events = json.loads((HISTORIES / f"{name}.json").read_text(encoding="utf-8"))["events"]
    return [
        e["markerRecordedEventAttributes"]["markerName"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
    ]


def test_replayed_histories_cover_cases_before_and_after_the_read_model() -> None:
    """tests/test_replay.py replays both kinds: cases started before the read model (no patch
    marker: they never write it) and after (patch marker, one local activity per batch)."""
    for name in ("completed", "escalated_rejected"):
        assert _markers(name) == []
    for name in ("read_model_completed", "read_model_escalated_rejected"):
        markers = _markers(name)
        assert markers.count("core_patch") == 1
        assert markers.count("core_local_activity") >= 10
