"""``onething demo``: against a running ``onething up``, submit cases across several bundles
and drive them with officers' decisions, so a newcomer sees cases complete, one rejected and
one escalated.

The escalated case uses a small bundle of the demo's own, ``demo-escalation`` (演示: 限时督办):
one manual step with a 1-minute limit, 督办 at the deadline and 提级 a minute later. The seed
bundles' shortest limits are 30 minutes, too long to watch; the demo bundle is validated
against the department registry and published like any other (it is not in
``definitions/bundles``, so ``onething up`` never publishes it by itself)."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client

from definitions.schema import ApplicantType, Bundle, FieldType, FormField, StepMode
from definitions.validation import has_errors, load_departments, validate_bundle
from onething import caseops, registry
from onething.db import migrate, session_scope
from onething.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char
from onething.settings import Settings
from onething.submission import SubmissionError, submit_case
from workflows.models import CaseState, CaseStatus, DecisionInput, DecisionKind, StepStatus

Say = Callable[[str], None]

# Bundles the demo drives to completion, and the one it rejects; the first published ones win.
COMPLETE = ["marriage-hukou", "personal-startup", "enterprise-relocation", "housing-fund-loan"]
REJECT = ["new-vehicle-registration", "public-rental-housing", "tech-transfer"]
ESCALATION_DEPARTMENT = "510000.market"

DEMO_BUNDLE: dict[str, Any] = {
    "code": "demo-escalation",
    "abbr": "DEMOESC",
    "name": "演示：限时督办",
    "kind": "personal",
    "applicant_type": "either",
    "promised_limit": {"amount": 1, "unit": "working_days"},
    "description": "onething demo: a 1-minute limit so 督办 and 提级 can be watched.",
    "materials": [{"id": "application", "name": "申请表", "required": True}],
    "form": [{"name": "subject", "label": "事项说明", "type": "string"}],
    "steps": [
        {
            "id": "review",
            "item": "限时审核(演示)",
            "department": ESCALATION_DEPARTMENT,
            "mode": "manual",
            "materials": ["application"],
            "time_limit": {"amount": 1, "unit": "minutes"},
            "on_timeout": "escalate",
            "escalation": {"elevate_after": {"amount": 1, "unit": "minutes"}},
        }
    ],
}

# Sample values for the patterns the seed bundles use; a field whose pattern none of these
# fits makes the demo skip that bundle (and say so) rather than submit nonsense.
PATTERN_SAMPLES = [
    "510104",
    "500103",
    "12345678901234",
    "6222021234567890123",
    "川A12345",
    "LSVAU2180N2183294",
    "2026-510100-47-01-000123",
    "DEU",
    "C12345678",
    "示例",
]


class DemoCase(BaseModel):
    bundle: str
    case_code: str
    goal: str  # complete, reject, escalate
    status: str = "running"
    note: str = ""


def resident_id(rng: random.Random) -> str:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 40 * 365))
    first17 = f"510104{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return first17 + resident_id_check_char(first17)


def uscc(rng: random.Random) -> str:
    body = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    first17 = "91510100" + body
    return first17 + uscc_check_char(first17)


def _field_value(spec: FormField, applicant_id: str, rng: random.Random) -> Any:
    kind = spec.type
    if kind is FieldType.integer:
        return 3
    if kind is FieldType.number:
        return 12.5
    if kind is FieldType.boolean:
        return True
    if kind is FieldType.date:
        return (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    if kind is FieldType.choice:
        return (spec.choices or [""])[0]
    if kind is FieldType.phone:
        return "138" + f"{rng.randrange(0, 10**8):08d}"
    if kind is FieldType.id_number:
        # The applicant's own id where the form asks for it (a person's bundle), else another.
        own = "applicant" in spec.name and not applicant_id.startswith("91")
        return applicant_id if own else resident_id(rng)
    if kind is FieldType.uscc:
        return uscc(rng)
    if spec.pattern:
        for sample in PATTERN_SAMPLES:
            if re.fullmatch(spec.pattern, sample):
                return sample
        raise ValueError(f"no sample value fits the pattern of field {spec.name}")
    return f"示例{spec.label}"


def sample_application(bundle: Bundle, rng: random.Random) -> tuple[str, dict[str, Any], list[str]]:
    """A valid applicant id, form and material list for ``bundle``."""
    applicant_id = (
        uscc(rng) if bundle.applicant_type is ApplicantType.enterprise else resident_id(rng)
    )
    form = {f.name: _field_value(f, applicant_id, rng) for f in bundle.form if f.required}
    return applicant_id, form, [m.id for m in bundle.materials]


def publish_demo_bundle(settings: Settings) -> str:
    bundle = Bundle.model_validate(DEMO_BUNDLE)
    issues = validate_bundle(bundle, load_departments(settings.departments_file))
    if has_errors(issues):
        raise ValueError("demo bundle invalid: " + "; ".join(str(i) for i in issues))
    with session_scope(settings.database_url) as session:
        row = registry.publish(session, bundle=bundle).version
    return f"{row.code} v{row.version}"


def _published(settings: Settings, codes: list[str]) -> list[Bundle]:
    found: list[Bundle] = []
    with session_scope(settings.database_url) as session:
        for code in codes:
            try:
                found.append(registry.load_definition(registry.get_version(session, code=code)))
            except registry.NotFoundError:
                continue
    return found


async def _submit(client: Client, settings: Settings, bundle: Bundle, rng: random.Random) -> str:
    applicant_id, form, materials = sample_application(bundle, rng)
    with session_scope(settings.database_url) as session:
        result = await submit_case(
            client,
            session,
            settings=settings,
            bundle_code=bundle.code,
            applicant_id=applicant_id,
            applicant_name=rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]),
            form=form,
            materials=materials,
            channel=rng.choice(["web", "app", "hall"]),
            request_id=f"demo-{uuid.uuid4()}",
        )
    return result.case_code


def _officer(department: str) -> str:
    return "demo-officer-" + department.split(".", 1)[1]


async def drive(
    client: Client, case_code: str, *, reject: bool, seconds: float = 90.0
) -> CaseState:
    """Approve (or reject the first) manual step as it comes, until the case closes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        state = await caseops.case_state(client, case_code)
        if state.status is not CaseStatus.running or loop.time() > end:
            return state
        for step in state.steps:
            if step.mode is not StepMode.manual or step.status is not StepStatus.awaiting_decision:
                continue
            decision = DecisionInput(
                step_id=step.id,
                decision=DecisionKind.reject if reject else DecisionKind.approve,
                officer_id=_officer(step.department),
                department=step.department,
                reason="演示：申请材料与共享数据不一致" if reject else "演示：审核通过",
            )
            try:
                await caseops.decide(client, case_code, decision)
            except caseops.ActionRejectedError:
                continue  # the case moved on between the query and the decision
            if reject:
                break
        await asyncio.sleep(0.5)


async def wait_escalation(
    client: Client, case_code: str, *, level: int, seconds: float
) -> CaseState:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        state = await caseops.case_state(client, case_code)
        if max(s.escalation_level for s in state.steps) >= level or loop.time() > end:
            return state
        await asyncio.sleep(2)


async def run_demo(
    client: Client, settings: Settings, *, say: Say, wait_escalation_seconds: float = 150.0
) -> list[DemoCase]:
    rng = random.Random()
    migrate(settings.database_url)
    say(f"published the demo bundle {publish_demo_bundle(settings)} (1-minute limit)")
    cases: list[DemoCase] = []
    plans = [(b, "complete") for b in _published(settings, COMPLETE)[:3]]
    plans += [(b, "reject") for b in _published(settings, REJECT)[:1]]
    plans += [(b, "escalate") for b in _published(settings, ["demo-escalation"])]
    for bundle, goal in plans:
        try:
            code = await _submit(client, settings, bundle, rng)
        except (SubmissionError, ValueError) as exc:
            say(f"skipped {bundle.code}: {exc}")
            continue
        say(f"submitted {bundle.code:<28} {code}  ({bundle.name}; goal: {goal})")
        cases.append(DemoCase(bundle=bundle.code, case_code=code, goal=goal))
    drives = [c for c in cases if c.goal != "escalate"]
    states = await asyncio.gather(
        *(drive(client, c.case_code, reject=c.goal == "reject") for c in drives)
    )
    for case, state in zip(drives, states, strict=True):
        case.status = state.status.value
        case.note = ", ".join(f"{s.id}={s.status.value}" for s in state.steps)
        say(f"{case.status:<10} {case.case_code}  {case.note}")
    for case in (c for c in cases if c.goal == "escalate"):
        if wait_escalation_seconds <= 0:
            case.note = "escalates 1 minute after submission; watch it with `onething case show`"
            say(f"escalating {case.case_code}  {case.note}")
            continue
        say(f"waiting up to {wait_escalation_seconds:.0f}s for {case.case_code} to escalate ...")
        state = await wait_escalation(
            client, case.case_code, level=1, seconds=wait_escalation_seconds
        )
        level = max(s.escalation_level for s in state.steps)
        case.status = state.status.value
        label = {0: "", 1: " (督办)"}.get(level, " (提级)")
        case.note = f"escalation level {level}{label}"
        say(f"{'escalated' if level else 'waiting':<10} {case.case_code}  {case.note}")
    return cases
