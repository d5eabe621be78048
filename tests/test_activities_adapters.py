"""Department adapters: the inbox (idempotent per case code and step), the rules and the HTTP
adapter against a local endpoint; and the choice settings make per department."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.adapters import adapter_for
from activities.adapters.http import HttpAdapter
from activities.adapters.inbox import InboxAdapter
from activities.adapters.rules import RulesAdapter
from activities.models import AdapterVerdict, StepOutcomeInput, StepPayload, WithdrawStepInput
from definitions.schema import StepMode
from onething.identifiers import uscc_check_char
from onething.settings import AdapterConfig, Settings
from tests.workflow_support import RESIDENT_ID, inbox, step


def payload(**overrides: Any) -> StepPayload:
    values: dict[str, Any] = {
        "case_code": "SC510100TB202603020001X",
        "bundle_code": "test-bundle",
        "bundle_name": "测试一件事",
        "step": step("check", "510100.bigdata", mode=StepMode.automatic, materials=["id-card"]),
        "region": "510100",
        "form": {"purpose": "test"},
        "materials": ["id-card"],
        "applicant_id_type": "resident_id",
        "applicant_id_number": RESIDENT_ID,
        "applicant_name": "张三",
    }
    values.update(overrides)
    return StepPayload(**values)


async def test_inbox_dispatch_and_withdraw_are_idempotent(db_url: str) -> None:
    adapter = InboxAdapter(database_url=db_url)
    p = payload(step=step("review", "510100.civil"))
    await adapter.dispatch(p)
    await adapter.dispatch(p)  # a retried activity: still one row
    settings = Settings(database_url=db_url)
    rows = inbox(settings, p.case_code)
    assert [(r.step_id, r.department, r.status) for r in rows] == [
        ("review", "510100.civil", "pending")
    ]
    request = WithdrawStepInput(
        case_code=p.case_code, step_id="review", department="510100.civil", reason="case rejected"
    )
    await adapter.withdraw(request)
    await adapter.withdraw(request)
    await adapter.withdraw(request.model_copy(update={"step_id": "never-dispatched"}))
    rows = inbox(settings, p.case_code)
    assert [(r.status, r.withdraw_reason) for r in rows] == [("withdrawn", "case rejected")]
    assert rows[0].withdrawn_at is not None
    # A withdrawn entry stays withdrawn even if an outcome arrives late.
    await adapter.record_outcome(outcome(p.case_code, "review", "approved"))
    assert [r.status for r in inbox(settings, p.case_code)] == ["withdrawn"]


async def test_inbox_records_the_outcome_once(db_url: str) -> None:
    adapter = InboxAdapter(database_url=db_url)
    p = payload(step=step("review", "510100.civil"))
    await adapter.dispatch(p)
    await adapter.record_outcome(outcome(p.case_code, "review", "deemed_approved"))
    await adapter.record_outcome(outcome(p.case_code, "review", "rejected"))  # a late repeat
    await adapter.record_outcome(outcome(p.case_code, "never-dispatched", "approved"))
    rows = inbox(Settings(database_url=db_url), p.case_code)
    assert [(r.step_id, r.status, r.outcome) for r in rows] == [
        ("review", "decided", "deemed_approved")
    ]
    assert rows[0].decided_at is not None


def outcome(case_code: str, step_id: str, result: str) -> StepOutcomeInput:
    return StepOutcomeInput(
        case_code=case_code, step_id=step_id, department="510100.civil", outcome=result
    )


async def test_inbox_cannot_decide() -> None:
    with pytest.raises(ApplicationError, match="cannot decide automatic steps") as info:
        await InboxAdapter(database_url="sqlite://").decide(payload())
    assert info.value.non_retryable


async def test_rules_approve_and_reject_with_reasons() -> None:
    rules = RulesAdapter(database_url="sqlite://")
    assert (await rules.decide(payload())).decision is AdapterVerdict.approve
    missing = await rules.decide(payload(materials=[]))
    assert missing.decision is AdapterVerdict.reject
    assert missing.reason == "missing material(s) for this item: id-card"
    bad_id = RESIDENT_ID[:-1] + ("0" if RESIDENT_ID[-1] != "0" else "1")
    wrong = await rules.decide(payload(applicant_id_number=bad_id))
    assert wrong.decision is AdapterVerdict.reject
    assert "applicant_id: invalid resident ID: check character" in wrong.reason
    assert bad_id not in wrong.reason
    code = "9151010069" + "6" * 7
    uscc = code + uscc_check_char(code)
    assert (
        await rules.decide(payload(applicant_id_type="uscc", applicant_id_number=uscc))
    ).decision is AdapterVerdict.approve


async def test_rules_refuse_unreadable_data_without_retrying() -> None:
    rules = RulesAdapter(database_url="sqlite://")
    with pytest.raises(ApplicationError, match="applicant_id_type: unknown type 'visa'") as info:
        await rules.decide(payload(applicant_id_type="visa"))
    assert info.value.non_retryable
    with pytest.raises(ApplicationError, match="only decides automatic steps"):
        await rules.dispatch(payload())


class Endpoint:
    """A department system on a local port, answering from a script of (status, body)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.received: list[tuple[dict[str, Any], str | None]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # stdlib naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append((json.loads(body), self.headers["Idempotency-Key"]))
                status, answer = endpoint.answers.pop(0) if endpoint.answers else (204, b"")
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/steps"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    thread = threading.Thread(target=ep.server.serve_forever, daemon=True)
    thread.start()
    yield ep
    ep.server.shutdown()
    ep.server.server_close()


async def test_http_adapter_posts_the_step_and_reads_the_decision(endpoint: Endpoint) -> None:
    adapter = HttpAdapter(url=endpoint.url, timeout_seconds=5)
    endpoint.answers.append((200, b'{"decision": "reject", "reason": "tax arrears"}'))
    result = await adapter.decide(payload())
    assert result.decision is AdapterVerdict.reject and result.reason == "tax arrears"
    await adapter.dispatch(payload())
    await adapter.withdraw(
        WithdrawStepInput(
            case_code="SC1", step_id="check", department="510100.bigdata", reason="withdrawn"
        )
    )
    await adapter.record_outcome(
        StepOutcomeInput(
            case_code="SC1", step_id="check", department="510100.bigdata", outcome="approved"
        )
    )
    actions = [(body["action"], key) for body, key in endpoint.received]
    assert actions == [
        ("decide", "SC510100TB202603020001X:check:decide"),
        ("dispatch", "SC510100TB202603020001X:check:dispatch"),
        ("withdraw", "SC1:check:withdraw"),
        ("outcome", "SC1:check:outcome"),
    ]
    sent = endpoint.received[0][0]
    assert sent["step"]["id"] == "check" and sent["form"] == {"purpose": "test"}


async def test_http_adapter_errors(endpoint: Endpoint) -> None:
    adapter = HttpAdapter(url=endpoint.url, timeout_seconds=5)
    endpoint.answers.append((422, b"{}"))
    with pytest.raises(ApplicationError, match="refused decide of step 'check': HTTP 422") as info:
        await adapter.decide(payload())
    assert info.value.non_retryable
    endpoint.answers.append((503, b"busy"))
    with pytest.raises(httpx.HTTPStatusError):  # retried by Temporal
        await adapter.decide(payload())
    endpoint.answers.append((200, b'{"verdict": "ok"}'))
    with pytest.raises(ApplicationError, match="unreadable decision") as info:
        await adapter.decide(payload())
    assert info.value.non_retryable
    endpoint.answers.append((200, b"<html>"))
    with pytest.raises(ApplicationError, match="is not JSON"):
        await adapter.decide(payload())


def test_settings_choose_the_adapter_per_department() -> None:
    settings = Settings(
        database_url="sqlite://",
        department_adapters={
            "510100.tax": AdapterConfig(kind="http", url="http://tax.example/steps"),
            "510100.broken": AdapterConfig(kind="http"),
        },
    )
    assert isinstance(adapter_for(settings, "510100.civil", StepMode.manual), InboxAdapter)
    assert isinstance(adapter_for(settings, "510100.civil", StepMode.automatic), RulesAdapter)
    http = adapter_for(settings, "510100.tax", StepMode.automatic)
    assert isinstance(http, HttpAdapter) and http.url == "http://tax.example/steps"
    with pytest.raises(ValueError, match=r"department_adapters\['510100.broken'\].url"):
        adapter_for(settings, "510100.broken", StepMode.manual)


def test_adapters_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ONETHING_DEPARTMENT_ADAPTERS",
        json.dumps({"510100.tax": {"kind": "http", "url": "http://tax.example/steps"}}),
    )
    settings = Settings()
    assert settings.department_adapters["510100.tax"].kind == "http"
