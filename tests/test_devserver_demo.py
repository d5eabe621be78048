"""The demo's parts: its own bundle validates, it can fill a valid application for every
bundled definition, and its driver completes or rejects a case on the dev server."""

from __future__ import annotations

import random
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Bundle
from definitions.validation import has_errors, load_departments, validate_bundle, validate_paths
from onething import prereview
from onething.db import session_scope
from onething.demo import DEMO_BUNDLE, drive, sample_application
from onething.settings import Settings
from onething.submission import submit_case
from tests.casekit import (
    department,
    orchestrator,
    publish,
    running,
    settings_for,
    small_bundle,
    unique_department,
)
from workflows.models import CaseStatus, StepStatus

SETTINGS = Settings()


def test_demo_bundle_is_valid_and_escalates_within_minutes() -> None:
    bundle = Bundle.model_validate(DEMO_BUNDLE)
    issues = validate_bundle(bundle, load_departments(SETTINGS.departments_file))
    assert not has_errors(issues), issues
    [step] = bundle.steps
    assert step.time_limit.unit.value == "minutes" and step.on_timeout.value == "escalate"


def _bundled() -> list[Bundle]:
    departments = load_departments(SETTINGS.departments_file)
    loaded, _ = validate_paths(sorted(SETTINGS.bundles_dir.glob("*.yaml")), departments)
    return [lb.bundle for lb in loaded]


@pytest.mark.parametrize("bundle", _bundled(), ids=lambda b: b.code)
def test_demo_fills_a_valid_application_for_every_bundle(bundle: Bundle) -> None:
    applicant_id, form, materials = sample_application(bundle, random.Random(7))
    assert prereview.review(bundle, applicant_id=applicant_id, form=form, materials=materials) == []


@pytest.mark.parametrize("reject", [False, True], ids=["complete", "reject"])
async def test_drive_decides_until_the_case_closes(
    dev_env: WorkflowEnvironment, db_url: str, reject: bool
) -> None:
    client = dev_env.client
    settings = settings_for(client, db_url)
    manual, auto = unique_department("a"), unique_department("b")
    b = small_bundle(manual_dept=manual, auto_dept=auto)
    publish(db_url, b)
    tq = f"tq-{uuid.uuid4()}"
    applicant_id, form, materials = sample_application(b, random.Random(3))
    workers = [
        orchestrator(client, settings, tq),
        department(client, settings, manual),
        department(client, settings, auto),
    ]
    async with running(workers):
        with session_scope(db_url) as session:
            result = await submit_case(
                client,
                session,
                settings=settings,
                bundle_code=b.code,
                applicant_id=applicant_id,
                applicant_name="演示",
                form=form,
                materials=materials,
                task_queue=tq,
            )
        state = await drive(client, result.case_code, reject=reject, seconds=30)
    if reject:
        assert state.status is CaseStatus.rejected
        assert state.step("approve").status is StepStatus.rejected
        assert state.step("approve").officer_id == "demo-officer-" + manual.split(".", 1)[1]
    else:
        assert state.status is CaseStatus.completed
        assert [s.status for s in state.steps] == [StepStatus.approved, StepStatus.approved]
