"""Reading cases: who am I, search (read model), and one case's live detail (workflow Query)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session, col, select
from temporalio.client import Client

from onething.api.access import visible_state
from onething.api.auth import applicant_key, authenticate, deny, require
from onething.api.deps import db_session, temporal_client
from onething.api.errors import ApiError
from onething.api.schemas import CaseSummary, ErrorBody, Me
from onething.logs import mask_id
from onething.models import CaseRecord, StepRecord
from onething.settings import ApiIdentity
from onething.workcal import CST
from workflows.models import IN_FLIGHT, CaseState, CaseStatus

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 422, 503)
}

router = APIRouter(prefix="/api", tags=["cases"], responses=ERRORS)

Anyone = Annotated[ApiIdentity, Depends(authenticate)]
Db = Annotated[Session, Depends(db_session)]
Temporal = Annotated[Client, Depends(temporal_client)]
Searcher = Annotated[ApiIdentity, Depends(require("applicant", "officer", "supervisor", "admin"))]

MAX_LIMIT = 500


@router.get("/me", response_model=Me)
def me(identity: Anyone) -> Me:
    return Me(subject=identity.subject, role=identity.role, department=identity.department)


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=CST)


def _pending(session: Session, codes: list[str]) -> dict[str, list[str]]:
    if not codes:
        return {}
    in_flight = [s.value for s in IN_FLIGHT]
    stmt = select(StepRecord.case_code, StepRecord.department).where(
        col(StepRecord.case_code).in_(codes), col(StepRecord.status).in_(in_flight)
    )
    out: dict[str, list[str]] = {}
    for case_code, department in session.exec(stmt).all():
        out.setdefault(case_code, [])
        if department not in out[case_code]:
            out[case_code].append(department)
    return out


def _summary(record: CaseRecord, pending: list[str]) -> CaseSummary:
    return CaseSummary(
        case_code=record.case_code,
        bundle_code=record.bundle_code,
        bundle_version=record.bundle_version,
        status=record.status,
        region=record.region,
        channel=record.channel,
        # The read model stores it masked already; masking again guards a writer that did not.
        applicant_id_masked=mask_id(record.applicant_masked),
        pending_departments=sorted(pending),
        overdue=record.overdue,
        submitted_at=record.submitted_at,
        closed_at=record.closed_at,
    )


@router.get("/cases", response_model=list[CaseSummary])
def search(
    identity: Searcher,
    session: Db,
    status: CaseStatus | None = None,
    bundle: str | None = None,
    department: str | None = None,
    overdue: bool | None = None,
    submitted_from: Annotated[date | None, Query(description="First day (CST)")] = None,
    submitted_to: Annotated[date | None, Query(description="Last day (CST), inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[CaseSummary]:
    """Cases from the read model, newest first. Officers and supervisors search their own
    department's cases; applicants see their own."""
    if identity.role in ("officer", "supervisor"):
        if department is not None and department != identity.department:
            raise deny(
                identity, action="search cases", reason="may only search their own department"
            )
        department = identity.department
    if submitted_from and submitted_to and submitted_from > submitted_to:
        raise ApiError(
            422,
            "INVALID_INPUT",
            "submitted_to: must not be before submitted_from",
            field="submitted_to",
        )
    stmt = select(CaseRecord)
    if identity.role == "applicant":
        stmt = stmt.where(CaseRecord.applicant_key == applicant_key(identity.applicant_id or ""))
    if status is not None:
        stmt = stmt.where(CaseRecord.status == status.value)
    if bundle:
        stmt = stmt.where(CaseRecord.bundle_code == bundle)
    if department:
        has_step = select(StepRecord.case_code).where(StepRecord.department == department)
        stmt = stmt.where(col(CaseRecord.case_code).in_(has_step))
    if overdue is not None:
        stmt = stmt.where(CaseRecord.overdue == overdue)
    if submitted_from:
        stmt = stmt.where(col(CaseRecord.submitted_at) >= _day_start(submitted_from))
    if submitted_to:
        end = _day_start(submitted_to + timedelta(days=1))
        stmt = stmt.where(col(CaseRecord.submitted_at) < end)
    stmt = stmt.order_by(col(CaseRecord.submitted_at).desc(), col(CaseRecord.case_code).desc())
    records = list(session.exec(stmt.limit(limit)).all())
    pending = _pending(session, [r.case_code for r in records])
    return [_summary(r, pending.get(r.case_code, [])) for r in records]


@router.get("/cases/{code}", response_model=CaseState)
async def detail(code: str, identity: Anyone, session: Db, client: Temporal) -> CaseState:
    """The live case: steps with deadlines and remaining time, the 补正 ledger, the timeline."""
    return await visible_state(client, session, identity, code)
