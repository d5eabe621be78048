"""Officers and supervisors: the department inbox (read model), decisions (Updates) and the
supervision list of overdue and escalated items."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import or_
from sqlmodel import Session, col, select
from temporalio.client import Client

from onething import caseops
from onething.api.access import check_code
from onething.api.auth import deny, require
from onething.api.deps import context, db_session, temporal_client
from onething.api.errors import ApiError
from onething.api.schemas import DecideBody, ErrorBody, InboxItem, SupervisionItem
from onething.api.timeleft import remaining
from onething.models import CaseRecord, StepRecord
from onething.settings import ApiIdentity
from workflows.models import (
    GOV_SERVICE_OFFICE,
    IN_FLIGHT,
    CaseState,
    DecisionInput,
    StepStatus,
)

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 503)
}

router = APIRouter(prefix="/api", tags=["officer"], responses=ERRORS)

Officer = Annotated[ApiIdentity, Depends(require("officer"))]
Staff = Annotated[ApiIdentity, Depends(require("officer", "supervisor"))]
Supervisor = Annotated[ApiIdentity, Depends(require("supervisor", "admin"))]
Db = Annotated[Session, Depends(db_session)]
Temporal = Annotated[Client, Depends(temporal_client)]

# Steps an officer works on: waiting for a decision, or in 补正 (clock stopped).
INBOX_STATUSES = (StepStatus.awaiting_decision.value, StepStatus.supplementing.value)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _overdue(step: StepRecord, due_at: datetime | None, now: datetime) -> bool:
    # A stopped clock (补正) does not run out; otherwise the deadline passing is enough, even
    # before the workflow's timer has recorded it.
    if step.overdue:
        return True
    return step.status == StepStatus.awaiting_decision and due_at is not None and due_at <= now


@router.get("/inbox", response_model=list[InboxItem])
def inbox(identity: Staff, session: Db, request: Request) -> list[InboxItem]:
    """Steps awaiting the caller's department, earliest deadline first (no deadline last)."""
    allow_fallback = context(request).settings.calendar_weekday_fallback
    stmt = (
        select(StepRecord, CaseRecord)
        .join(CaseRecord, col(CaseRecord.case_code) == col(StepRecord.case_code), isouter=True)
        .where(
            StepRecord.department == identity.department,
            col(StepRecord.status).in_(INBOX_STATUSES),
        )
        .order_by(
            col(StepRecord.due_at).is_(None),
            col(StepRecord.due_at),
            col(StepRecord.case_code),
        )
    )
    now = _now()
    items: list[InboxItem] = []
    for step, case in session.exec(stmt).all():
        due_at = _aware(step.due_at)
        left = remaining(due_at, now=now, allow_fallback=allow_fallback)
        overdue = _overdue(step, due_at, now)
        items.append(
            InboxItem(
                case_code=step.case_code,
                bundle_code=step.bundle_code,
                step_id=step.step_id,
                item=step.item,
                department=step.department,
                status=step.status,
                due_at=due_at,
                remaining_seconds=left.seconds,
                remaining_working_days=left.working_days,
                remaining_text=left.text,
                overdue=overdue,
                warning=step.warned and not overdue,
                escalation_level=step.escalation_level,
                submitted_at=_aware(case.submitted_at) if case else None,
            )
        )
    return items


@router.post("/cases/{code}/steps/{step}/decide", response_model=CaseState)
async def decide(
    code: str, step: str, body: DecideBody, identity: Officer, client: Temporal
) -> CaseState:
    """approve, reject (reason required), supplement (materials) or extend (reason, amount)."""
    check_code(code)
    state = await caseops.case_state(client, code)
    try:
        target = state.step(step)
    except KeyError:
        raise ApiError(
            404, "STEP_NOT_FOUND", f"case {code} has no step {step!r}", field="step"
        ) from None
    if target.department != identity.department:
        raise deny(
            identity,
            action="decide",
            reason=f"step {step!r} of case {code} belongs to another department",
        )
    decision = DecisionInput(
        step_id=step,
        decision=body.decision,
        officer_id=identity.subject,
        department=identity.department or "",
        reason=body.reason,
        amount=body.amount,
        materials=body.materials,
    )
    return await caseops.decide(client, code, decision)


@router.get("/supervision", response_model=list[SupervisionItem])
def supervision(identity: Supervisor, session: Db, request: Request) -> list[SupervisionItem]:
    """Open steps of the caller's department that are overdue or escalated (督办, 提级); the
    provincial office's supervisors also see every 提级 (level 2); admins see all."""
    allow_fallback = context(request).settings.calendar_weekday_fallback
    in_flight = [s.value for s in IN_FLIGHT]
    stmt = select(StepRecord).where(
        col(StepRecord.status).in_(in_flight),
        or_(col(StepRecord.overdue).is_(True), col(StepRecord.escalation_level) > 0),
    )
    if identity.role == "supervisor":
        mine = col(StepRecord.department) == identity.department
        if identity.department == GOV_SERVICE_OFFICE:
            stmt = stmt.where(or_(mine, col(StepRecord.escalation_level) >= 2))
        else:
            stmt = stmt.where(mine)
    stmt = stmt.order_by(
        col(StepRecord.escalation_level).desc(), col(StepRecord.due_at), col(StepRecord.case_code)
    )
    now = _now()
    return [
        SupervisionItem(
            case_code=s.case_code,
            bundle_code=s.bundle_code,
            step_id=s.step_id,
            item=s.item,
            department=s.department,
            status=s.status,
            due_at=_aware(s.due_at),
            overdue=s.overdue,
            escalation_level=s.escalation_level,
            remaining_text=remaining(_aware(s.due_at), now=now, allow_fallback=allow_fallback).text,
        )
        for s in session.exec(stmt).all()
    ]
