"""Submission: pre-review (预审) of every field, and idempotency by request id, against the dev
server (real workflow ID policies) and both databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from definitions.schema import ApplicantType
from onething import prereview
from onething.casecode import allocate_case_code, case_day, is_valid_case_code
from onething.db import session_scope
from onething.models import CaseCodeSequence, Submission
from onething.search_attributes import CASE_BUNDLE
from onething.submission import SubmissionError, submit_case
from tests.casekit import (
    GOOD_FORM,
    eventually,
    publish,
    resident_id,
    settings_for,
    small_bundle,
    unique_department,
    uscc,
)
from workflows.models import WORKFLOW_NAME, CaseInput, IdType

# ---------------------------------------------------------------- pre-review, no server


@pytest.fixture(scope="module")
def bundle() -> Any:
    return small_bundle(manual_dept="510100.a", auto_dept="510100.b")


def fields(problems: list[prereview.Problem]) -> set[str]:
    return {p.field for p in problems}


def test_good_form_passes(bundle: Any) -> None:
    form = GOOD_FORM | {
        "income": 5000.5,
        "married": True,
        "move_date": "2026-03-01",
        "reason": "family",
        "spouse_id": resident_id(birth="19920101"),
        "employer": uscc(),
        "mobile": "13812345678",
        "postcode": "610000",
    }
    assert prereview.check_form(bundle, form) == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("household_size", "3", "not an integer"),
        ("household_size", True, "not an integer"),
        ("household_size", 2.5, "not an integer"),
        ("income", "lots", "not a number"),
        ("married", "yes", "not true or false"),
        ("move_date", "2026-02-30", "not a date"),
        ("move_date", "2026/03/01", "not a date"),
        ("reason", "fun", "must be one of work, family"),
        ("spouse_id", "510104199003071230", "invalid resident ID"),
        ("employer", "91510100MA6CXXXX1Z", "invalid unified social credit code"),
        ("mobile", "12345", "not a phone number"),
        ("postcode", "61000", "does not match the pattern"),
        ("full_address", "   ", "must not be empty"),
        ("full_address", 7, "not a string"),
    ],
)
def test_bad_field_value_is_named(bundle: Any, field: str, value: Any, reason: str) -> None:
    problems = prereview.check_form(bundle, GOOD_FORM | {field: value})
    assert [p.field for p in problems] == [f"form.{field}"]
    assert reason in problems[0].reason


def test_missing_required_and_unknown_fields_all_reported(bundle: Any) -> None:
    problems = prereview.check_form(bundle, {"householdsize": 3, "colour": "red"})
    assert fields(problems) == {
        "form.householdsize",
        "form.colour",
        "form.full_address",
        "form.household_size",
    }
    assert any("unknown field" in p.reason for p in problems)
    assert any("required (住址)" in p.reason for p in problems)


def test_materials_required_and_unknown(bundle: Any) -> None:
    assert prereview.check_materials(bundle, ["id-card"]) == []
    problems = prereview.check_materials(bundle, ["photo", "passport"])
    assert fields(problems) == {"materials.id-card", "materials.passport"}


@pytest.mark.parametrize(
    ("region", "ok"), [("510100", True), ("5101", False), ("51010a", False), ("990100", False)]
)
def test_region(region: str, ok: bool) -> None:
    assert (prereview.check_region(region) == []) is ok


@pytest.mark.parametrize(("channel", "ok"), [("web", True), ("hall", True), ("fax", False)])
def test_channel(channel: str, ok: bool) -> None:
    assert (prereview.check_channel(channel) == []) is ok


def test_applicant_id_follows_applicant_type() -> None:
    person = small_bundle(manual_dept="510100.a", auto_dept="510100.b")
    company = small_bundle(
        manual_dept="510100.a", auto_dept="510100.b", applicant_type="enterprise"
    )
    either = small_bundle(manual_dept="510100.a", auto_dept="510100.b", applicant_type="either")
    assert person.applicant_type is ApplicantType.person
    assert prereview.check_applicant_id(person, resident_id()) == []
    assert fields(prereview.check_applicant_id(person, uscc())) == {"applicant_id"}
    assert prereview.check_applicant_id(company, uscc()) == []
    [problem] = prereview.check_applicant_id(company, resident_id())
    assert problem.field == "applicant_id" and "enterprise" in problem.reason
    assert prereview.check_applicant_id(either, uscc()) == []
    assert prereview.check_applicant_id(either, resident_id()) == []
    # The reason names what is wrong, never the value (personal data).
    bad = resident_id()[:-1] + ("0" if resident_id()[-1] != "0" else "1")
    [problem] = prereview.check_applicant_id(person, bad)
    assert bad not in problem.reason and "check character" in problem.reason


# ------------------------------------------------------------- against the dev server


async def _bundle_cases(client: Client, code: str) -> list[str]:
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND {CASE_BUNDLE.name} = '{code}'"
    return [wf.id async for wf in client.list_workflows(query)]


async def _count_cases(client: Client, code: str) -> int:
    resp = await client.count_workflows(
        f"WorkflowType = '{WORKFLOW_NAME}' AND {CASE_BUNDLE.name} = '{code}'"
    )
    return resp.count


async def test_bad_submission_names_every_field_and_starts_nothing(
    dev_env: WorkflowEnvironment, db_url: str
) -> None:
    client = dev_env.client
    b = small_bundle(manual_dept=unique_department("a"), auto_dept=unique_department("b"))
    publish(db_url, b)
    settings = settings_for(client, db_url)
    with session_scope(db_url) as session, pytest.raises(SubmissionError) as info:
        await submit_case(
            client,
            session,
            settings=settings,
            bundle_code=b.code,
            applicant_id=uscc(),  # a company id for a person's bundle
            applicant_name="张三",
            form={"household_size": "three", "colour": "red"},
            materials=["photo"],
            region="51",
            channel="fax",
            task_queue=f"tq-{uuid.uuid4()}",
        )
    assert fields(info.value.problems) == {
        "applicant_id",
        "form.full_address",
        "form.household_size",
        "form.colour",
        "materials.id-card",
        "region",
        "channel",
    }
    assert "张三" not in str(info.value)
    with session_scope(db_url) as session:
        assert session.exec(select(Submission)).all() == []
        assert session.exec(select(CaseCodeSequence)).all() == []
    # Visibility lags a little behind starts; a start would have been visible by now.
    assert await _count_cases(client, b.code) == 0


async def test_unknown_bundle_is_a_named_problem(dev_env: WorkflowEnvironment, db_url: str) -> None:
    client = dev_env.client
    with session_scope(db_url) as session, pytest.raises(SubmissionError) as info:
        await submit_case(
            client,
            session,
            settings=settings_for(client, db_url),
            bundle_code="no-such-bundle",
            applicant_id=resident_id(),
            applicant_name="李四",
            form={},
            materials=[],
        )
    assert [p.field for p in info.value.problems] == ["bundle"]
    assert "never been published" in info.value.problems[0].reason


async def test_same_request_id_same_case_one_workflow(
    dev_env: WorkflowEnvironment, db_url: str
) -> None:
    client = dev_env.client
    b = small_bundle(manual_dept=unique_department("a"), auto_dept=unique_department("b"))
    row = publish(db_url, b)
    settings = settings_for(client, db_url)
    request_id = f"req-{uuid.uuid4()}"
    tq = f"tq-{uuid.uuid4()}"
    results = []
    for _ in range(2):
        with session_scope(db_url) as session:
            results.append(
                await submit_case(
                    client,
                    session,
                    settings=settings,
                    bundle_code=b.code,
                    applicant_id=resident_id(),
                    applicant_name="王五",
                    form=GOOD_FORM,
                    materials=["id-card"],
                    request_id=request_id,
                    task_queue=tq,
                )
            )
    first, second = results
    assert first.case_code == second.case_code
    assert (first.created, second.created) == (True, False)
    assert is_valid_case_code(first.case_code)
    assert f"-{b.abbr}-" in first.case_code

    # The workflow input pins code, version and hash, plus the definition snapshot.
    handle = client.get_workflow_handle(first.case_code)
    desc = await handle.describe()
    assert desc.task_queue == tq
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [case] = [await client.data_converter.decode([p], [CaseInput]) for p in started.input.payloads]
    pinned = case[0].bundle
    assert (pinned.code, pinned.version, pinned.content_hash) == (
        row.code,
        row.version,
        row.content_hash,
    )
    assert pinned.definition == b
    assert case[0].applicant.id_type is IdType.resident_id

    # Exactly one workflow for the bundle, and one submission row.
    async def count() -> int:
        return await _count_cases(client, b.code)

    await eventually(count, lambda n: n == 1, what="one case visible")
    assert await _bundle_cases(client, b.code) == [first.case_code]
    with session_scope(db_url) as session:
        assert len(session.exec(select(Submission)).all()) == 1


async def test_crash_between_insert_and_start_heals_on_retry(
    dev_env: WorkflowEnvironment, db_url: str
) -> None:
    """The row exists but the process died before starting the workflow: retrying the same
    request id starts that very case code."""
    client = dev_env.client
    b = small_bundle(manual_dept=unique_department("a"), auto_dept=unique_department("b"))
    row = publish(db_url, b)
    request_id = f"req-{uuid.uuid4()}"
    with session_scope(db_url) as session:
        code = allocate_case_code(
            session, region="510100", abbr=b.abbr, day=case_day(datetime.now(UTC))
        )
        session.add(
            Submission(
                request_id=request_id,
                case_code=code,
                bundle_code=b.code,
                bundle_version=row.version,
                channel="web",
            )
        )
        session.commit()
    with session_scope(db_url) as session:
        result = await submit_case(
            client,
            session,
            settings=settings_for(client, db_url),
            bundle_code=b.code,
            applicant_id=resident_id(),
            applicant_name="赵六",
            form=GOOD_FORM,
            materials=["id-card"],
            request_id=request_id,
            task_queue=f"tq-{uuid.uuid4()}",
        )
    assert result.case_code == code and not result.created
    desc = await client.get_workflow_handle(code).describe()
    assert desc.workflow_type == WORKFLOW_NAME


async def test_request_id_reused_for_another_bundle_is_refused(
    dev_env: WorkflowEnvironment, db_url: str
) -> None:
    client = dev_env.client
    depts = {"manual_dept": unique_department("a"), "auto_dept": unique_department("b")}
    first, other = small_bundle(**depts), small_bundle(**depts)
    publish(db_url, first)
    publish(db_url, other)
    request_id = f"req-{uuid.uuid4()}"
    common: dict[str, Any] = {
        "settings": settings_for(client, db_url),
        "applicant_id": resident_id(),
        "applicant_name": "钱七",
        "form": GOOD_FORM,
        "materials": ["id-card"],
        "request_id": request_id,
        "task_queue": f"tq-{uuid.uuid4()}",
    }
    with session_scope(db_url) as session:
        await submit_case(client, session, bundle_code=first.code, **common)
    with session_scope(db_url) as session, pytest.raises(SubmissionError) as info:
        await submit_case(client, session, bundle_code=other.code, **common)
    assert [p.field for p in info.value.problems] == ["request_id"]
    assert await _count_cases(client, other.code) == 0


async def test_race_on_request_id_returns_the_winners_case(
    dev_env: WorkflowEnvironment, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes submit the same request id at once; the one that loses the insert (the
    primary key decides) returns the winner's case code and starts nothing else."""
    import onething.submission as submission

    client = dev_env.client
    b = small_bundle(manual_dept=unique_department("a"), auto_dept=unique_department("b"))
    publish(db_url, b)
    request_id = f"req-{uuid.uuid4()}"
    common: dict[str, Any] = {
        "settings": settings_for(client, db_url),
        "bundle_code": b.code,
        "applicant_id": resident_id(),
        "applicant_name": "郑十一",
        "form": GOOD_FORM,
        "materials": ["id-card"],
        "request_id": request_id,
        "task_queue": f"tq-{uuid.uuid4()}",
    }
    with session_scope(db_url) as session:
        winner = await submit_case(client, session, **common)
    real_lookup = submission._existing
    calls: list[str] = []

    def not_yet_committed(session: Any, request_id: str) -> Submission | None:
        # The loser's first look happens before the winner commits; later looks are real.
        calls.append(request_id)
        return None if len(calls) == 1 else real_lookup(session, request_id)

    monkeypatch.setattr(submission, "_existing", not_yet_committed)
    with session_scope(db_url) as session:
        loser = await submit_case(client, session, **common)
    assert len(calls) == 2
    assert (loser.case_code, loser.created) == (winner.case_code, False)
    with session_scope(db_url) as session:
        assert len(session.exec(select(Submission)).all()) == 1

    async def count() -> int:
        return await _count_cases(client, b.code)

    await eventually(count, lambda n: n == 1, what="one case visible")
    await asyncio.sleep(0.5)  # visibility lag: a second start would show up by now
    assert await count() == 1
