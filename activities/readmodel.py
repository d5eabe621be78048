"""``record_case_event``: writes a case's transitions into the SQL read model
(``onething.readmodel``). The workflow runs it as a local activity on the orchestrator worker:
one short database transaction per batch of transitions, no task-queue round trip."""

from __future__ import annotations

import asyncio

import structlog
from temporalio import activity

from onething.db import session_scope
from onething.logs import get_logger
from onething.readmodel import CaseRecordInput, RecordResult, write_record
from onething.settings import Settings

RECORD_CASE_EVENT = "record_case_event"

log = get_logger(__name__)


class ReadModelActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name=RECORD_CASE_EVENT)
    async def record_case_event(self, request: CaseRecordInput) -> RecordResult:
        with structlog.contextvars.bound_contextvars(case_code=request.case.case_code):
            result = await asyncio.to_thread(self._write, request)
            log.debug(
                "read model written",
                revision=request.revision,
                status=request.case.status,
                events=result.events_inserted,
                stale=not result.case_written,
            )
            return result

    def _write(self, request: CaseRecordInput) -> RecordResult:
        with session_scope(self.settings.database_url) as session:
            return write_record(session, record=request)
