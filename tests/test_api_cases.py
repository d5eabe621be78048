"""The API against the real Temporal dev server with in-process workers: an applicant submits,
follows, withdraws and rates; officers see the case in their inbox (from the read model the
workflow writes) and decide it; every role's allowed and denied actions on a live case."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from onething.api.app import create_app
from onething.casecode import format_case_code
from onething.db import get_engine, migrate
from onething.settings import ApiIdentity
from tests.casekit import (
    GOOD_FORM,
    department,
    eventually,
    orchestrator,
    publish,
    resident_id,
    running,
    settings_for,
    small_bundle,
    unique_department,
)

ALICE = resident_id(birth="19920412", seq="731")
BOB = resident_id(birth="19930513", seq="842")


@dataclass
class World:
    client: httpx.AsyncClient
    auth: dict[str, str]
    bundle_code: str
    manual: str
    auto: str

    async def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {}) | {"Authorization": self.auth[who]}
        return await self.client.request(method, path, headers=headers, **kw)

    async def submit(
        self, who: str = "alice", key: str | None = None, **body: Any
    ) -> httpx.Response:
        payload = {
            "bundle_code": self.bundle_code,
            "applicant_id": ALICE,
            "applicant_name": "周九",
            "form": GOOD_FORM,
            "materials": ["id-card"],
        } | body
        headers = {"Idempotency-Key": key} if key else {}
        return await self.call(who, "POST", "/api/cases", json=payload, headers=headers)

    async def inbox(self, who: str) -> list[str]:
        resp = await self.call(who, "GET", "/api/inbox")
        assert resp.status_code == 200, resp.text
        return [i["case_code"] for i in resp.json()]


@pytest.fixture
async def world(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[World]:
    db_url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate(db_url)
    manual, auto, other = (unique_department(t) for t in ("approve", "check", "other"))
    bundle = small_bundle(manual_dept=manual, auto_dept=auto)
    publish(db_url, bundle)
    who = [
        ApiIdentity(subject="alice", role="applicant", applicant_id=ALICE),
        ApiIdentity(subject="bob", role="applicant", applicant_id=BOB),
        ApiIdentity(subject="officer-manual", role="officer", department=manual),
        ApiIdentity(subject="officer-auto", role="officer", department=auto),
        ApiIdentity(subject="officer-other", role="officer", department=other),
        ApiIdentity(subject="supervisor-manual", role="supervisor", department=manual),
        ApiIdentity(subject="admin", role="admin"),
    ]
    tokens = {secrets.token_urlsafe(16): ident for ident in who}
    temporal = dev_env.client
    settings = settings_for(temporal, db_url).model_copy(update={"api_tokens": tokens})
    task_queue = f"api-{uuid.uuid4().hex[:8]}"
    app = create_app(settings, client=temporal, task_queue=task_queue)
    workers = [
        orchestrator(temporal, settings, task_queue),
        department(temporal, settings, manual),
        department(temporal, settings, auto),
    ]
    async with running(workers):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield World(
                client=client,
                auth={i.subject: f"Bearer {t}" for t, i in tokens.items()},
                bundle_code=bundle.code,
                manual=manual,
                auto=auto,
            )
    get_engine(db_url).dispose()


async def _state(world: World, code: str, who: str = "admin") -> dict[str, Any]:
    resp = await world.call(who, "GET", f"/api/cases/{code}")
    assert resp.status_code == 200, resp.text
    state: dict[str, Any] = resp.json()
    return state


async def test_case_from_submission_to_decision_and_rating(world: World) -> None:
    first = await world.submit(key="req-1")
    assert first.status_code == 201, first.text
    code = first.json()["case_code"]
    again = await world.submit(key="req-1")
    assert again.status_code == 200
    assert again.json()["case_code"] == code and again.json()["created"] is False

    # The inbox reads the read model, which the workflow writes as the step is dispatched.
    await eventually(
        lambda: world.inbox("officer-manual"), lambda codes: code in codes, what="inbox row"
    )
    assert code not in await world.inbox("officer-auto")
    assert code not in await world.inbox("officer-other")

    # Who may look at the live case.
    assert (await _state(world, code, "alice"))["status"] == "running"
    assert (await world.call("bob", "GET", f"/api/cases/{code}")).status_code == 403
    assert (await world.call("officer-auto", "GET", f"/api/cases/{code}")).status_code == 200
    assert (await world.call("officer-other", "GET", f"/api/cases/{code}")).status_code == 403

    # Decisions: the officer's department comes from the token.
    path = f"/api/cases/{code}/steps/approve/decide"
    wrong = await world.call("officer-auto", "POST", path, json={"decision": "approve"})
    assert wrong.status_code == 403
    for who in ("supervisor-manual", "alice", "admin"):
        assert (
            await world.call(who, "POST", path, json={"decision": "approve"})
        ).status_code == 403
    no_reason = await world.call("officer-manual", "POST", path, json={"decision": "reject"})
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["field"] == "reason"
    assert "required to reject" in no_reason.json()["error"]["message"]
    odd = await world.call("officer-manual", "POST", path, json={"decision": "maybe"})
    assert odd.status_code == 422 and odd.json()["error"]["field"] == "decision"
    spoof = await world.call(
        "officer-manual", "POST", path, json={"decision": "approve", "department": world.auto}
    )
    assert spoof.status_code == 422 and spoof.json()["error"]["field"] == "department"
    ghost = await world.call(
        "officer-manual",
        "POST",
        f"/api/cases/{code}/steps/nope/decide",
        json={"decision": "approve"},
    )
    assert ghost.status_code == 404 and ghost.json()["error"]["code"] == "STEP_NOT_FOUND"

    early = await world.call("alice", "POST", f"/api/cases/{code}/rate", json={"level": "满意"})
    assert early.status_code == 409
    assert "only a completed case can be rated" in early.json()["error"]["message"]

    approved = await world.call("officer-manual", "POST", path, json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    step = next(s for s in approved.json()["steps"] if s["id"] == "approve")
    assert step["status"] == "approved" and step["officer_id"] == "officer-manual"

    await eventually(
        lambda: _state(world, code), lambda s: s["status"] == "completed", what="completion"
    )
    await eventually(
        lambda: world.inbox("officer-manual"), lambda codes: code not in codes, what="inbox gone"
    )
    assert (
        await world.call("bob", "POST", f"/api/cases/{code}/rate", json={"level": "满意"})
    ).status_code == 403
    rated = await world.call("alice", "POST", f"/api/cases/{code}/rate", json={"level": "满意"})
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"]["level"] == "满意"
    twice = await world.call("alice", "POST", f"/api/cases/{code}/rate", json={"level": "满意"})
    # A good rating ends the case, so the second one finds it closed.
    assert twice.status_code == 409 and "is closed" in twice.json()["error"]["message"]

    listed = await world.call("alice", "GET", "/api/cases")
    assert [c["case_code"] for c in listed.json()] == [code]
    assert ALICE not in listed.text


async def test_applicant_withdraws_only_their_own_case(world: World) -> None:
    code = (await world.submit()).json()["case_code"]
    await eventually(
        lambda: world.inbox("officer-manual"), lambda codes: code in codes, what="inbox row"
    )
    stolen = await world.call("bob", "POST", f"/api/cases/{code}/withdraw", json={"reason": "x"})
    assert stolen.status_code == 403
    assert (
        await world.call("officer-manual", "POST", f"/api/cases/{code}/withdraw", json={})
    ).status_code == 403
    nothing = await world.call(
        "alice", "POST", f"/api/cases/{code}/supplement", json={"materials": ["photo"]}
    )
    assert nothing.status_code == 422 and nothing.json()["error"]["field"] == "step_id"
    empty = await world.call(
        "alice", "POST", f"/api/cases/{code}/supplement", json={"materials": []}
    )
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "materials"
    done = await world.call(
        "alice", "POST", f"/api/cases/{code}/withdraw", json={"reason": "不办了"}
    )
    assert done.status_code == 200, done.text
    await eventually(
        lambda: _state(world, code), lambda s: s["status"] == "withdrawn", what="withdrawal"
    )
    again = await world.call("alice", "POST", f"/api/cases/{code}/withdraw", json={})
    assert again.status_code == 409 and "is closed" in again.json()["error"]["message"]


async def test_submission_checks_and_case_lookups(world: World) -> None:
    mismatch = await world.submit(key="k-1", request_id="k-2")
    assert mismatch.status_code == 422 and mismatch.json()["error"]["field"] == "request_id"
    bad = await world.submit(form={"household_size": "many"}, materials=[])
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "PRE_REVIEW_FAILED"
    fields = {i["field"] for i in error["issues"]}
    expected = {"form.full_address", "form.household_size", "materials.id-card"}
    assert expected <= fields, error["issues"]
    missing_field = await world.call("alice", "POST", "/api/cases", json={"bundle_code": "x"})
    assert missing_field.status_code == 422
    assert missing_field.json()["error"]["field"] in {"applicant_id", "applicant_name"}
    other_person = await world.submit(applicant_id=BOB)
    assert other_person.status_code == 403

    unknown = format_case_code(region="510100", abbr="ZZZZ", day=date(2026, 1, 5), seq=99999)
    gone = await world.call("admin", "GET", f"/api/cases/{unknown}")
    assert gone.status_code == 404
    assert gone.json()["error"] == {
        "code": "CASE_NOT_FOUND",
        "message": f"case {unknown} not found",
        "field": "code",
        "issues": [],
    }
    # An applicant gets the same 404 for a case the read model does not know.
    assert (await world.call("alice", "GET", f"/api/cases/{unknown}")).status_code == 404
    garbled = await world.call("admin", "GET", "/api/cases/510100-XX-1-2-3")
    assert garbled.status_code == 422 and garbled.json()["error"]["field"] == "code"
    decide = await world.call(
        "officer-manual",
        "POST",
        f"/api/cases/{unknown}/steps/approve/decide",
        json={"decision": "approve"},
    )
    assert decide.status_code == 404
