"""Bundle definitions over the API: everyone reads, only admins publish and retire; invalid
YAML is a 422 listing every issue."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from onething.api.app import create_app
from onething.settings import ApiIdentity, Settings

YAML = (Settings().bundles_dir / "marriage-hukou.yaml").read_text(encoding="utf-8")
# Version 2: the promised limit shortened, which the diff must show.
YAML_V2 = YAML.replace(
    "promised_limit: {amount: 20, unit: working_days}",
    "promised_limit: {amount: 15, unit: working_days}",
)
# Two structural errors (reported together) ...
BROKEN = YAML.replace("abbr: JHLH", "abbr: 12").replace("kind: personal", "kind: nonsense")
# ... and a semantic one, found once the structure is right.
UNKNOWN_DEPARTMENT = YAML.replace("department: 510000.civil-affairs", "department: 510000.nowhere")

Api = tuple[httpx.AsyncClient, dict[str, str]]


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    who = {
        "admin": ApiIdentity(subject="adm", role="admin"),
        "officer": ApiIdentity(subject="o1", role="officer", department="510000.civil-affairs"),
        "supervisor": ApiIdentity(
            subject="s1", role="supervisor", department="510000.civil-affairs"
        ),
    }
    tokens = {secrets.token_urlsafe(16): ident for ident in who.values()}
    by_role = {ident.role: tok for tok, ident in tokens.items()}
    app = create_app(Settings(database_url=db_url, api_tokens=tokens))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, {role: f"Bearer {tok}" for role, tok in by_role.items()}


async def _publish(client: httpx.AsyncClient, auth: str, text: str) -> httpx.Response:
    return await client.post(
        "/api/bundles",
        content=text.encode("utf-8"),
        headers={"Authorization": auth, "Content-Type": "application/yaml"},
    )


async def test_admin_publishes_lists_shows_diffs_and_retires(api: Api) -> None:
    client, auth = api
    first = await _publish(client, auth["admin"], YAML)
    assert first.status_code == 201, first.text
    assert first.json()["version"]["version"] == 1 and first.json()["created"] is True
    same = await _publish(client, auth["admin"], YAML)
    assert same.status_code == 200 and same.json()["created"] is False
    second = await _publish(client, auth["admin"], YAML_V2)
    assert second.status_code == 201 and second.json()["version"]["version"] == 2

    listed = (await client.get("/api/bundles", headers={"Authorization": auth["officer"]})).json()
    assert [(b["code"], b["version"]) for b in listed] == [
        ("marriage-hukou", 1),
        ("marriage-hukou", 2),
    ]
    latest = await client.get(
        "/api/bundles/marriage-hukou", headers={"Authorization": auth["officer"]}
    )
    assert latest.json()["version"] == 2
    assert latest.json()["definition"]["promised_limit"]["amount"] == 15
    v1 = await client.get(
        "/api/bundles/marriage-hukou",
        params={"version": 1},
        headers={"Authorization": auth["officer"]},
    )
    assert v1.json()["version"] == 1 and v1.json()["source_yaml"] == YAML

    diff = await client.get(
        "/api/bundles/marriage-hukou/diff",
        params={"a": 1, "b": 2},
        headers={"Authorization": auth["supervisor"]},
    )
    assert diff.status_code == 200
    changes = diff.json()["changes"]
    assert any(c["field"] == "promised_limit" for c in changes), changes

    retired = await client.post(
        "/api/bundles/marriage-hukou/versions/2/retire", headers={"Authorization": auth["admin"]}
    )
    assert retired.status_code == 200
    assert retired.json()["changed"] is True and retired.json()["version"]["status"] == "retired"
    again = await client.post(
        "/api/bundles/marriage-hukou/versions/2/retire", headers={"Authorization": auth["admin"]}
    )
    assert again.json()["changed"] is False
    active = await client.get(
        "/api/bundles/marriage-hukou", headers={"Authorization": auth["officer"]}
    )
    assert active.json()["version"] == 1


@pytest.mark.parametrize("role", ["officer", "supervisor"])
async def test_only_admins_publish_and_retire(api: Api, role: str) -> None:
    client, auth = api
    denied = await _publish(client, auth[role], YAML)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"
    assert (await _publish(client, auth["admin"], YAML)).status_code == 201
    retire = await client.post(
        "/api/bundles/marriage-hukou/versions/1/retire", headers={"Authorization": auth[role]}
    )
    assert retire.status_code == 403
    shown = await client.get("/api/bundles/marriage-hukou", headers={"Authorization": auth[role]})
    assert shown.json()["status"] == "active"


async def test_invalid_definition_is_422_listing_every_issue(api: Api) -> None:
    client, auth = api
    resp = await _publish(client, auth["admin"], BROKEN)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "DEFINITION_INVALID"
    fields = {i["field"] for i in error["issues"] if i["severity"] == "error"}
    assert {"abbr", "kind"} <= fields, error["issues"]
    assert all(i["line"] for i in error["issues"] if i["severity"] == "error")
    semantic = await _publish(client, auth["admin"], UNKNOWN_DEPARTMENT)
    assert semantic.status_code == 422
    issue = semantic.json()["error"]["issues"][0]
    assert issue["field"].endswith("department") and "510000.nowhere" in issue["reason"]
    listed = await client.get("/api/bundles", headers={"Authorization": auth["admin"]})
    assert listed.json() == []


@pytest.mark.parametrize(
    ("body", "field"), [("", "body"), ("code: [unclosed\n", None), ("- a list\n", None)]
)
async def test_unreadable_yaml_is_422(api: Api, body: str, field: str | None) -> None:
    client, auth = api
    resp = await _publish(client, auth["admin"], body)
    assert resp.status_code == 422
    error = resp.json()["error"]
    if field:
        assert error["field"] == field
    else:
        assert error["issues"], error


async def test_unknown_bundle_or_version_is_404(api: Api) -> None:
    client, auth = api
    headers = {"Authorization": auth["officer"]}
    missing = await client.get("/api/bundles/no-such-bundle", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "BUNDLE_NOT_FOUND"
    await _publish(client, auth["admin"], YAML)
    version = await client.get(
        "/api/bundles/marriage-hukou", params={"version": 9}, headers=headers
    )
    assert version.status_code == 404 and "no version 9" in version.json()["error"]["message"]
    bad = await client.get("/api/bundles/marriage-hukou", params={"version": "x"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "version"
    no_b = await client.get("/api/bundles/marriage-hukou/diff", params={"a": 1}, headers=headers)
    assert no_b.status_code == 422 and no_b.json()["error"]["field"] == "b"
