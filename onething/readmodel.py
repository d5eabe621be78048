"""The SQL read model: what listings, inboxes and reports read instead of querying workflows.

The case workflow sends a :class:`CaseRecordInput` (its state as rows plus the timeline events
not yet recorded) to the ``record_case_event`` activity whenever it changes; :func:`write_record`
applies it. Writes are idempotent: case and step rows are upserted by key and only when the
input is at least as new as what is stored (``revision``), events are inserted only when their
``(case_code, event_key)`` is absent. So a retried or re-executed activity changes nothing.

The functions that build the input (:func:`record_from_state`, :func:`applicant_key`) are pure
and deterministic: the workflow calls them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onething.logs import mask_id
from onething.models import CaseEvent, CaseRecord, StepRecord, utcnow
from workflows.models import CaseState, TimelineEvent

# Timeline kinds that escalate an overdue step, and their level (1 督办, 2 提级). An overdue
# rectification is reported with the rectification, not as a step escalation.
ESCALATION_LEVELS = {"supervision": 1, "escalation": 2}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseRow(Model):
    case_code: str
    bundle_code: str
    bundle_version: int
    bundle_name: str
    region: str
    channel: str
    status: str
    applicant_key: str = Field(min_length=64, max_length=64)
    applicant_masked: str
    submitted_at: datetime
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    promised_due_at: datetime | None = None
    overdue: bool = False
    rating_level: str | None = None
    rated_at: datetime | None = None
    rectification_status: str | None = None
    rectification_due_at: datetime | None = None
    rectification_done_at: datetime | None = None


class StepRow(Model):
    step_id: str
    department: str
    item: str
    mode: str
    status: str
    started_at: datetime | None = None
    due_at: datetime | None = None
    warned: bool = False
    overdue: bool = False
    escalation_level: int = 0
    decision: str | None = None
    officer: str | None = None
    decided_at: datetime | None = None
    extension_used: bool = False


class EventRow(Model):
    event_key: str = Field(min_length=1, max_length=160)
    kind: str
    step_id: str | None = None
    department: str | None = None
    level: int | None = None
    at: datetime
    detail: str = ""


class CaseRecordInput(Model):
    """The input of ``record_case_event``: the case as it is now, and the new events."""

    revision: int = Field(ge=0)  # grows with every change the workflow publishes
    case: CaseRow
    steps: list[StepRow]
    events: list[EventRow] = Field(default_factory=list)


class RecordResult(Model):
    case_written: bool
    events_inserted: int


def applicant_key(id_number: str) -> str:
    """SHA-256 hex of the normalised ID number: finds an applicant's own cases without
    storing the number."""
    return hashlib.sha256(id_number.strip().upper().encode()).hexdigest()


def event_key(index: int, event: TimelineEvent) -> str:
    """The event's position in the timeline is stable across replays, so it identifies it."""
    return f"{index}:{event.kind}:{event.step_id or '-'}"


def record_from_state(
    state: CaseState,
    *,
    revision: int,
    applicant_id: str,
    first_event: int,
) -> CaseRecordInput:
    """Rows for ``state``, with the timeline events from index ``first_event`` on."""
    departments = {s.id: s.department for s in state.steps}
    rating = state.rating
    rect = state.rectification
    case = CaseRow(
        case_code=state.case_code,
        bundle_code=state.bundle_code,
        bundle_version=state.bundle_version,
        bundle_name=state.bundle_name,
        region=state.region,
        channel=state.channel.value,
        status=state.status.value,
        applicant_key=applicant_key(applicant_id),
        applicant_masked=mask_id(applicant_id.strip().upper()),
        submitted_at=state.submitted_at,
        accepted_at=state.accepted_at,
        closed_at=state.closed_at,
        promised_due_at=state.promised_due_at,
        overdue=state.overdue,
        rating_level=rating.level.value if rating else None,
        rated_at=rating.rated_at if rating else None,
        rectification_status=rect.status.value if rect else None,
        rectification_due_at=rect.due_at if rect else None,
        rectification_done_at=rect.done_at if rect else None,
    )
    steps = [
        StepRow(
            step_id=s.id,
            department=s.department,
            item=s.item,
            mode=s.mode.value,
            status=s.status.value,
            started_at=s.started_at,
            due_at=s.due_at,
            warned=s.warned,
            overdue=s.overdue,
            escalation_level=s.escalation_level,
            decision=s.decision.value if s.decision else None,
            officer=s.officer_id,
            decided_at=s.decided_at,
            extension_used=s.extension_used,
        )
        for s in state.steps
    ]
    events = [
        EventRow(
            event_key=event_key(i, e),
            kind=e.kind,
            step_id=e.step_id,
            department=departments.get(e.step_id) if e.step_id else None,
            level=ESCALATION_LEVELS.get(e.kind),
            at=e.at,
            detail=e.detail,
        )
        for i, e in enumerate(state.timeline)
        if i >= first_event
    ]
    return CaseRecordInput(revision=revision, case=case, steps=steps, events=events)


def write_record(session: Session, *, record: CaseRecordInput) -> RecordResult:
    """Apply ``record`` in one transaction (see the module docstring for idempotency)."""
    for attempt in range(3):
        try:
            case_written = _upsert_case(session, record=record)
            inserted = _insert_events(session, record=record)
            session.commit()
        except IntegrityError:
            # Another attempt of the same write committed first; the next round sees its rows.
            session.rollback()
            if attempt == 2:
                raise
            continue
        return RecordResult(case_written=case_written, events_inserted=inserted)
    raise AssertionError("unreachable")  # pragma: no cover


def _upsert_case(session: Session, *, record: CaseRecordInput) -> bool:
    code = record.case.case_code
    row = session.get(CaseRecord, code, with_for_update=True)
    if row is not None and row.revision > record.revision:
        return False  # a newer state is already stored; this input is a late retry
    now = utcnow()
    values = record.case.model_dump()
    if row is None:
        session.add(CaseRecord(**values, revision=record.revision, updated_at=now))
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.revision = record.revision
        row.updated_at = now
    stored = {
        s.step_id: s for s in session.exec(select(StepRecord).where(StepRecord.case_code == code))
    }
    for step in record.steps:
        values = step.model_dump()
        existing = stored.get(step.step_id)
        if existing is None:
            session.add(
                StepRecord(
                    **values, case_code=code, bundle_code=record.case.bundle_code, updated_at=now
                )
            )
        else:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.updated_at = now
    return True


def _insert_events(session: Session, *, record: CaseRecordInput) -> int:
    code = record.case.case_code
    keys = [e.event_key for e in record.events]
    if not keys:
        return 0
    present = set(
        session.exec(
            select(CaseEvent.event_key).where(
                CaseEvent.case_code == code, col(CaseEvent.event_key).in_(keys)
            )
        )
    )
    new = [e for e in record.events if e.event_key not in present]
    session.add_all(CaseEvent(case_code=code, **e.model_dump()) for e in new)
    return len(new)


def case_events(session: Session, *, case_code: str) -> Sequence[CaseEvent]:
    """The recorded events of a case in the order they happened."""
    return session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_code == case_code)
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
