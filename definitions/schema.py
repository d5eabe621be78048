"""The schema of a bundle definition (one YAML file per bundle) and of the department registry.

Structural rules (types, unknown keys, positive limits) live here as pydantic constraints;
rules that need the whole bundle or the department registry (dependencies, cycles,
materials, departments) live in :mod:`definitions.validation`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$", max_length=64)]
RegionCode = Annotated[str, Field(pattern=r"^\d{6}$")]
# Region-qualified so a bundle can route a step to another province's department (川渝通办).
DepartmentCode = Annotated[str, Field(pattern=r"^\d{6}\.[a-z][a-z0-9-]*$", max_length=64)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a definition must never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeUnit(StrEnum):
    working_days = "working_days"
    calendar_days = "calendar_days"
    hours = "hours"
    minutes = "minutes"


# Rough length of each unit in minutes, only to compare durations of different units
# (e.g. "is the warning shorter than the limit"); deadlines use the real calendar.
UNIT_MINUTES: dict[TimeUnit, int] = {
    TimeUnit.working_days: 24 * 60,
    TimeUnit.calendar_days: 24 * 60,
    TimeUnit.hours: 60,
    TimeUnit.minutes: 1,
}


class Duration(Strict):
    amount: int = Field(gt=0, description="A positive number of units")
    unit: TimeUnit = TimeUnit.working_days

    def approx_minutes(self) -> int:
        return self.amount * UNIT_MINUTES[self.unit]

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"


class BundleKind(StrEnum):
    enterprise = "enterprise"
    personal = "personal"
    # Room for the other flows in the seed; the engine is kind-agnostic.
    policy_claim = "policy_claim"
    hotline = "hotline"
    joint_inspection = "joint_inspection"


class ApplicantType(StrEnum):
    person = "person"
    enterprise = "enterprise"
    either = "either"


class StepMode(StrEnum):
    manual = "manual"
    automatic = "automatic"


class OnTimeout(StrEnum):
    escalate = "escalate"
    deem_approved = "deem_approved"
    reject = "reject"


class FieldType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    choice = "choice"
    id_number = "id_number"  # 居民身份证号
    uscc = "uscc"  # 统一社会信用代码
    phone = "phone"


class Material(Strict):
    id: Slug
    name: str = Field(min_length=1)
    required: bool = True


class FormField(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: str = Field(min_length=1)
    type: FieldType = FieldType.string
    required: bool = True
    pattern: str | None = None
    choices: list[str] | None = None


class Escalation(Strict):
    """督办 then 提级: how long after the deadline, then after level 1, each level fires."""

    supervise_after: Duration | None = None  # None: level 1 at the deadline itself
    elevate_after: Duration


class Step(Strict):
    id: Slug
    item: str = Field(min_length=1, description="事项: the department's administrative item")
    department: DepartmentCode
    mode: StepMode
    depends_on: list[str] = Field(default_factory=list)
    materials: list[str] = Field(default_factory=list)
    time_limit: Duration
    warn_before: Duration | None = None
    on_timeout: OnTimeout = OnTimeout.escalate
    escalation: Escalation | None = None
    extension: Duration | None = None  # the most one 延期 may add; None: no extension


class Bundle(Strict):
    code: Slug
    abbr: Annotated[str, Field(pattern=r"^[A-Z]{2,8}$")]  # goes into the case code
    name: str = Field(min_length=1)
    kind: BundleKind
    applicant_type: ApplicantType
    promised_limit: Duration
    description: str = ""
    legal_basis: str = ""
    materials: list[Material] = Field(default_factory=list)
    form: list[FormField] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


class Department(Strict):
    code: DepartmentCode
    name: str = Field(min_length=1)
    region: RegionCode


class DepartmentRegistry(Strict):
    departments: list[Department]

    def by_code(self) -> dict[str, Department]:
        return {d.code: d for d in self.departments}
