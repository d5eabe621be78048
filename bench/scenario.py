"""The benchmark's bundle (five departments, automatic and manual steps) and its case inputs.

Department codes carry a per-run tag so each phase has its own task queues and inbox rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from definitions.schema import (
    ApplicantType,
    Bundle,
    BundleKind,
    Duration,
    Step,
    StepMode,
    TimeUnit,
)
from onething.identifiers import resident_id_check_char
from workflows.models import Applicant, CaseInput, Channel, IdType, PinnedBundle

RESIDENT_ID = "51010419900307123" + resident_id_check_char("51010419900307123")
MATERIALS = ["id-card", "household-register"]
# s1, s2 automatic and parallel; s3 after s1 and s4 after s2 are manual; s5 (manual) joins them.
SHAPE: list[tuple[str, str, StepMode, list[str]]] = [
    ("s1", "market", StepMode.automatic, []),
    ("s2", "tax", StepMode.automatic, []),
    ("s3", "hukou", StepMode.manual, ["s1"]),
    ("s4", "housing", StepMode.manual, ["s2"]),
    ("s5", "civil", StepMode.manual, ["s3", "s4"]),
]
MANUAL_STEPS = [step_id for step_id, _, mode, _ in SHAPE if mode is StepMode.manual]


def working_days(n: int) -> Duration:
    return Duration(amount=n, unit=TimeUnit.working_days)


class Scenario:
    """One tag: five department codes, the bundle over them, and case inputs."""

    def __init__(self, label: str) -> None:
        self.tag = f"b{label}{uuid.uuid4().hex[:6]}"
        self.departments = {name: f"510100.{self.tag}-{name}" for _, name, _, _ in SHAPE}
        self.bundle = Bundle(
            code="bench-bundle",
            abbr="BENCH",
            name="基准测试一件事",
            kind=BundleKind.personal,
            applicant_type=ApplicantType.person,
            promised_limit=working_days(20),
            steps=[
                Step(
                    id=step_id,
                    item=f"事项 {step_id}",
                    department=self.departments[name],
                    mode=mode,
                    depends_on=deps,
                    materials=["id-card"],
                    time_limit=working_days(5),
                    warn_before=working_days(1) if mode is StepMode.manual else None,
                )
                for step_id, name, mode, deps in SHAPE
            ],
        )
        self._pinned = PinnedBundle(
            code=self.bundle.code, version=1, content_hash="0" * 64, definition=self.bundle
        )
        self._count = 0

    def department_of(self, step_id: str) -> str:
        return self.bundle.step(step_id).department

    def case_input(self) -> CaseInput:
        self._count += 1
        code = f"{self.tag.upper()}-{self._count:06d}"
        return CaseInput(
            case_code=code,
            bundle=self._pinned,
            applicant=Applicant(
                id_type=IdType.resident_id, id_number=RESIDENT_ID, name="张三", phone="13812345678"
            ),
            form={"purpose": "benchmark"},
            materials=list(MATERIALS),
            region="510100",
            channel=Channel.app,
            request_id="req-" + code,
            submitted_at=datetime.now(UTC),
        )
