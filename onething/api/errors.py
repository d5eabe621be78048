"""JSON errors: ``{"error": {"code", "message", "field", "issues"}}`` for every failure,
including FastAPI's own request validation (422 naming the field)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from onething import caseops, registry
from onething.logs import get_logger
from onething.submission import SubmissionError

log = get_logger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.issues = issues or []


def error_json(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    issues: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field, "issues": issues or []}}
    return JSONResponse(status_code=status, content=body, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "form", "x") -> "form.x"; the location kind says nothing to the caller.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_json(
        exc.status, exc.code, exc.message, field=exc.field, issues=exc.issues, headers=headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [
        # A body that is not JSON at all is located by character offset; name the body.
        {"field": "body" if e["type"] == "json_invalid" else _field(e["loc"]), "reason": e["msg"]}
        for e in exc.errors()
    ]
    first = issues[0] if issues else {"field": "body", "reason": "invalid"}
    message = "; ".join(f"{i['field']}: {i['reason']}" for i in issues)
    return error_json(422, "INVALID_INPUT", message, field=first["field"], issues=issues)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return error_json(exc.status_code, code, str(exc.detail))


async def _case_not_found(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, caseops.CaseNotFoundError)
    return error_json(404, "CASE_NOT_FOUND", str(exc), field="code")


# Validator messages that begin "field: ..." blame the input; the others the case's state.
_FIELD_PREFIX = re.compile(r"^([a-z_]+): ")


async def _action_rejected(_request: Request, exc: Exception) -> JSONResponse:
    # The workflow's own words (an Update validator, or the case is closed).
    message = str(exc)
    match = _FIELD_PREFIX.match(message)
    if match:
        return error_json(422, "ACTION_REJECTED", message, field=match.group(1))
    return error_json(409, "ACTION_REJECTED", message)


async def _no_answer(_request: Request, exc: Exception) -> JSONResponse:
    return error_json(503, "NO_ANSWER", str(exc))


async def _submission(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SubmissionError)
    issues = [{"field": p.field, "reason": p.reason} for p in exc.problems]
    field = exc.problems[0].field if exc.problems else None
    return error_json(422, "PRE_REVIEW_FAILED", str(exc), field=field, issues=issues)


async def _bundle_not_found(_request: Request, exc: Exception) -> JSONResponse:
    return error_json(404, "BUNDLE_NOT_FOUND", str(exc), field="code")


async def _registry(_request: Request, exc: Exception) -> JSONResponse:
    return error_json(409, "REGISTRY_CONFLICT", str(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(caseops.CaseNotFoundError, _case_not_found)
    app.add_exception_handler(caseops.ActionRejectedError, _action_rejected)
    app.add_exception_handler(caseops.NoAnswerError, _no_answer)
    app.add_exception_handler(SubmissionError, _submission)
    app.add_exception_handler(registry.NotFoundError, _bundle_not_found)
    app.add_exception_handler(registry.RegistryError, _registry)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
