"""Notifications (预警, 督办, 提级, 补正, withdrawal, delivery to the applicant's channels): each is
a row in ``notification`` keyed for idempotency, plus a masked log line. A real SMS or app push
gateway would be called here, after the row is written."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.exc import IntegrityError
from temporalio import activity

from activities.models import (
    DELIVER_RESULT,
    NOTIFY,
    DeliverInput,
    NotificationKind,
    NotifyInput,
)
from onething.db import session_scope
from onething.logs import get_logger
from onething.models import Notification
from onething.settings import Settings

log = get_logger(__name__)


class NotificationActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name=NOTIFY)
    async def notify(self, request: NotifyInput) -> bool:
        """True when this call sent the notice, False when it had been sent already."""
        with structlog.contextvars.bound_contextvars(case_code=request.case_code):
            return await asyncio.to_thread(self._record, request)

    @activity.defn(name=DELIVER_RESULT)
    async def deliver_result(self, request: DeliverInput) -> list[str]:
        """多端获取: the result goes to every channel the applicant uses; returns the channels."""
        with structlog.contextvars.bound_contextvars(case_code=request.case_code):
            for channel in request.channels:
                await asyncio.to_thread(
                    self._record,
                    NotifyInput(
                        case_code=request.case_code,
                        kind=NotificationKind.delivery,
                        recipient=f"applicant:{channel}",
                        message=request.message,
                        key=f"{request.case_code}:delivery:{request.outcome}:{channel}",
                    ),
                )
            return request.channels

    def _record(self, request: NotifyInput) -> bool:
        with session_scope(self.settings.database_url) as session:
            if session.get(Notification, request.key) is not None:
                return False
            session.add(
                Notification(
                    key=request.key,
                    case_code=request.case_code,
                    kind=request.kind.value,
                    recipient=request.recipient,
                    step_id=request.step_id,
                    message=request.message,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        log.info(
            "notification sent",
            kind=request.kind.value,
            recipient=request.recipient,
            step_id=request.step_id,
            message=request.message,
        )
        return True
