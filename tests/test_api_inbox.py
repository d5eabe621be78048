"""Listings that read the SQL read model: the department inbox (sorted by deadline, overdue and
warning flagged, remaining working time), case search and the supervision list, with each
role's view and the masking of personal data. Rows are written with the read model's own
writer, as the workflow's activity writes them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from onething.api.app import create_app
from onething.db import session_scope
from onething.logs import mask_id
from onething.readmodel import CaseRecordInput, CaseRow, StepRow, applicant_key, write_record
from onething.settings import ApiIdentity, Settings
from tests.casekit import resident_id
from workflows.models import GOV_SERVICE_OFFICE

MARKET = "510000.market"
TAX = "510000.tax"
ALICE = resident_id(birth="19800101", seq="111")
BOB = resident_id(birth="19810202", seq="222")
NOW = datetime.now(UTC)

Api = tuple[httpx.AsyncClient, dict[str, str]]


def _case(
    code: str,
    applicant: str,
    steps: list[StepRow],
    *,
    status: str = "running",
    bundle: str = "b-one",
    submitted: datetime = NOW - timedelta(days=1),
    overdue: bool = False,
) -> CaseRecordInput:
    return CaseRecordInput(
        revision=1,
        case=CaseRow(
            case_code=code,
            bundle_code=bundle,
            bundle_version=1,
            bundle_name="测试",
            region="510100",
            channel="web",
            status=status,
            applicant_key=applicant_key(applicant),
            applicant_masked=mask_id(applicant),
            submitted_at=submitted,
            overdue=overdue,
        ),
        steps=steps,
    )


def _step(
    step_id: str,
    department: str,
    *,
    status: str = "awaiting_decision",
    due_in: timedelta | None = timedelta(hours=5),
    warned: bool = False,
    overdue: bool = False,
    level: int = 0,
) -> StepRow:
    return StepRow(
        step_id=step_id,
        department=department,
        item=f"事项 {step_id}",
        mode="manual",
        status=status,
        started_at=NOW - timedelta(days=1),
        due_at=None if due_in is None else NOW + due_in,
        warned=warned,
        overdue=overdue,
        escalation_level=level,
    )


SEED = [
    _case("C-LATER", ALICE, [_step("s1", MARKET, due_in=timedelta(days=3))]),
    _case(
        "C-OVERDUE",
        BOB,
        [_step("s1", MARKET, due_in=-timedelta(hours=2), overdue=True, level=1)],
        overdue=True,
        submitted=NOW - timedelta(days=10),
    ),
    _case("C-WARN", ALICE, [_step("s1", MARKET, due_in=timedelta(hours=1), warned=True)]),
    # Past its deadline, but the workflow's timer has not recorded it yet: still overdue.
    _case("C-LATE-UNSEEN", BOB, [_step("s1", MARKET, due_in=-timedelta(minutes=5))]),
    _case("C-NODUE", ALICE, [_step("s1", MARKET, status="supplementing", due_in=None)]),
    _case(
        "C-TAX",
        BOB,
        [
            _step("s1", TAX, level=2, overdue=True, due_in=-timedelta(days=2)),
            _step("s2", MARKET, status="approved"),
        ],
        bundle="b-two",
    ),
    _case("C-DONE", ALICE, [_step("s1", MARKET, status="approved")], status="completed"),
]


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    with session_scope(db_url) as session:
        for record in SEED:
            write_record(session, record=record)
    who = [
        ApiIdentity(subject="o-market", role="officer", department=MARKET),
        ApiIdentity(subject="o-tax", role="officer", department=TAX),
        ApiIdentity(subject="s-market", role="supervisor", department=MARKET),
        ApiIdentity(subject="s-province", role="supervisor", department=GOV_SERVICE_OFFICE),
        ApiIdentity(subject="alice", role="applicant", applicant_id=ALICE),
        ApiIdentity(subject="adm", role="admin"),
    ]
    tokens = {secrets.token_urlsafe(16): ident for ident in who}
    auth = {ident.subject: f"Bearer {tok}" for tok, ident in tokens.items()}
    app = create_app(Settings(database_url=db_url, api_tokens=tokens))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, auth


async def _get(api: Api, who: str, path: str, **params: str | int) -> httpx.Response:
    client, auth = api
    return await client.get(path, params=params, headers={"Authorization": auth[who]})


async def test_inbox_is_the_departments_awaiting_steps_by_deadline(api: Api) -> None:
    resp = await _get(api, "o-market", "/api/inbox")
    assert resp.status_code == 200
    items = resp.json()
    assert [i["case_code"] for i in items] == [
        "C-OVERDUE",
        "C-LATE-UNSEEN",
        "C-WARN",
        "C-LATER",
        "C-NODUE",
    ]
    by_code = {i["case_code"]: i for i in items}
    assert by_code["C-OVERDUE"]["overdue"] and by_code["C-OVERDUE"]["escalation_level"] == 1
    assert by_code["C-LATE-UNSEEN"]["overdue"] and not by_code["C-LATE-UNSEEN"]["warning"]
    assert by_code["C-WARN"]["warning"] and not by_code["C-WARN"]["overdue"]
    assert not by_code["C-LATER"]["overdue"] and not by_code["C-LATER"]["warning"]
    assert by_code["C-OVERDUE"]["remaining_text"].startswith("已超期")
    assert by_code["C-WARN"]["remaining_text"].startswith("剩余")
    assert 0 < by_code["C-WARN"]["remaining_seconds"] <= 3600
    assert by_code["C-NODUE"]["status"] == "supplementing"
    assert by_code["C-NODUE"]["remaining_text"] == "未计时"
    tax = (await _get(api, "o-tax", "/api/inbox")).json()
    assert [i["case_code"] for i in tax] == ["C-TAX"]


@pytest.mark.parametrize("who", ["alice", "adm"])
async def test_inbox_is_for_department_staff_only(api: Api, who: str) -> None:
    assert (await _get(api, who, "/api/inbox")).status_code == 403


async def test_search_filters_and_masks(api: Api) -> None:
    everything = (await _get(api, "adm", "/api/cases")).json()
    assert len(everything) == len(SEED)
    text = str(everything)
    assert ALICE not in text and BOB not in text
    assert {c["applicant_id_masked"] for c in everything} == {mask_id(ALICE), mask_id(BOB)}
    tax_case = next(c for c in everything if c["case_code"] == "C-TAX")
    assert tax_case["pending_departments"] == [TAX]

    done = await _get(api, "adm", "/api/cases", status="completed")
    assert [c["case_code"] for c in done.json()] == ["C-DONE"]
    two = await _get(api, "adm", "/api/cases", bundle="b-two")
    assert [c["case_code"] for c in two.json()] == ["C-TAX"]
    late = await _get(api, "adm", "/api/cases", overdue="true")
    assert [c["case_code"] for c in late.json()] == ["C-OVERDUE"]
    today = NOW.date()
    old = await _get(api, "adm", "/api/cases", submitted_to=(today - timedelta(days=5)).isoformat())
    assert [c["case_code"] for c in old.json()] == ["C-OVERDUE"]
    recent = await _get(
        api, "adm", "/api/cases", submitted_from=(today - timedelta(days=5)).isoformat()
    )
    assert "C-OVERDUE" not in {c["case_code"] for c in recent.json()}
    by_tax = await _get(api, "adm", "/api/cases", department=TAX)
    assert [c["case_code"] for c in by_tax.json()] == ["C-TAX"]


async def test_officers_search_their_department_and_applicants_their_cases(api: Api) -> None:
    mine = (await _get(api, "o-tax", "/api/cases")).json()
    assert [c["case_code"] for c in mine] == ["C-TAX"]
    other = await _get(api, "o-tax", "/api/cases", department=MARKET)
    assert other.status_code == 403
    alice = (await _get(api, "alice", "/api/cases")).json()
    assert {c["case_code"] for c in alice} == {"C-LATER", "C-WARN", "C-NODUE", "C-DONE"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"overdue": "perhaps"}, "overdue"),
        ({"submitted_from": "2026-13-01"}, "submitted_from"),
        ({"submitted_from": "2026-05-02", "submitted_to": "2026-05-01"}, "submitted_to"),
        ({"limit": 0}, "limit"),
    ],
)
async def test_bad_search_filters_are_422_naming_the_field(
    api: Api, params: dict[str, str | int], field: str
) -> None:
    resp = await _get(api, "adm", "/api/cases", **params)
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == field
    assert resp.json()["error"]["code"] == "INVALID_INPUT"


async def test_supervision_lists_overdue_and_escalated_items(api: Api) -> None:
    market = (await _get(api, "s-market", "/api/supervision")).json()
    assert [(i["case_code"], i["escalation_level"]) for i in market] == [("C-OVERDUE", 1)]
    province = (await _get(api, "s-province", "/api/supervision")).json()
    assert [(i["case_code"], i["department"]) for i in province] == [("C-TAX", TAX)]
    everything = (await _get(api, "adm", "/api/supervision")).json()
    assert [i["case_code"] for i in everything] == ["C-TAX", "C-OVERDUE"]
    assert (await _get(api, "o-market", "/api/supervision")).status_code == 403
    assert (await _get(api, "alice", "/api/supervision")).status_code == 403


async def test_report_over_the_read_model(api: Api) -> None:
    resp = await _get(api, "s-market", "/api/reports")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["total"]["submitted"] == len(SEED)
    assert report["total"]["completed"] == 1
    bundles = {r["code"]: r for r in report["bundles"]}
    assert bundles["b-one"]["submitted"] == len(SEED) - 1 and bundles["b-two"]["submitted"] == 1
    assert {r["code"] for r in report["departments"]} == {MARKET, TAX}
    tomorrow = (NOW + timedelta(days=2)).date().isoformat()
    later = (await _get(api, "adm", "/api/reports", since=tomorrow)).json()
    assert later["total"]["submitted"] == 0
    bad = await _get(api, "adm", "/api/reports", since="yesterday")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "since"
    for who in ("o-market", "alice"):
        assert (await _get(api, who, "/api/reports")).status_code == 403
