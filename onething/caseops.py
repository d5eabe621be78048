"""Client-side operations on running cases, shared by the CLI and the demo: query the state,
send the officer's and applicant's Updates, list cases by search attributes, summarise history.

Temporal's errors are turned into three exceptions a person can act on: the case does not
exist, the case refused the action (an Update validator's message), or nobody answered."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from onething.search_attributes import (
    CASE_BUNDLE,
    CASE_BUNDLE_VERSION,
    CASE_OVERDUE,
    CASE_REGION,
    CASE_STATUS,
    NEXT_DEADLINE,
    PENDING_DEPARTMENTS,
    SUBMITTED_AT,
)
from workflows.models import (
    QUERY_STATE,
    UPDATE_DECIDE,
    UPDATE_RATE,
    UPDATE_SUPPLEMENT,
    UPDATE_WITHDRAW,
    WORKFLOW_NAME,
    CaseState,
    DecisionInput,
    RateInput,
    SupplementInput,
    WithdrawInput,
)

# A query on a case is answered by the orchestrator worker; without one it would hang.
QUERY_TIMEOUT = timedelta(seconds=15)


class CaseNotFoundError(LookupError):
    def __init__(self, case_code: str) -> None:
        self.case_code = case_code
        super().__init__(f"case {case_code} not found")


class ActionRejectedError(ValueError):
    """The case refused the action (an Update validator, or the case is already closed)."""


class NoAnswerError(RuntimeError):
    """No worker answered for the case (is the orchestrator worker running?)."""


class CaseRow(BaseModel):
    """One line of a case list: search attributes only, so never personal data."""

    case_code: str
    status: str | None
    bundle: str | None
    bundle_version: int | None
    region: str | None
    pending_departments: list[str]
    overdue: bool
    deadline: datetime | None
    submitted_at: datetime | None
    workflow_status: str


class HistoryLine(BaseModel):
    event_id: int
    at: datetime
    kind: str
    detail: str


def _not_found(exc: RPCError) -> bool:
    return exc.status == RPCStatusCode.NOT_FOUND


async def _exists(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        await handle.describe()
    except RPCError as exc:
        if _not_found(exc):
            return False
        raise
    return True


async def case_state(client: Client, case_code: str) -> CaseState:
    handle = client.get_workflow_handle(case_code)
    try:
        state = await handle.query(QUERY_STATE, result_type=CaseState, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if _not_found(exc):
            raise CaseNotFoundError(case_code) from None
        if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
            raise NoAnswerError(
                f"no worker answered for case {case_code} within "
                f"{QUERY_TIMEOUT.total_seconds():.0f}s; is the orchestrator worker running?"
            ) from None
        raise
    except WorkflowQueryFailedError as exc:
        raise NoAnswerError(f"case {case_code} could not answer: {exc}") from None
    if not isinstance(state, CaseState):
        raise TypeError(f"query {QUERY_STATE} returned {type(state).__name__}, not CaseState")
    return state


async def _update(client: Client, case_code: str, name: str, arg: BaseModel) -> CaseState:
    """Send an Update; every case Update returns the case state after it."""
    handle = client.get_workflow_handle(case_code)
    try:
        state = await handle.execute_update(name, arg, result_type=CaseState)
    except WorkflowUpdateFailedError as exc:
        # The validator's own words; str() of a FailureError would prefix its Python type.
        cause = exc.cause
        message = cause.message if isinstance(cause, FailureError) else str(cause or exc)
        raise ActionRejectedError(message) from None
    except RPCError as exc:
        if _not_found(exc) or exc.status == RPCStatusCode.FAILED_PRECONDITION:
            if not await _exists(handle):
                raise CaseNotFoundError(case_code) from None
            # The workflow exists but cannot take updates any more: the case is closed.
            raise ActionRejectedError(f"case {case_code} is closed: {exc.message}") from None
        raise
    if not isinstance(state, CaseState):
        raise TypeError(f"update {name} returned {type(state).__name__}, not CaseState")
    return state


async def decide(client: Client, case_code: str, decision: DecisionInput) -> CaseState:
    return await _update(client, case_code, UPDATE_DECIDE, decision)


async def supplement(client: Client, case_code: str, supply: SupplementInput) -> CaseState:
    return await _update(client, case_code, UPDATE_SUPPLEMENT, supply)


async def withdraw(client: Client, case_code: str, request: WithdrawInput) -> CaseState:
    return await _update(client, case_code, UPDATE_WITHDRAW, request)


async def rate(client: Client, case_code: str, rating: RateInput) -> CaseState:
    return await _update(client, case_code, UPDATE_RATE, rating)


_LITERAL = re.compile(r"^[A-Za-z0-9._-]+$")


def _literal(field: str, value: str) -> str:
    # Codes and statuses are slugs; refusing anything else keeps a value from ever ending the
    # query's string literal and adding conditions of its own.
    if not _LITERAL.fullmatch(value):
        raise ValueError(f"{field}: {value!r} is not a valid code (letters, digits, . _ -)")
    return f"'{value}'"


def list_query(
    *,
    status: str | None = None,
    bundle: str | None = None,
    department: str | None = None,
    overdue: bool = False,
) -> str:
    """The visibility query for a case list (search attributes only); ValueError names a
    filter that is not a valid code."""
    parts = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    if status:
        parts.append(f"{CASE_STATUS.name} = {_literal('status', status)}")
    if bundle:
        parts.append(f"{CASE_BUNDLE.name} = {_literal('bundle', bundle)}")
    if department:
        parts.append(f"{PENDING_DEPARTMENTS.name} = {_literal('department', department)}")
    if overdue:
        parts.append(f"{CASE_OVERDUE.name} = true")
    # No ORDER BY: the dev server's SQLite visibility store rejects it; list_cases sorts.
    return " AND ".join(parts)


async def list_cases(client: Client, *, query: str, limit: int = 100) -> list[CaseRow]:
    rows: list[CaseRow] = []
    async for wf in client.list_workflows(query, limit=limit):
        sa = wf.typed_search_attributes
        rows.append(
            CaseRow(
                case_code=wf.id,
                status=sa.get(CASE_STATUS),
                bundle=sa.get(CASE_BUNDLE),
                bundle_version=sa.get(CASE_BUNDLE_VERSION),
                region=sa.get(CASE_REGION),
                pending_departments=list(sa.get(PENDING_DEPARTMENTS) or []),
                overdue=bool(sa.get(CASE_OVERDUE)),
                deadline=sa.get(NEXT_DEADLINE),
                submitted_at=sa.get(SUBMITTED_AT),
                workflow_status=wf.status.name.lower() if wf.status else "unknown",
            )
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (r.submitted_at or epoch, r.case_code), reverse=True)
    return rows


# Workflow-task bookkeeping says nothing to an officer; `history --all` shows it anyway.
_NOISE = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    }
)


def _detail(event: HistoryEvent) -> str:
    """What the event is about, without payloads (they hold personal data)."""
    kind = event.WhichOneof("attributes")
    if kind is None:
        return ""
    attrs: Any = getattr(event, kind)
    if kind == "workflow_execution_started_event_attributes":
        return f"type {attrs.workflow_type.name}, queue {attrs.task_queue.name}"
    if kind == "activity_task_scheduled_event_attributes":
        return f"{attrs.activity_type.name} on {attrs.task_queue.name}"
    if kind == "activity_task_failed_event_attributes":
        return str(attrs.failure.message)
    if kind == "timer_started_event_attributes":
        return f"timer {attrs.timer_id} for {attrs.start_to_fire_timeout.ToTimedelta()}"
    if kind in ("timer_fired_event_attributes", "timer_canceled_event_attributes"):
        return f"timer {attrs.timer_id}"
    if kind == "workflow_execution_update_accepted_event_attributes":
        return f"update {attrs.accepted_request.input.name}"
    if kind == "workflow_execution_update_rejected_event_attributes":
        return f"update rejected: {attrs.failure.message}"
    if kind == "workflow_execution_signaled_event_attributes":
        return f"signal {attrs.signal_name}"
    if kind == "upsert_workflow_search_attributes_event_attributes":
        return ", ".join(sorted(attrs.search_attributes.indexed_fields.keys()))
    if kind == "workflow_execution_failed_event_attributes":
        return str(attrs.failure.message)
    return ""


async def history(client: Client, case_code: str, *, everything: bool = False) -> list[HistoryLine]:
    handle = client.get_workflow_handle(case_code)
    try:
        hist = await handle.fetch_history()
    except RPCError as exc:
        if _not_found(exc):
            raise CaseNotFoundError(case_code) from None
        raise
    lines: list[HistoryLine] = []
    for event in hist.events:
        if not everything and event.event_type in _NOISE:
            continue
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
        lines.append(
            HistoryLine(
                event_id=event.event_id,
                at=event.event_time.ToDatetime(tzinfo=UTC),
                kind=name,
                detail=_detail(event),
            )
        )
    return lines
