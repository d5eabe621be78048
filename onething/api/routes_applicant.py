"""Applicants and channels: submit a case (pre-review, idempotent by request id), and act on
their own cases (supplement, withdraw, rate)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlmodel import Session
from temporalio.client import Client

from onething import caseops
from onething.api.access import own_case
from onething.api.auth import applicant_key, deny, require
from onething.api.deps import context, db_session, temporal_client
from onething.api.errors import ApiError
from onething.api.schemas import ErrorBody, SubmitBody, SubmitOut
from onething.settings import ApiIdentity
from onething.submission import submit_case
from workflows.models import CaseState, RateInput, SupplementInput, WithdrawInput

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 503)
}

router = APIRouter(prefix="/api", tags=["applicant"], responses=ERRORS)

Applicant = Annotated[ApiIdentity, Depends(require("applicant"))]
Db = Annotated[Session, Depends(db_session)]
Temporal = Annotated[Client, Depends(temporal_client)]


def _request_id(header: str | None, body: str | None) -> str | None:
    if header is not None and body is not None and header != body:
        raise ApiError(
            422,
            "INVALID_INPUT",
            "request_id: the Idempotency-Key header and the body's request_id differ",
            field="request_id",
        )
    return header if header is not None else body


@router.post("/cases", status_code=201, response_model=SubmitOut)
async def submit(
    body: SubmitBody,
    request: Request,
    response: Response,
    identity: Applicant,
    session: Db,
    client: Temporal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> SubmitOut:
    """Pre-review and start a case; the same request id always returns the same case (200)."""
    if applicant_key(body.applicant_id) != applicant_key(identity.applicant_id or ""):
        raise deny(identity, action="submit case", reason="may only apply for themselves")
    ctx = context(request)
    result = await submit_case(
        client,
        session,
        settings=ctx.settings,
        bundle_code=body.bundle_code,
        applicant_id=body.applicant_id,
        applicant_name=body.applicant_name,
        form=body.form,
        materials=body.materials,
        region=body.region,
        channel=body.channel,
        request_id=_request_id(idempotency_key, body.request_id),
        task_queue=ctx.task_queue,
    )
    if not result.created:
        response.status_code = 200
    return SubmitOut.model_validate(result.model_dump())


@router.post("/cases/{code}/supplement", response_model=CaseState)
async def supplement(
    code: str, body: SupplementInput, identity: Applicant, session: Db, client: Temporal
) -> CaseState:
    """补正: the applicant supplies requested material; stopped clocks restart."""
    own_case(session, identity, code, action="supplement")
    return await caseops.supplement(client, code, body)


@router.post("/cases/{code}/withdraw", response_model=CaseState)
async def withdraw(
    code: str, body: WithdrawInput, identity: Applicant, session: Db, client: Temporal
) -> CaseState:
    own_case(session, identity, code, action="withdraw")
    return await caseops.withdraw(client, code, body)


@router.post("/cases/{code}/rate", response_model=CaseState)
async def rate(
    code: str, body: RateInput, identity: Applicant, session: Db, client: Temporal
) -> CaseState:
    """好差评 on a completed case; a bad rating opens a rectification."""
    own_case(session, identity, code, action="rate")
    return await caseops.rate(client, code, body)
