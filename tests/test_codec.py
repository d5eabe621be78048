"""Payload encryption (AES-256-GCM codec, key rotation), the codec endpoint for the Web UI, and
the TLS options of connect()."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from google.protobuf import json_format
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client, WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from typer.testing import CliRunner

from onething.codec import (
    ENCODING,
    KEY_ID_METADATA,
    DecryptionError,
    EncryptionCodec,
    EncryptionConfigError,
    codec_from_settings,
    new_key,
)
from onething.codec_server import app_from_settings, build_app
from onething.settings import Settings
from onething.temporal import ConnectionConfigError, connect_options, data_converter

# A checksum-valid resident ID (GB 11643) and a name: the personal data that must not leak.
APPLICANT_ID = "11010519491231002X"
APPLICANT_NAME = "欧阳娜娜"
K1 = base64.b64encode(bytes(range(32))).decode()
K2 = base64.b64encode(bytes(range(32, 64))).decode()


def keyed(**keys: str) -> Settings:
    active = list(keys)[-1]
    return Settings(
        encryption_keys=keys,
        encryption_key_id=active,
    )


def json_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def codec_of(settings: Settings) -> EncryptionCodec:
    codec = codec_from_settings(settings)
    assert codec is not None
    return codec


# --- the codec ---------------------------------------------------------------------------


async def test_roundtrip_seals_with_the_active_key_and_a_fresh_nonce() -> None:
    codec = codec_of(keyed(k1=K1))
    original = json_payload({"applicant_id": APPLICANT_ID})
    first, second = await codec.encode([original, original])
    assert first.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert first.metadata[KEY_ID_METADATA] == b"k1"
    assert APPLICANT_ID.encode() not in first.SerializeToString()
    # Random 96-bit nonce per payload: the same plaintext never gives the same ciphertext.
    assert first.data[:12] != second.data[:12] and first.data != second.data
    assert await codec.decode([first, second]) == [original, original]


async def test_plaintext_payloads_pass_through_decode() -> None:
    # Histories written before encryption was switched on must stay readable.
    codec = codec_of(keyed(k1=K1))
    plain = json_payload("hello")
    assert await codec.decode([plain]) == [plain]


async def test_unknown_key_id_is_a_clear_error() -> None:
    sealed = (await codec_of(keyed(k1=K1)).encode([json_payload(1)]))[0]
    only_k2 = codec_of(keyed(k2=K2))
    with pytest.raises(DecryptionError, match=r"key id 'k1', which is not in .*\(configured: k2\)"):
        await only_k2.decode([sealed])


async def test_relabelled_or_altered_payload_fails_authentication() -> None:
    both = codec_of(Settings(encryption_keys={"k1": K1, "k2": K2}, encryption_key_id="k1"))
    sealed = (await both.encode([json_payload(1)]))[0]
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"k2"
    with pytest.raises(DecryptionError, match="failed authentication with key id 'k2'"):
        await both.decode([relabelled])
    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(DecryptionError, match="failed authentication with key id 'k1'"):
        await both.decode([altered])
    missing = Payload(metadata={"encoding": ENCODING}, data=sealed.data)
    with pytest.raises(DecryptionError, match="no 'encryption-key-id' metadata"):
        await both.decode([missing])


async def test_key_rotation_old_payloads_still_decode_new_ones_use_the_new_key() -> None:
    before = codec_of(keyed(k1=K1))
    old = (await before.encode([json_payload("old")]))[0]
    # Rotate: add k2, make it active, keep k1 for what it sealed.
    after = codec_of(Settings(encryption_keys={"k1": K1, "k2": K2}, encryption_key_id="k2"))
    new = (await after.encode([json_payload("new")]))[0]
    assert old.metadata[KEY_ID_METADATA] == b"k1"
    assert new.metadata[KEY_ID_METADATA] == b"k2"
    assert await after.decode([old, new]) == [json_payload("old"), json_payload("new")]
    # Dropping k1 too early strands the old payload with a message saying why.
    with pytest.raises(DecryptionError, match="'k1'"):
        await codec_of(keyed(k2=K2)).decode([old])


def test_keys_are_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETHING_ENCRYPTION_KEYS", json.dumps({"k2": K2, "k1": K1}))
    monkeypatch.setenv("ONETHING_ENCRYPTION_KEY_ID", "k2")
    codec = codec_of(Settings())
    assert codec.active_key_id == "k2" and codec.key_ids == {"k1", "k2"}


@pytest.mark.parametrize(
    ("keys", "key_id", "message"),
    [
        ({"k1": "not base64!"}, "k1", r"ONETHING_ENCRYPTION_KEYS\['k1'\]: not valid base64"),
        (
            {"k1": base64.b64encode(b"x" * 16).decode()},
            "k1",
            r"\['k1'\]: must be base64 of 32 bytes \(AES-256\), got 16 bytes",
        ),
        ({"k1": K1}, "k9", r"ONETHING_ENCRYPTION_KEY_ID: 'k9' is not one of the configured"),
        ({"k1": K1, "k2": K2}, "", r"ONETHING_ENCRYPTION_KEY_ID: required when several keys"),
        ({}, "k1", r"ONETHING_ENCRYPTION_KEY_ID is set but ONETHING_ENCRYPTION_KEYS is empty"),
        ({"bad id": K1}, "", r"key id 'bad id' must be"),
    ],
)
def test_bad_key_settings_name_the_setting(keys: dict[str, str], key_id: str, message: str) -> None:
    with pytest.raises(EncryptionConfigError, match=message) as info:
        codec_from_settings(Settings(encryption_keys=keys, encryption_key_id=key_id))
    for secret in keys.values():
        assert secret not in str(info.value)


def test_single_key_needs_no_key_id_and_no_key_means_no_codec() -> None:
    assert codec_of(Settings(encryption_keys={"only": K1})).active_key_id == "only"
    assert codec_from_settings(Settings()) is None


def test_key_material_never_appears_in_reprs() -> None:
    settings = keyed(k1=K1)
    codec = codec_of(settings)
    for text in (repr(codec), str(codec), repr(settings), str(settings.model_dump())):
        assert K1 not in text


def test_new_key_is_a_usable_key() -> None:
    key = new_key()
    assert len(base64.b64decode(key)) == 32 and key != new_key()
    assert codec_of(keyed(fresh=key)).active_key_id == "fresh"


def test_data_converter_adds_the_codec_only_when_a_key_is_configured() -> None:
    assert data_converter(Settings()) is pydantic_data_converter
    converter = data_converter(keyed(k1=K1))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)


# --- end to end on the dev server ---------------------------------------------------------


class Applicant(BaseModel):
    applicant_id: str
    applicant_name: str
    bundle: str


class Receipt(BaseModel):
    greeting: str
    applicant_id: str


@activity.defn(name="codec_test_check")
async def check_applicant(applicant: Applicant) -> None:
    # A failure that quotes personal data: the failure converter must encode its message too.
    raise ApplicationError(f"rejected {applicant.applicant_name}", non_retryable=True)


@activity.defn(name="codec_test_greet")
async def greet(applicant: Applicant) -> Receipt:
    return Receipt(greeting=f"你好 {applicant.applicant_name}", applicant_id=applicant.applicant_id)


@workflow.defn(name="CodecTestWorkflow")
class CodecTestWorkflow:
    @workflow.run
    async def run(self, applicant: Applicant) -> Receipt:
        timeout = timedelta(seconds=10)
        once = RetryPolicy(maximum_attempts=1)
        with contextlib.suppress(ActivityError):
            await workflow.execute_activity(
                check_applicant, applicant, start_to_close_timeout=timeout, retry_policy=once
            )
        return await workflow.execute_activity(
            greet, applicant, start_to_close_timeout=timeout, retry_policy=once
        )


async def run_case(target: str, namespace: str, converter: DataConverter) -> tuple[Receipt, bytes]:
    """Run one workflow with client and worker on ``converter``; return its result and the raw
    history as fetched by a client with no codec (what the server stores)."""
    client = await Client.connect(target, namespace=namespace, data_converter=converter)
    queue = f"codec-{uuid.uuid4()}"
    applicant = Applicant(
        applicant_id=APPLICANT_ID, applicant_name=APPLICANT_NAME, bundle="marriage-hukou"
    )
    async with Worker(
        client,
        task_queue=queue,
        workflows=[CodecTestWorkflow],
        activities=[check_applicant, greet],
        # This test is about payload bytes, not determinism; the sandbox would re-import this
        # module with fastapi and friends for no benefit.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            CodecTestWorkflow.run, applicant, id=f"codec-{uuid.uuid4()}", task_queue=queue
        )
        result = await handle.result()
    raw_client = await Client.connect(target, namespace=namespace)
    history: WorkflowHistory = await raw_client.get_workflow_handle(handle.id).fetch_history()
    raw = b"".join(e.SerializeToString() for e in history.events) + history.to_json().encode()
    return result, raw


def leaks(raw: bytes) -> list[str]:
    found = []
    for label, needle in [
        ("id", APPLICANT_ID.encode()),
        ("name utf-8", APPLICANT_NAME.encode()),
        ("name json-escaped", json.dumps(APPLICANT_NAME).strip('"').encode()),
        ("name base64", base64.b64encode(APPLICANT_NAME.encode())),
    ]:
        if needle in raw:
            found.append(label)
    return found


async def test_server_history_holds_no_personal_data_when_a_key_is_set(
    dev_env: WorkflowEnvironment,
) -> None:
    target = dev_env.client.service_client.config.target_host
    namespace = dev_env.client.namespace

    # Control: without a key the same case leaves the ID and the name in the stored history,
    # which proves the search below would see them.
    plain_result, plain_raw = await run_case(target, namespace, data_converter(Settings()))
    assert "id" in leaks(plain_raw) and "name utf-8" in leaks(plain_raw)
    assert b"rejected " in plain_raw  # the failure message, readable without encryption

    settings = keyed(k1=K1)
    result, raw = await run_case(target, namespace, data_converter(settings))
    assert leaks(raw) == []
    assert b"rejected " not in raw  # failure messages are encoded too
    assert b"binary/encrypted" in raw and b"k1" in raw
    # The codec client got everything back intact.
    assert (
        result
        == plain_result
        == Receipt(greeting=f"你好 {APPLICANT_NAME}", applicant_id=APPLICANT_ID)
    )


async def test_history_decodes_with_the_codec(dev_env: WorkflowEnvironment) -> None:
    target = dev_env.client.service_client.config.target_host
    namespace = dev_env.client.namespace
    settings = keyed(k1=K1)
    client = await Client.connect(
        target, namespace=namespace, data_converter=data_converter(settings)
    )
    queue = f"codec-{uuid.uuid4()}"
    applicant = Applicant(applicant_id=APPLICANT_ID, applicant_name=APPLICANT_NAME, bundle="x")
    async with Worker(
        client,
        task_queue=queue,
        workflows=[CodecTestWorkflow],
        activities=[check_applicant, greet],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            CodecTestWorkflow.run, applicant, id=f"codec-{uuid.uuid4()}", task_queue=queue
        )
        await handle.result()
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    sealed = list(started.input.payloads)
    assert sealed[0].metadata["encoding"] == ENCODING
    opened = await codec_of(settings).decode(sealed)
    decoded = pydantic_data_converter.payload_converter.from_payloads(opened, [Applicant])
    assert decoded == [applicant]


async def test_a_real_case_leaves_no_personal_data_on_the_server(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The case workflow itself (orchestrator and department workers, an automatic check and an
    officer's decision by Update) on an encrypting client: the stored history holds neither
    the applicant's ID number, name nor phone, while the codec client reads the case."""
    from definitions.schema import StepMode
    from tests.workflow_support import (
        RESIDENT_ID,
        Departments,
        bundle,
        case_input,
        decision,
        start,
        step,
        wait_for,
        workers,
    )
    from workflows.case import CaseWorkflow
    from workflows.models import Applicant as CaseApplicant
    from workflows.models import CaseStatus, DecisionKind, IdType, StepStatus

    phone = "13987654321"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        encryption_keys={"k1": K1},
        encryption_key_id="k1",
    )
    target = dev_env.client.service_client.config.target_host
    namespace = dev_env.client.namespace
    client = await Client.connect(
        target, namespace=namespace, data_converter=data_converter(settings)
    )
    d = Departments()
    definition = bundle(
        step("check", d["bigdata"], mode=StepMode.automatic),
        step("approve", d["civil"], depends_on=["check"]),
    )
    applicant = CaseApplicant(
        id_type=IdType.resident_id, id_number=RESIDENT_ID, name=APPLICANT_NAME, phone=phone
    )
    async with workers(client, settings, definition) as queue:
        request = case_input(definition, applicant=applicant)
        handle = await start(client, queue, request)
        await wait_for(handle, lambda s: s.step("approve").status is StepStatus.awaiting_decision)
        # Bound to a name: the SDK types an async update's result as a coroutine.
        _decided = await handle.execute_update(
            CaseWorkflow.decide, decision("approve", d["civil"], DecisionKind.approve)
        )
        final = await wait_for(handle, lambda s: s.status is CaseStatus.completed)
    assert final.step("check").status is StepStatus.approved

    raw_client = await Client.connect(target, namespace=namespace)
    history = await raw_client.get_workflow_handle(request.case_code).fetch_history()
    raw = b"".join(e.SerializeToString() for e in history.events) + history.to_json().encode()
    assert len(history.events) > 10 and b"binary/encrypted" in raw
    for needle in (RESIDENT_ID, APPLICANT_NAME, phone):
        assert needle.encode() not in raw, f"{needle[:2]}... stored in clear"
    assert json.dumps(APPLICANT_NAME).strip('"').encode() not in raw
    # The codec client still sees everything.
    started = history.events[0].workflow_execution_started_event_attributes
    opened = await codec_of(settings).decode(list(started.input.payloads))
    assert APPLICANT_NAME.encode() in opened[0].data and RESIDENT_ID.encode() in opened[0].data


# --- the codec endpoint -----------------------------------------------------------------


def payloads_json(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def parse_payloads(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


def codec_client(*, token: str | None = None) -> TestClient:
    codec = codec_of(keyed(k1=K1))
    return TestClient(
        build_app(codec=codec, cors_origins=["http://ui.example:8080"], auth_token=token)
    )


def test_codec_endpoint_encodes_and_decodes_in_the_remote_codec_format() -> None:
    client = codec_client()
    original = json_payload({"applicant_name": APPLICANT_NAME})
    resp = client.post(
        "/encode", content=payloads_json([original]), headers={"X-Namespace": "default"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    # The wire format: base64 metadata values and data.
    assert base64.b64decode(body["payloads"][0]["metadata"]["encoding"]) == ENCODING
    sealed = parse_payloads(resp.text)
    assert APPLICANT_NAME.encode() not in sealed[0].data
    back = client.post("/decode", content=resp.text)
    assert back.status_code == 200
    assert parse_payloads(back.text) == [original]


def test_codec_endpoint_cors_allows_only_the_ui_origin() -> None:
    client = codec_client()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    ok = client.options("/decode", headers={"Origin": "http://ui.example:8080", **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://ui.example:8080"
    bad = client.options("/decode", headers={"Origin": "http://evil.example", **preflight})
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers


def test_codec_endpoint_requires_the_bearer_token_when_configured() -> None:
    client = codec_client(token="s3cret")
    body = payloads_json([json_payload(1)])
    assert client.post("/decode", content=body).status_code == 401
    wrong = client.post("/decode", content=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "bearer token" in wrong.json()["detail"]
    good = client.post("/decode", content=body, headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200
    assert client.get("/health").json() == {"status": "ok"}  # health needs no token


def test_codec_endpoint_rejects_bad_bodies_and_unknown_keys_clearly() -> None:
    client = codec_client()
    bad = client.post("/decode", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("body: expected")
    foreign = Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k7"}, data=b"\0" * 40)
    unknown = client.post("/decode", content=payloads_json([foreign]))
    assert unknown.status_code == 400
    assert "key id 'k7'" in unknown.json()["detail"]


def test_codec_server_from_settings_needs_a_key() -> None:
    with pytest.raises(EncryptionConfigError, match="ONETHING_ENCRYPTION_KEYS is empty"):
        app_from_settings(Settings())
    app = app_from_settings(Settings(encryption_keys={"k1": K1}, codec_auth_token="t"))
    assert TestClient(app).post("/decode", content="{}").status_code == 401


def test_codec_server_command_without_keys_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from onething.cli import ops
    from onething.settings import get_settings

    cli = typer.Typer()
    ops.register(cli)
    monkeypatch.delenv("ONETHING_ENCRYPTION_KEYS", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["codec-server"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "ONETHING_ENCRYPTION_KEYS is empty" in result.output


# --- TLS ----------------------------------------------------------------------------------


def test_plaintext_by_default() -> None:
    opts = connect_options(Settings(temporal_address="temporal:7233", temporal_namespace="prod"))
    assert (opts.target_host, opts.namespace, opts.tls, opts.api_key) == (
        "temporal:7233",
        "prod",
        False,
        None,
    )


def test_tls_with_system_roots() -> None:
    assert connect_options(Settings(temporal_tls=True)).tls is True


def test_mtls_reads_the_files_and_overrides_the_server_name(tmp_path: Path) -> None:
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key"
    ca.write_bytes(b"CA")
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    opts = connect_options(
        Settings(
            temporal_tls=True,
            temporal_tls_ca=ca,
            temporal_tls_cert=cert,
            temporal_tls_key=key,
            temporal_tls_server_name="frontend.temporal.internal",
            temporal_api_key="api-key",
        )
    )
    assert opts.tls == TLSConfig(
        server_root_ca_cert=b"CA",
        client_cert=b"CERT",
        client_private_key=b"KEY",
        domain="frontend.temporal.internal",
    )
    assert opts.api_key == "api-key"


def test_tls_with_own_ca_only(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"CA")
    opts = connect_options(Settings(temporal_tls=True, temporal_tls_ca=ca))
    assert opts.tls == TLSConfig(server_root_ca_cert=b"CA")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"temporal_tls_cert": "c.pem"},
            "ONETHING_TEMPORAL_TLS_CERT is set but ONETHING_TEMPORAL_TLS is false",
        ),
        (
            {"temporal_api_key": "k"},
            "ONETHING_TEMPORAL_API_KEY is set but ONETHING_TEMPORAL_TLS is false",
        ),
        ({"temporal_tls": True, "temporal_tls_cert": "c.pem"}, "mTLS needs both"),
        (
            {"temporal_tls": True, "temporal_tls_ca": "/nonexistent/ca.pem"},
            "ONETHING_TEMPORAL_TLS_CA: cannot read /nonexistent/ca.pem",
        ),
    ],
)
def test_contradictory_tls_settings_name_the_setting(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConnectionConfigError, match=message):
        connect_options(Settings(**overrides))  # type: ignore[arg-type]  # test-only kwargs
