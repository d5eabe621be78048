"""The web console in a real browser: Debian's headless Chromium driven by Playwright against
the real API (uvicorn on a free port in the test's event loop) and a tmp SQLite database.

- A case on the session's dev server with in-process workers, worked through the pages: the
  officer finds it in the inbox, is shown the case's refusal of a rejection without a reason,
  requests 补正 (the ledger shows the stopped clock), the applicant supplies the material on
  their own page, the officer approves; the page and the workflow Query agree on every state.
  Then the applicant rates it, the case search finds it, and the supervisor's report counts it.
- An admin publishes two versions and a broken one through the page, diffs them and retires one.
- Inbox rows written by the read model's own writer: overdue and warning highlighted, in
  deadline order; the supervisor's 督办 list.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Bundle
from onething import caseops, registry
from onething.api.app import create_app
from onething.api.server import api_url, bind, serve
from onething.casecode import format_case_code
from onething.db import get_engine, migrate, session_scope
from onething.logs import mask_id
from onething.queues import ORCHESTRATOR_TASK_QUEUE
from onething.readmodel import CaseRecordInput, CaseRow, StepRow, applicant_key, write_record
from onething.settings import ApiIdentity, Settings
from onething.submission import submit_case
from onething.workcal import CST
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
from workflows.models import CaseState, CaseStatus, RatingLevel, StepStatus

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does) to run the console "
    "browser test",
)

# As root in a container Chromium needs --no-sandbox; the rest keep it from reaching out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every wait in the page is bounded by this (Playwright's default would be 30 s per call).
PAGE_TIMEOUT_MS = 20_000
TEST_TIMEOUT_S = 120

OFFICER_TOKEN = "console-officer-" + uuid.uuid4().hex
APPLICANT_TOKEN = "console-applicant-" + uuid.uuid4().hex
SUPERVISOR_TOKEN = "console-supervisor-" + uuid.uuid4().hex
APPLICANT_ID = resident_id(birth="19920410", seq="731")
APPLICANT_NAME = "周九"


def with_extension(bundle: Bundle) -> Bundle:
    """The bundle with an extension of up to 2 working days on its manual step."""
    data = bundle.model_dump(mode="json")
    data["steps"][0]["extension"] = {"amount": 2, "unit": "working_days"}
    return Bundle.model_validate(data)


@asynccontextmanager
async def api_server(
    settings: Settings, client: Client | None = None, task_queue: str = ORCHESTRATOR_TASK_QUEUE
) -> AsyncIterator[str]:
    """The real API on a free port in this event loop; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    app = create_app(settings, client=client, task_queue=task_queue)
    task = asyncio.create_task(serve(settings, stop=stop, sock=sock, app=app))
    try:
        yield api_url("127.0.0.1", port)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


def page_errors(page: Page) -> list[str]:
    """Uncaught script errors and CSP violations of ``page`` (either leaves a dead console)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A resource the page's Content-Security-Policy blocks is reported on the console only.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return errors


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            locale="zh-CN",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()


async def sign_in(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/console/")
    await page.wait_for_url("**/console/#/login")
    await page.fill("#token", token)
    await page.click("#login-submit")


async def test_officer_approves_a_case_from_the_inbox(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = dev_env.client
    db_url = f"sqlite:///{tmp_path / 'onething.db'}"
    migrate(db_url)
    manual, auto = unique_department("console"), unique_department("check")
    bundle = with_extension(small_bundle(manual_dept=manual, auto_dept=auto))
    publish(db_url, bundle)
    settings = settings_for(client, db_url).model_copy(
        update={
            "api_tokens": {
                OFFICER_TOKEN: ApiIdentity(
                    subject="officer-e10", role="officer", department=manual
                ),
                APPLICANT_TOKEN: ApiIdentity(
                    subject="applicant-e10", role="applicant", applicant_id=APPLICANT_ID
                ),
                SUPERVISOR_TOKEN: ApiIdentity(
                    subject="supervisor-e10", role="supervisor", department=manual
                ),
            }
        }
    )
    queue = f"tq-{uuid.uuid4()}"
    workers = [
        orchestrator(client, settings, queue),
        department(client, settings, manual),
        department(client, settings, auto),
    ]
    try:
        async with (
            asyncio.timeout(TEST_TIMEOUT_S),
            running(workers),
            api_server(settings, client, queue) as base,
            chromium(tmp_path / "profile") as browser,
        ):
            with session_scope(db_url) as session:
                submitted = await submit_case(
                    client,
                    session,
                    settings=settings,
                    bundle_code=bundle.code,
                    applicant_id=APPLICANT_ID,
                    applicant_name=APPLICANT_NAME,
                    form=GOOD_FORM,
                    materials=["id-card"],
                    task_queue=queue,
                )
            code = submitted.case_code

            async def live() -> CaseState:
                return await caseops.case_state(client, code)

            await eventually(
                live,
                lambda s: s.step("approve").status is StepStatus.awaiting_decision,
                what="manual step at the department",
            )

            page = await browser.new_page()
            errors = page_errors(page)
            await sign_in(page, base, OFFICER_TOKEN)
            await page.wait_for_url("**/console/#/inbox")
            assert await page.inner_text("#my-department") == manual

            # The read model is written by an activity: reload until the row is there.
            row = page.locator(f'#inbox tr[data-case="{code}"]')
            for _ in range(50):
                if await row.count():
                    break
                await page.wait_for_timeout(200)
                await page.click("#refresh")
            await row.wait_for()
            assert "待审批" in await row.inner_text()
            assert "剩余" in await row.locator("td.remaining").inner_text()
            # No personal data in the officer's listing.
            html = await page.content()
            assert APPLICANT_ID not in html and APPLICANT_NAME not in html

            await row.locator("a.case-link").click()
            await page.wait_for_url(f"**/console/#/case/{code}")
            step = page.locator('#steps tr[data-step="approve"] td.step-status')
            assert await step.get_attribute("data-status") == "awaiting_decision"
            assert await page.inner_text("#case-status") == "办理中"
            assert "提交申请" in await page.inner_text("#timeline")

            # The case refuses a rejection without a reason; the page shows why.
            form = page.locator('form.decide[data-step="approve"]')
            await form.locator('button[data-decision="reject"]').click()
            error = form.locator(".decide-error")
            await error.wait_for()
            # The case's own words, shown once (not "reason：reason: ...").
            assert await error.inner_text() == "reason: required to reject step 'approve'"
            await page.screenshot(path=str(tmp_path / "decide.png"), full_page=True)
            assert (await live()).step("approve").status is StepStatus.awaiting_decision

            # 延期: the amount goes to the case, which holds it to the definition's limit.
            due_before = await page.locator('#steps tr[data-step="approve"] td.due').inner_text()
            await form.locator('input[name="reason"]').fill("需现场核查")
            await form.locator('input[name="amount"]').fill("3")
            await form.locator('button[data-decision="extend"]').click()
            await page.wait_for_function(
                "() => document.querySelector('form.decide .decide-error').textContent"
                ".includes('amount')"
            )
            await form.locator('input[name="amount"]').fill("2")
            await form.locator('button[data-decision="extend"]').click()
            await page.wait_for_selector('#steps tr[data-step="approve"] .tag.extended')
            assert await page.locator('#steps tr[data-step="approve"] td.due').inner_text() != (
                due_before
            )
            assert (await live()).step("approve").extension_used

            # 补正: the clock stops (a ledger row without an end) until the applicant supplies.
            await form.locator('input[name="reason"]').fill("照片不清晰")
            await form.locator('input[name="materials"]').fill("photo")
            await form.locator('button[data-decision="supplement"]').click()
            await page.wait_for_selector(
                '#steps tr[data-step="approve"] td.step-status[data-status="supplementing"]'
            )
            stop = page.locator("#ledger tbody tr")
            assert await stop.count() == 1
            assert "停表中" in await stop.inner_text() and "照片不清晰" in await stop.inner_text()
            assert "photo" in await page.inner_text('p.notice[data-step="approve"]')
            assert await form.count() == 0

            # The applicant supplies the material through their own view of the case.
            await page.click("#who button")
            await sign_in(page, base, APPLICANT_TOKEN)
            await page.wait_for_url("**/console/#/cases")
            # Their own cases only, from the read model.
            await page.wait_for_selector(f'#case-list tr[data-case="{code}"]')
            assert await page.locator("#case-list tbody tr").count() == 1
            await page.fill("#open-code", code)
            await page.click("#open-case button[type=submit]")
            await page.wait_for_selector("#supplement-form")
            assert await page.input_value('#supplement-form input[name="materials"]') == "photo"
            assert await page.locator("form.decide").count() == 0
            await page.click("#supplement-form button[type=submit]")
            await page.wait_for_selector(
                '#steps tr[data-step="approve"] td.step-status[data-status="awaiting_decision"]'
            )
            assert "材料已补交" in await page.inner_text("#flash")

            await page.click("#who button")
            await sign_in(page, base, OFFICER_TOKEN)
            await page.wait_for_url("**/console/#/inbox")
            await page.goto(f"{base}/console/#/case/{code}")
            await form.wait_for()
            assert "停表中" not in await stop.inner_text()
            assert "补正完成" in await page.inner_text("#timeline")

            await form.locator('button[data-decision="approve"]').click()
            await page.wait_for_selector(
                '#steps tr[data-step="approve"] td.step-status[data-status="approved"]'
            )
            assert "已通过" in await page.inner_text("#flash")
            assert await step.inner_text() == "已通过"
            assert "officer-e10" in await page.inner_text('#steps tr[data-step="approve"]')

            state = await eventually(
                live, lambda s: s.status is CaseStatus.completed, what="case completed"
            )
            approved = state.step("approve")
            assert approved.status is StepStatus.approved
            assert approved.officer_id == "officer-e10"

            await page.click("#refresh")
            await page.wait_for_selector("#case-status.status-completed")
            assert await page.inner_text("#case-status") == "已办结"
            await page.screenshot(path=str(tmp_path / "case.png"), full_page=True)

            # 好差评 by the applicant once the case is done.
            await page.click("#who button")
            await sign_in(page, base, APPLICANT_TOKEN)
            await page.wait_for_url("**/console/#/cases")
            await page.goto(f"{base}/console/#/case/{code}")
            await page.select_option('#rate-form select[name="level"]', "非常满意")
            await page.fill('#rate-form input[name="comment"]', "一次办好")
            await page.click("#rate-form button[type=submit]")
            await page.wait_for_selector("#rating")
            assert "非常满意" in await page.inner_text("#rating")
            assert await page.locator("#rate-form").count() == 0
            rated = await live()
            assert rated.rating is not None and rated.rating.level is RatingLevel.very_satisfied

            await page.click("#who button")
            await sign_in(page, base, OFFICER_TOKEN)
            await page.wait_for_url("**/console/#/inbox")

            # Decided: the step leaves the inbox.
            await page.goto(f"{base}/console/#/inbox")
            for _ in range(50):
                await page.wait_for_selector("#count-pending")
                if not await page.locator(f'#inbox tr[data-case="{code}"]').count():
                    break
                await page.wait_for_timeout(200)
                await page.click("#refresh")
            assert not await page.locator(f'#inbox tr[data-case="{code}"]').count()

            # 办件查询 over the read model: found by status and bundle, personal data masked.
            await page.click('#nav a[href="#/cases"]')
            await page.select_option('#case-search select[name="status"]', "completed")
            await page.fill('#case-search input[name="bundle"]', bundle.code)
            await page.click("#case-search button[type=submit]")
            found = page.locator(f'#case-list tr[data-case="{code}"]')
            await found.wait_for()
            assert await page.locator("#case-list tbody tr").count() == 1
            assert "已办结" in await found.inner_text()
            assert APPLICANT_ID not in await page.content()

            # 办理质效分析 for the department's supervisor: this database holds this case only.
            await page.click("#who button")
            await sign_in(page, base, SUPERVISOR_TOKEN)
            await page.wait_for_url("**/console/#/inbox")
            await page.click('#nav a[href="#/reports"]')
            figures = page.locator(f'#report-bundles tr[data-code="{bundle.code}"]')
            rating_bar = page.locator("#bundles-ratings svg rect title", has_text="非常满意：1")
            for _ in range(50):
                await figures.wait_for()
                if await rating_bar.count():
                    break
                await page.wait_for_timeout(200)
                await page.click("#report-form button[type=submit]")
            assert await rating_bar.count() == 1

            async def field(name: str) -> str:
                return await figures.locator(f'td[data-field="{name}"]').inner_text()

            assert [await field(f) for f in ("submitted", "completed", "rejected")] == [
                "1",
                "1",
                "0",
            ]
            assert await field("on_time_rate") == "100.0%"
            assert await page.inner_text("#total-submitted") == "1"
            dept = page.locator(f'#report-departments tr[data-code="{manual}"]')
            assert await dept.locator('td[data-field="completed"]').inner_text() == "1"
            # One stacked bar per bundle in the outcome chart, as wide as its one case allows.
            bars = page.locator("#bundles-outcomes svg rect")
            assert await bars.count() == 4
            await page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)
            # Cases submitted from tomorrow (China time) on: none yet.
            tomorrow = (datetime.now(CST) + timedelta(days=1)).date().isoformat()
            await page.fill("#since", tomorrow)
            await page.click("#report-form button[type=submit]")
            await page.wait_for_selector("#report-bundles", state="detached")
            await page.wait_for_selector("#report .empty")
            assert await page.inner_text("#total-submitted") == "0"
            assert errors == []
    finally:
        get_engine(db_url).dispose()


ADMIN_TOKEN = "console-admin-" + uuid.uuid4().hex
SEED = Path(__file__).parent.parent / "definitions" / "bundles" / "marriage-hukou.yaml"


async def publish_through_page(page: Page, yaml_text: str) -> str:
    await page.fill("#publish-yaml", yaml_text)
    await page.click("#publish-form button[type=submit]")
    result = page.locator("#publish-result.ok, #publish-result.error")
    await result.wait_for()
    return await result.inner_text()


async def test_admin_publishes_diffs_and_retires_definitions(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'onething.db'}"
    migrate(db_url)
    settings = Settings(
        database_url=db_url,
        api_tokens={ADMIN_TOKEN: ApiIdentity(subject="admin-e10", role="admin")},
    )
    seed = SEED.read_text(encoding="utf-8")
    shorter = seed.replace(
        "time_limit: {amount: 20, unit: working_days}",
        "time_limit: {amount: 15, unit: working_days}",
    )
    assert shorter != seed
    unknown_department = seed.replace("510000.civil-affairs", "510000.no-such-office")
    try:
        async with (
            asyncio.timeout(TEST_TIMEOUT_S),
            api_server(settings) as base,
            chromium(tmp_path / "profile") as browser,
        ):
            page = await browser.new_page()
            errors = page_errors(page)
            await sign_in(page, base, ADMIN_TOKEN)
            await page.wait_for_url("**/console/#/admin")
            await page.click("#publish-panel summary")

            assert "第1版" in await publish_through_page(page, seed)
            assert "第2版" in await publish_through_page(page, shorter)
            refused = await publish_through_page(page, unknown_department)
            # Every issue with its line and field, straight from the API's 422.
            assert "510000.no-such-office" in refused and "第" in refused and "行" in refused

            await page.goto(f"{base}/console/#/admin/marriage-hukou")
            await page.wait_for_selector("#versions")
            assert await page.locator("#versions tbody tr").count() == 2
            assert "夫妻投靠户口迁移审批" in await page.inner_text("#definition-steps")

            await page.select_option("#diff-a", "1")
            await page.select_option("#diff-b", "2")
            await page.click("#diff-form button[type=submit]")
            change = page.locator("#diff-result li.change-changed")
            await change.first.wait_for()
            text = await change.first.inner_text()
            assert "settlement-approval" in text and "time_limit" in text
            assert "20 working_days -> 15 working_days" in text
            await page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)

            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await page.click('#versions tr[data-version="1"] button.danger')
            await page.wait_for_selector('#versions tr[data-version="1"] .badge.version-retired')
            assert await page.locator('#versions tr[data-version="1"] button.danger').count() == 0
            assert "第1版已停用" in await page.inner_text("#flash")
            assert errors == []
        with session_scope(db_url) as session:
            statuses = {v.version: v.status.value for v in registry.list_versions(session)}
        assert statuses == {1: "retired", 2: "active"}
    finally:
        get_engine(db_url).dispose()


def record(code: str, dept: str, step_id: str, **step: object) -> CaseRecordInput:
    """A read-model write as the case workflow's activity makes it (one manual step)."""
    now = datetime.now(UTC)
    return CaseRecordInput(
        revision=1,
        case=CaseRow(
            case_code=code,
            bundle_code="marriage-hukou",
            bundle_version=1,
            bundle_name="结婚落户",
            region="510100",
            channel="web",
            status="running",
            applicant_key=applicant_key(APPLICANT_ID),
            applicant_masked=mask_id(APPLICANT_ID),
            submitted_at=now - timedelta(days=3),
        ),
        steps=[
            StepRow.model_validate(
                {
                    "step_id": step_id,
                    "department": dept,
                    "item": f"审批 {step_id}",
                    "mode": "manual",
                    "status": "awaiting_decision",
                    "started_at": now - timedelta(days=3),
                }
                | step
            )
        ],
    )


async def test_inbox_highlights_overdue_and_warning_rows(tmp_path: Path) -> None:
    """Rows written to the read model by its real writer; the API computes overdue and the
    remaining time, the page highlights them and orders them by deadline."""
    db_url = f"sqlite:///{tmp_path / 'onething.db'}"
    migrate(db_url)
    dept = unique_department("inbox")
    officer, supervisor = "t-officer-" + uuid.uuid4().hex, "t-super-" + uuid.uuid4().hex
    settings = Settings(
        database_url=db_url,
        api_tokens={
            officer: ApiIdentity(subject="officer-e10", role="officer", department=dept),
            supervisor: ApiIdentity(subject="super-e10", role="supervisor", department=dept),
        },
    )
    now = datetime.now(UTC)
    codes = [
        format_case_code(region="510100", abbr="JHLH", day=now.date(), seq=n) for n in (1, 2, 3, 4)
    ]
    rows = {
        # Late by two hours; the workflow's timer has not fired yet, the API sees it anyway.
        "late": record(codes[0], dept, "late", due_at=now - timedelta(hours=2)),
        "warned": record(codes[1], dept, "warned", due_at=now + timedelta(hours=3), warned=True),
        "calm": record(codes[2], dept, "calm", due_at=now + timedelta(hours=30)),
        "escalated": record(
            codes[3],
            dept,
            "escalated",
            due_at=now - timedelta(hours=5),
            overdue=True,
            escalation_level=1,
        ),
    }
    with session_scope(db_url) as session:
        for row in rows.values():
            write_record(session, record=row)
    try:
        async with (
            asyncio.timeout(TEST_TIMEOUT_S),
            api_server(settings) as base,
            chromium(tmp_path / "profile") as browser,
        ):
            page = await browser.new_page()
            errors = page_errors(page)
            await sign_in(page, base, officer)
            await page.wait_for_selector("#inbox")
            order = await page.locator("#inbox tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.step)"
            )
            assert order == ["escalated", "late", "warned", "calm"]
            classes = await page.locator("#inbox tbody tr").evaluate_all(
                "rows => rows.map(r => r.className)"
            )
            assert classes == ["row-overdue", "row-overdue", "row-warning", ""]
            late = page.locator('#inbox tr[data-step="late"]')
            assert "已超期2小时" in await late.locator("td.remaining").inner_text()
            assert await late.locator(".tag.overdue").inner_text() == "超期"
            warned = page.locator('#inbox tr[data-step="warned"]')
            assert await warned.locator(".tag.warning").inner_text() == "预警"
            assert "剩余" in await warned.locator("td.remaining").inner_text()
            escalated = page.locator('#inbox tr[data-step="escalated"]')
            assert await escalated.locator(".tag.escalated").inner_text() == "督办"
            counts = [
                await page.inner_text(f"#count-{k}") for k in ("pending", "overdue", "warning")
            ]
            assert counts == ["4", "2", "1"]
            await page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)

            # The supervisor's 督办 list: the escalated step; never one still in time.
            await page.click("#who button")
            await sign_in(page, base, supervisor)
            await page.wait_for_url("**/console/#/inbox")
            await page.click('#nav a[href="#/supervision"]')
            await page.wait_for_selector("#supervision")
            listed = await page.locator("#supervision tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.step)"
            )
            assert "escalated" in listed
            assert not {"warned", "calm"} & set(listed)
            tag = page.locator('#supervision tr[data-step="escalated"] .tag')
            assert await tag.inner_text() == "督办"
            assert errors == []
    finally:
        get_engine(db_url).dispose()
