"""API authentication, error shapes and the OpenAPI schema (no Temporal needed: every
request here is settled before the API would talk to a case)."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from onething.api import auth
from onething.api.app import create_app
from onething.api.devtokens import DEMO_APPLICANT_ID, load_or_create, token_for
from onething.api.timeleft import remaining
from onething.settings import ApiIdentity, Settings
from onething.workcal import CST
from tests.casekit import resident_id

APPLICANT_ID = resident_id(birth="19880808", seq="321")


def _tokens() -> dict[str, ApiIdentity]:
    return {
        secrets.token_urlsafe(16): ApiIdentity(subject="adm", role="admin"),
        secrets.token_urlsafe(16): ApiIdentity(
            subject="app-1", role="applicant", applicant_id=APPLICANT_ID
        ),
        secrets.token_urlsafe(16): ApiIdentity(
            subject="off-1", role="officer", department="510000.market"
        ),
    }


def _token(tokens: dict[str, ApiIdentity], subject: str) -> str:
    return next(t for t, i in tokens.items() if i.subject == subject)


Api = tuple[httpx.AsyncClient, dict[str, ApiIdentity]]


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    tokens = _tokens()
    settings = Settings(database_url=db_url, api_tokens=tokens)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_openapi_schema_loads_and_lists_every_endpoint(api: Api) -> None:
    client, _ = api
    schema = (await client.get("/openapi.json")).json()
    assert {
        "/api/cases",
        "/api/cases/{code}",
        "/api/cases/{code}/supplement",
        "/api/cases/{code}/withdraw",
        "/api/cases/{code}/rate",
        "/api/cases/{code}/steps/{step}/decide",
        "/api/inbox",
        "/api/supervision",
        "/api/bundles",
        "/api/bundles/{code}",
        "/api/bundles/{code}/diff",
        "/api/bundles/{code}/versions/{n}/retire",
        "/api/reports",
    } <= set(schema["paths"])
    assert "ErrorBody" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, _bearer("not-a-token")],
    ids=["none", "wrong-scheme", "empty", "unknown"],
)
async def test_missing_or_bad_token_is_401_json(api: Api, headers: dict[str, str]) -> None:
    client, _ = api
    resp = await client.get("/api/bundles", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    error = resp.json()["error"]
    assert error["code"] == "UNAUTHENTICATED"
    assert error["field"] == "Authorization"
    assert error["message"]


async def test_me_names_the_identity(api: Api) -> None:
    client, tokens = api
    resp = await client.get("/api/me", headers=_bearer(_token(tokens, "off-1")))
    assert resp.json() == {"subject": "off-1", "role": "officer", "department": "510000.market"}


def test_every_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = _tokens()
    settings = Settings(api_tokens=tokens)
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    first = next(iter(tokens))
    assert auth.find_identity(settings, first) == tokens[first]
    # No early exit on the first match: every configured token was compared.
    assert len(calls) == len(tokens)
    calls.clear()
    assert auth.find_identity(settings, "nope") is None
    assert len(calls) == len(tokens)


async def test_denial_is_403_and_logged_without_personal_data(api: Api) -> None:
    client, tokens = api
    token = _token(tokens, "app-1")
    with capture_logs() as logs:
        resp = await client.post(
            "/api/bundles",
            content="code: x\n",
            headers=_bearer(token) | {"Content-Type": "application/yaml"},
        )
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "FORBIDDEN"
    denials = [e for e in logs if e["event"] == "api_denied"]
    assert denials and denials[0]["subject"] == "app-1" and denials[0]["role"] == "applicant"
    text = json.dumps(logs, ensure_ascii=False, default=str)
    assert APPLICANT_ID not in text and token not in text


async def test_officer_cannot_use_applicant_actions(api: Api) -> None:
    client, tokens = api
    resp = await client.post(
        "/api/cases",
        json={"bundle_code": "x", "applicant_id": APPLICANT_ID, "applicant_name": "张三"},
        headers=_bearer(_token(tokens, "off-1")),
    )
    assert resp.status_code == 403


async def test_unknown_route_is_json_404(api: Api) -> None:
    client, _ = api
    resp = await client.get("/api/nothing-here")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "NOT_FOUND"


def test_identity_settings_name_the_missing_field() -> None:
    with pytest.raises(ValidationError, match="department: required for role officer"):
        ApiIdentity(subject="o", role="officer")
    with pytest.raises(ValidationError, match="applicant_id: required"):
        ApiIdentity(subject="a", role="applicant")


def test_tokens_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    token = secrets.token_urlsafe(16)
    value = {token: {"subject": "s1", "role": "supervisor", "department": "510000.tax"}}
    monkeypatch.setenv("ONETHING_API_TOKENS", json.dumps(value))
    monkeypatch.setenv("ONETHING_API_PORT", "8123")
    settings = Settings()
    assert settings.api_tokens[token].department == "510000.tax"
    assert settings.api_port == 8123


def test_dev_tokens_are_random_private_and_reused(tmp_path: Path) -> None:
    path, tokens = load_or_create(tmp_path, ["510000.market"])
    assert path.stat().st_mode & 0o777 == 0o600
    subjects = {i.subject for i in tokens.values()}
    assert {"admin", "applicant-demo", "officer@510000.market"} <= subjects
    applicant = tokens[token_for(tokens, "applicant-demo") or ""]
    assert applicant.applicant_id == DEMO_APPLICANT_ID
    _, again = load_or_create(tmp_path, ["510000.market"])
    assert again == tokens
    _, other = load_or_create(tmp_path / "elsewhere", ["510000.market"])
    assert set(other).isdisjoint(tokens)


def _cst(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=CST)


def test_remaining_counts_working_days_across_the_national_day_holiday() -> None:
    # Due at the end of Friday 9 October 2026; 1-7 October are holidays.
    due = _cst(2026, 10, 10)
    left = remaining(due, now=_cst(2026, 9, 30, 10))
    assert left.working_days == 3  # 30 Sep, 8 Oct, 9 Oct
    assert left.text == "剩余3个工作日"
    late = remaining(_cst(2026, 9, 30), now=_cst(2026, 10, 8, 10))
    assert late.working_days == -2  # 30 Sep and 8 Oct have passed the deadline
    assert late.text == "已超期2个工作日"


def test_remaining_for_hour_limits_is_wall_clock() -> None:
    now = _cst(2026, 10, 3, 9)
    left = remaining(now + timedelta(hours=2, minutes=5), now=now)
    assert left.working_days is None and left.text == "剩余2小时5分"
    assert remaining(now - timedelta(minutes=7), now=now).text == "已超期7分钟"
    assert remaining(None, now=now).text == "未计时"


async def test_a_body_that_is_not_json_is_422_naming_the_body(api: Api) -> None:
    client, tokens = api
    resp = await client.post(
        "/api/cases",
        content=b"{not json",
        headers=_bearer(_token(tokens, "app-1")) | {"Content-Type": "application/json"},
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == "body"
