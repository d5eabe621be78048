"""Bundle definitions (everyone reads; admins publish and retire) and the effectiveness report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session

from definitions.loader import has_errors, locate_issues, parse_model, sort_issues
from definitions.schema import Bundle
from definitions.validation import DefinitionError, Issue, load_departments, validate_bundle
from onething import registry
from onething.api.auth import authenticate, require
from onething.api.deps import context, db_session
from onething.api.errors import ApiError
from onething.api.schemas import (
    BundleDetailOut,
    BundleVersionOut,
    ChangeOut,
    DiffOut,
    ErrorBody,
    PublishOut,
    RetireOut,
)
from onething.bundle_diff import diff as diff_bundles
from onething.models import BundleVersion
from onething.reports import Report, build_report
from onething.settings import ApiIdentity, Settings
from onething.workcal import CalendarUnavailable

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}

router = APIRouter(prefix="/api", tags=["admin"], responses=ERRORS)

Anyone = Annotated[ApiIdentity, Depends(authenticate)]
Admin = Annotated[ApiIdentity, Depends(require("admin"))]
Supervision = Annotated[ApiIdentity, Depends(require("supervisor", "admin"))]
Db = Annotated[Session, Depends(db_session)]

# The uploaded YAML has no file name; issues are located as "<request>:line:col".
SOURCE_NAME = "<request>"
MAX_YAML_BYTES = 1_000_000


def _out(row: BundleVersion) -> BundleVersionOut:
    return BundleVersionOut(
        code=row.code,
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        status=row.status.value,
        published_at=row.published_at,
        retired_at=row.retired_at,
    )


def _issue_dict(issue: Issue) -> dict[str, Any]:
    return {
        "field": issue.path or None,
        "reason": issue.message,
        "line": issue.line,
        "column": issue.column,
        "severity": issue.severity,
    }


@router.get("/bundles", response_model=list[BundleVersionOut])
def list_bundles(_identity: Anyone, session: Db) -> list[BundleVersionOut]:
    """Every published version of every bundle, by code then version."""
    return [_out(r) for r in registry.list_versions(session)]


@router.get("/bundles/{code}", response_model=BundleDetailOut)
def show_bundle(
    code: str,
    _identity: Anyone,
    session: Db,
    version: Annotated[int | None, Query(ge=1, description="Default: latest active")] = None,
) -> BundleDetailOut:
    row = registry.get_version(session, code=code, version=version)
    return BundleDetailOut(
        **_out(row).model_dump(), definition=row.definition, source_yaml=row.source_yaml
    )


def _validated(text: str, request: Request) -> tuple[Bundle, list[Issue]]:
    """The bundle and its warnings, or a 422 listing every issue."""
    try:
        departments = load_departments(context(request).settings.departments_file)
    except DefinitionError as exc:
        raise ApiError(
            500, "REGISTRY_INVALID", f"the department registry is invalid: {exc.issues[0]}"
        ) from None
    bundle, root, issues = parse_model(Bundle, text, file=SOURCE_NAME)
    if bundle is not None:
        issues = locate_issues(validate_bundle(bundle, departments), file=SOURCE_NAME, root=root)
    issues = sort_issues(issues)
    if bundle is None or has_errors(issues):
        errors = [i for i in issues if i.severity == "error"]
        raise ApiError(
            422,
            "DEFINITION_INVALID",
            f"{len(errors)} error(s): " + "; ".join(str(i) for i in errors),
            field=errors[0].path or None if errors else None,
            issues=[_issue_dict(i) for i in issues],
        )
    return bundle, issues


@router.post(
    "/bundles",
    status_code=201,
    response_model=PublishOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
        }
    },
)
async def publish_bundle(
    request: Request, response: Response, _identity: Admin, session: Db
) -> PublishOut:
    """Publish a YAML definition (the request body) as the bundle's next version; identical
    content returns the existing version (200)."""
    raw = await request.body()
    if len(raw) > MAX_YAML_BYTES:
        raise ApiError(413, "TOO_LARGE", f"body: larger than {MAX_YAML_BYTES} bytes", field="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "INVALID_INPUT", f"body: not UTF-8 (byte {exc.start})", field="body"
        ) from None
    if not text.strip():
        raise ApiError(422, "INVALID_INPUT", "body: empty; send the YAML definition", field="body")
    bundle, warnings = _validated(text, request)
    result = registry.publish(session, bundle=bundle, source_yaml=text)
    if not result.created:
        response.status_code = 200
    return PublishOut(
        created=result.created,
        retired=result.retired,
        version=_out(result.version),
        warnings=[_issue_dict(i) for i in warnings],
    )


@router.get("/bundles/{code}/diff", response_model=DiffOut)
def diff_bundle(
    code: str,
    _identity: Anyone,
    session: Db,
    a: Annotated[int, Query(ge=1)],
    b: Annotated[int, Query(ge=1)],
) -> DiffOut:
    """Step-level differences from version a to version b."""
    row_a = registry.get_version(session, code=code, version=a)
    row_b = registry.get_version(session, code=code, version=b)
    changes = diff_bundles(registry.load_definition(row_a), registry.load_definition(row_b))
    return DiffOut(
        code=code,
        a=a,
        b=b,
        changes=[ChangeOut(**c.model_dump(), text=str(c)) for c in changes],
    )


@router.post("/bundles/{code}/versions/{n}/retire", response_model=RetireOut)
def retire_bundle(code: str, n: int, _identity: Admin, session: Db) -> RetireOut:
    """Stop a version from taking new cases (running cases keep their pinned definition)."""
    result = registry.retire(session, code=code, version=n)
    return RetireOut(changed=result.changed, version=_out(result.version))


def _department_names(settings: Settings) -> dict[str, str] | None:
    try:
        return {d.code: d.name for d in load_departments(settings.departments_file).departments}
    except DefinitionError:
        # Names are decoration; the figures stand on codes alone.
        return None


@router.get("/reports", response_model=Report)
def report(
    _identity: Supervision,
    session: Db,
    request: Request,
    since: Annotated[date | None, Query(description="First day (CST) of submission")] = None,
) -> Report:
    """办理质效分析 per bundle and department, from the read model."""
    settings = context(request).settings
    try:
        return build_report(
            session,
            since=since,
            now=datetime.now(UTC),
            allow_fallback=settings.calendar_weekday_fallback,
            department_names=_department_names(settings),
        )
    except CalendarUnavailable as exc:
        raise ApiError(503, "CALENDAR_UNAVAILABLE", str(exc)) from None
