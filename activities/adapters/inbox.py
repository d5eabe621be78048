"""Built-in inbox: a manual step becomes a row in ``department_inbox``; officers see it there
and decide through the case's ``decide`` Update."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import IntegrityError
from temporalio.exceptions import ApplicationError

from activities.models import AdapterDecision, StepOutcomeInput, StepPayload, WithdrawStepInput
from onething.db import session_scope
from onething.models import DepartmentInbox, InboxStatus, utcnow


class InboxAdapter:
    def __init__(self, *, database_url: str) -> None:
        self.database_url = database_url

    async def dispatch(self, payload: StepPayload) -> None:
        await asyncio.to_thread(self._dispatch, payload)

    async def decide(self, payload: StepPayload) -> AdapterDecision:
        raise ApplicationError(
            f"step {payload.step.id!r}: the inbox adapter cannot decide automatic steps; "
            "configure a rules or http adapter for department " + payload.step.department,
            type="AdapterMisconfigured",
            non_retryable=True,
        )

    async def withdraw(self, request: WithdrawStepInput) -> None:
        await asyncio.to_thread(self._withdraw, request)

    async def record_outcome(self, request: StepOutcomeInput) -> None:
        await asyncio.to_thread(self._record_outcome, request)

    def _dispatch(self, payload: StepPayload) -> None:
        with session_scope(self.database_url) as session:
            if session.get(DepartmentInbox, (payload.case_code, payload.step.id)) is not None:
                return
            session.add(
                DepartmentInbox(
                    case_code=payload.case_code,
                    step_id=payload.step.id,
                    department=payload.step.department,
                    bundle_code=payload.bundle_code,
                    item=payload.step.item,
                    due_at=payload.due_at,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                # A concurrent attempt of the same dispatch won the insert: same row, done.
                session.rollback()

    def _withdraw(self, request: WithdrawStepInput) -> None:
        with session_scope(self.database_url) as session:
            row = session.get(DepartmentInbox, (request.case_code, request.step_id))
            if row is None or row.status == InboxStatus.withdrawn:
                return
            row.status = InboxStatus.withdrawn
            row.withdrawn_at = utcnow()
            row.withdraw_reason = request.reason
            session.add(row)
            session.commit()

    def _record_outcome(self, request: StepOutcomeInput) -> None:
        with session_scope(self.database_url) as session:
            row = session.get(DepartmentInbox, (request.case_code, request.step_id))
            if row is None or row.status != InboxStatus.pending:
                return
            row.status = InboxStatus.decided
            row.outcome = request.outcome
            row.decided_at = utcnow()
            session.add(row)
            session.commit()
