"""What every request needs: the settings, one shared Temporal client (connected on first
use, so the API starts even while Temporal is still coming up) and a database session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import Request
from sqlmodel import Session
from temporalio.client import Client

from onething.api.errors import ApiError
from onething.db import session_scope
from onething.queues import ORCHESTRATOR_TASK_QUEUE
from onething.settings import Settings
from onething.temporal import connect


@dataclass
class AppContext:
    settings: Settings
    client: Client | None = None
    # Tests run their orchestrator on a queue of their own.
    task_queue: str = ORCHESTRATOR_TASK_QUEUE
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal(self) -> Client:
        async with self._lock:
            if self.client is None:
                try:
                    self.client = await connect(self.settings)
                except RuntimeError as exc:
                    raise ApiError(
                        503,
                        "TEMPORAL_UNAVAILABLE",
                        f"cannot reach Temporal at {self.settings.temporal_address}: {exc}",
                    ) from None
            return self.client


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def temporal_client(request: Request) -> Client:
    return await context(request).temporal()


def db_session(request: Request) -> Iterator[Session]:
    with session_scope(context(request).settings.database_url) as session:
        yield session
