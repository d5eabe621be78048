"""一次提交: turn one application into one case, after pre-review, exactly once per request id.

Idempotency has two layers. The ``submission`` table maps a request id to its case code (the
primary key settles a race between two processes). The workflow is then started with the
case code as its ID, ``USE_EXISTING`` on conflict and ``REJECT_DUPLICATE`` on reuse, so the
server never runs a second case for it, and a crash between the insert and the start is healed
by simply submitting again with the same request id."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from definitions.schema import Bundle
from onething import prereview, registry
from onething.casecode import allocate_case_code, case_day
from onething.identifiers import validate_applicant
from onething.logs import get_logger
from onething.models import BundleVersion, Submission
from onething.prereview import Problem
from onething.queues import ORCHESTRATOR_TASK_QUEUE
from onething.search_attributes import (
    CASE_BUNDLE,
    CASE_BUNDLE_VERSION,
    CASE_REGION,
    CASE_STATUS,
    SUBMITTED_AT,
)
from onething.settings import Settings
from workflows.models import (
    WORKFLOW_NAME,
    Applicant,
    CaseInput,
    CaseStatus,
    Channel,
    IdType,
    PinnedBundle,
)

log = get_logger(__name__)


class SubmissionError(ValueError):
    """Pre-review failed; ``problems`` lists every (field, reason) found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class SubmitResult(BaseModel):
    case_code: str
    created: bool
    request_id: str
    bundle_code: str
    bundle_version: int


class SubmitRequest(BaseModel):
    """What the applicant sends (the input of :func:`submit_case`, kept in one model)."""

    bundle_code: str
    applicant_id: str
    applicant_name: str
    form: dict[str, Any]
    materials: list[str]
    region: str = "510100"
    channel: str = "web"
    request_id: str | None = None


def _load_active(session: Session, bundle_code: str) -> tuple[BundleVersion, Bundle] | str:
    """The latest active version, or the reason there is none."""
    try:
        row = registry.get_version(session, code=bundle_code)
    except registry.NotFoundError as exc:
        return str(exc)
    return row, registry.load_definition(row)


def _load_pinned(session: Session, code: str, version: int) -> tuple[BundleVersion, Bundle]:
    row = registry.get_version(session, code=code, version=version)
    return row, registry.load_definition(row)


def _case_input(
    req: SubmitRequest,
    *,
    row: BundleVersion,
    bundle: Bundle,
    case_code: str,
    request_id: str,
    submitted_at: datetime,
) -> CaseInput:
    # Pre-review has passed, so this cannot raise; it yields the kind and normalized value.
    applicant = validate_applicant(bundle.applicant_type, req.applicant_id)
    return CaseInput(
        case_code=case_code,
        bundle=PinnedBundle(
            code=row.code, version=row.version, content_hash=row.content_hash, definition=bundle
        ),
        applicant=Applicant(
            id_type=IdType(applicant.kind), id_number=applicant.value, name=req.applicant_name
        ),
        form=dict(req.form),
        materials=list(req.materials),
        region=req.region,
        channel=Channel(req.channel),
        request_id=request_id,
        submitted_at=submitted_at,
    )


async def _start(client: Client, case: CaseInput, *, task_queue: str) -> None:
    attrs = TypedSearchAttributes(
        [
            SearchAttributePair(CASE_STATUS, CaseStatus.running.value),
            SearchAttributePair(CASE_BUNDLE, case.bundle.code),
            SearchAttributePair(CASE_BUNDLE_VERSION, case.bundle.version),
            SearchAttributePair(CASE_REGION, case.region),
            SearchAttributePair(SUBMITTED_AT, case.submitted_at),
        ]
    )
    # WorkflowAlreadyStartedError: the case already ran to its end, and it is the case this
    # request id produced.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            WORKFLOW_NAME,
            case,
            id=case.case_code,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=attrs,
        )


def _existing(session: Session, request_id: str) -> Submission | None:
    return session.get(Submission, request_id)


def _pre_checks(req: SubmitRequest, bundle: Bundle | str) -> list[Problem]:
    problems = (
        prereview.check_region(req.region)
        + prereview.check_channel(req.channel)
        + prereview.check_request_id(req.request_id)
        + prereview.check_applicant_name(req.applicant_name)
    )
    if isinstance(bundle, str):
        problems.insert(0, Problem("bundle", bundle))
    else:
        problems += prereview.review(
            bundle, applicant_id=req.applicant_id, form=req.form, materials=req.materials
        )
    return problems


async def _resume(
    client: Client,
    session: Session,
    *,
    req: SubmitRequest,
    sub: Submission,
    task_queue: str,
) -> SubmitResult:
    """A request id seen before: make sure its workflow exists and return its case code."""
    if sub.bundle_code != req.bundle_code:
        raise SubmissionError(
            [Problem("request_id", f"already used for a submission to bundle {sub.bundle_code}")]
        )
    row, bundle = _load_pinned(session, sub.bundle_code, sub.bundle_version)
    problems = _pre_checks(req, bundle)
    if problems:
        raise SubmissionError(problems)
    case = _case_input(
        req,
        row=row,
        bundle=bundle,
        case_code=sub.case_code,
        request_id=sub.request_id,
        submitted_at=sub.created_at.replace(tzinfo=sub.created_at.tzinfo or UTC),
    )
    await _start(client, case, task_queue=task_queue)
    return SubmitResult(
        case_code=sub.case_code,
        created=False,
        request_id=sub.request_id,
        bundle_code=sub.bundle_code,
        bundle_version=sub.bundle_version,
    )


async def submit(
    client: Client,
    session: Session,
    *,
    req: SubmitRequest,
    task_queue: str = ORCHESTRATOR_TASK_QUEUE,
) -> SubmitResult:
    request_id = req.request_id if req.request_id is not None else str(uuid.uuid4())
    req = req.model_copy(update={"request_id": request_id})
    sub = _existing(session, request_id)
    if sub is not None:
        return await _resume(client, session, req=req, sub=sub, task_queue=task_queue)

    loaded = _load_active(session, req.bundle_code)
    problems = _pre_checks(req, loaded if isinstance(loaded, str) else loaded[1])
    if problems or isinstance(loaded, str):
        log.info("submission_rejected", bundle=req.bundle_code, problems=len(problems))
        raise SubmissionError(problems)
    row, bundle = loaded

    now = datetime.now(UTC)
    case_code = allocate_case_code(session, region=req.region, abbr=bundle.abbr, day=case_day(now))
    sub = Submission(
        request_id=request_id,
        case_code=case_code,
        bundle_code=row.code,
        bundle_version=row.version,
        channel=req.channel,
        created_at=now,
    )
    session.add(sub)
    try:
        session.commit()
    except IntegrityError:
        # Another process inserted this request id first: its case is the one.
        session.rollback()
        raced = _existing(session, request_id)
        if raced is None:
            raise
        return await _resume(client, session, req=req, sub=raced, task_queue=task_queue)

    case = _case_input(
        req, row=row, bundle=bundle, case_code=case_code, request_id=request_id, submitted_at=now
    )
    await _start(client, case, task_queue=task_queue)
    log.info("case_submitted", case_code=case_code, bundle=row.code, version=row.version)
    return SubmitResult(
        case_code=case_code,
        created=True,
        request_id=request_id,
        bundle_code=row.code,
        bundle_version=row.version,
    )


async def submit_case(
    client: Client,
    session: Session,
    *,
    settings: Settings,
    bundle_code: str,
    applicant_id: str,
    applicant_name: str,
    form: Mapping[str, Any],
    materials: Sequence[str],
    region: str = "510100",
    channel: str = "web",
    request_id: str | None = None,
    task_queue: str = ORCHESTRATOR_TASK_QUEUE,
) -> SubmitResult:
    """Pre-review, then start the case (or return the one this request id already started).

    ``settings`` is part of the signature so per-deployment policy (rating window,
    rectification limit) has one place to come from; the defaults of CaseInput apply now."""
    req = SubmitRequest(
        bundle_code=bundle_code,
        applicant_id=applicant_id,
        applicant_name=applicant_name,
        form=dict(form),
        materials=list(materials),
        region=region,
        channel=channel,
        request_id=request_id,
    )
    return await submit(client, session, req=req, task_queue=task_queue)
