"""The onething HTTP API: ``create_app(settings)`` builds the FastAPI application.

Every endpoint under ``/api`` needs ``Authorization: Bearer <token>`` (tokens in
``ONETHING_API_TOKENS``); errors are ``{"error": {"code", "message", "field", "issues"}}``.
OpenAPI at ``/docs`` and ``/openapi.json``; the web console at ``/console`` when present.

Roles: A applicant, O officer, S supervisor, D admin, * any. Bodies and answers are the
models in ``onething/api/schemas.py`` and ``workflows/models.py``.

| method | path | roles | body / query | returns |
|---|---|---|---|---|
| GET  | /api/me | * | | Me |
| POST | /api/cases | A | SubmitBody; Idempotency-Key | 201 SubmitOut (200: seen) |
| GET  | /api/cases | A O S D | status bundle department overdue | list[CaseSummary] |
|      |            |         | submitted_from submitted_to limit | (read model) |
| GET  | /api/cases/{code} | A own, O S own dept, D | | CaseState (Query) |
| POST | /api/cases/{code}/supplement | A own | SupplementInput | CaseState |
| POST | /api/cases/{code}/withdraw | A own | WithdrawInput | CaseState |
| POST | /api/cases/{code}/rate | A own | RateInput | CaseState |
| POST | /api/cases/{code}/steps/{step}/decide | O own dept | DecideBody | CaseState |
| GET  | /api/inbox | O S | | list[InboxItem] by due_at |
| GET  | /api/supervision | S D | | list[SupervisionItem] |
| GET  | /api/bundles | * | | list[BundleVersionOut] |
| GET  | /api/bundles/{code} | * | version | BundleDetailOut |
| POST | /api/bundles | D | YAML text | 201 PublishOut (200: same) |
| GET  | /api/bundles/{code}/diff | * | a, b | DiffOut |
| POST | /api/bundles/{code}/versions/{n}/retire | D | | RetireOut |
| GET  | /api/reports | S D | since (date) | Report |
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from onething.api import errors, routes_admin, routes_applicant, routes_cases, routes_officer
from onething.api.deps import AppContext
from onething.queues import ORCHESTRATOR_TASK_QUEUE
from onething.settings import Settings

CONSOLE_DIR = Path(__file__).parent / "console"


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    task_queue: str = ORCHESTRATOR_TASK_QUEUE,
) -> FastAPI:
    """The API for ``settings``; ``client`` and ``task_queue`` let tests use their own."""
    app = FastAPI(
        title="onething",
        summary="高效办成一件事: cases, department inboxes, bundle definitions, reports",
        version="1",
    )
    app.state.ctx = AppContext(settings=settings, client=client, task_queue=task_queue)
    errors.install(app)
    app.include_router(routes_cases.router)
    app.include_router(routes_applicant.router)
    app.include_router(routes_officer.router)
    app.include_router(routes_admin.router)
    if CONSOLE_DIR.is_dir():
        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")

        @app.get("/", include_in_schema=False)
        def _home() -> RedirectResponse:
            return RedirectResponse("/console/")

    return app
