"""The SQL read model: what listings, inboxes and reports read instead of querying workflows.

The case workflow sends a :class:`CaseRecordInput` (its state as rows plus the timeline events
not yet recorded) to the ``record_case_event`` activity whenever it changes; :func:`write_record`
applies it. Writes are idempotent: case and step rows are upserted by key and only when the
input is at least as new as what is stored (``revision``), a step row only when one of its
values changed, events are inserted only when their ``(case_code, event_key)`` is absent. So a
retried or re-executed activity changes nothing.

The functions that build the input (:func:`record_from_state`, :func:`applicant_key`) are pure
and deterministic: the workflow calls them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Insert, Table, or_
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session, SQLModel, col, select

from onething.logs import mask_id
from onething.models import CaseEvent, utcnow
from workflows.models import CaseState, TimelineEvent

# Timeline kinds that escalate an overdue step, and their level (1 督办, 2 提级). An overdue
# rectification is reported with the rectification, not as a step escalation.
ESCALATION_LEVELS = {"supervision": 1, "escalation": 2}

_CASES: Table = SQLModel.metadata.tables["case_record"]
_STEPS: Table = SQLModel.metadata.tables["step_record"]
_EVENTS: Table = SQLModel.metadata.tables["case_event"]


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


# The step columns the workflow publishes; a row is rewritten only when one of them changed.
_STEP_FIELDS = tuple(name for name in StepRow.model_fields if name != "step_id")


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
    """Apply ``record`` in one transaction (see the module docstring for idempotency).

    One ``INSERT ... ON CONFLICT`` per table and no reads: the conflict clauses carry the
    revision check and the change detection, so a step row whose values did not change is not
    rewritten (its ``updated_at`` stays) and an event already recorded is not inserted again.
    """
    conn = session.connection()
    upserts = _upserts(conn.dialect.name)
    now = utcnow()
    case_values = {**record.case.model_dump(), "revision": record.revision, "updated_at": now}
    # RETURNING rather than rowcount: psycopg reports -1 rows for an upsert without it.
    case_written = conn.execute(upserts.case, case_values).first() is not None
    if case_written and record.steps:
        code, bundle_code = record.case.case_code, record.case.bundle_code
        rows = [
            {**s.model_dump(), "case_code": code, "bundle_code": bundle_code, "updated_at": now}
            for s in record.steps
        ]
        conn.execute(upserts.steps, rows)
    inserted = 0
    if record.events:
        code = record.case.case_code
        rows = [{"case_code": code, **e.model_dump()} for e in record.events]
        inserted = len(conn.execute(upserts.events, rows).all())
    session.commit()
    return RecordResult(case_written=case_written, events_inserted=inserted)


@dataclass(frozen=True)
class _Upserts:
    case: ReturningInsert[tuple[str]]
    steps: Insert
    events: ReturningInsert[tuple[int]]


@functools.cache
def _upserts(dialect: str) -> _Upserts:
    """The three statements, built once: parameters are bound at execution, so SQLAlchemy
    compiles each once (statements built with their values were compiled on every write)."""
    insert = _insert(dialect)

    case = insert(_CASES)
    case = case.on_conflict_do_update(
        index_elements=["case_code"],
        set_={c.name: case.excluded[c.name] for c in _CASES.columns if c.name != "case_code"},
        # A newer state already stored wins over this input (a late retry): no row changes.
        where=_CASES.c.revision <= case.excluded.revision,
    )
    steps = insert(_STEPS)
    steps = steps.on_conflict_do_update(
        index_elements=["case_code", "step_id"],
        set_={name: steps.excluded[name] for name in (*_STEP_FIELDS, "updated_at")},
        # Most writes change one step of several; the others keep their row untouched.
        where=or_(*(_STEPS.c[n].is_distinct_from(steps.excluded[n]) for n in _STEP_FIELDS)),
    )
    events = insert(_EVENTS).on_conflict_do_nothing(index_elements=["case_code", "event_key"])
    return _Upserts(
        case=case.returning(_CASES.c.case_code),
        steps=steps,
        events=events.returning(_EVENTS.c.id),
    )


def _insert(dialect: str) -> Callable[[Table], pg.Insert] | Callable[[Table], sqlite.Insert]:
    if dialect == "postgresql":
        return pg.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise ValueError(f"read model: database dialect {dialect!r} is not supported")


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
