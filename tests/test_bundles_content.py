"""The content of the shipped definitions: all 18 bundles of the seed, the department registry.

The schema and the validator have their own tests; these check that the definitions an admin
publishes are complete and coherent against the seed document and the domain notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from definitions.schema import (
    ApplicantType,
    Bundle,
    BundleKind,
    DepartmentRegistry,
    FieldType,
    OnTimeout,
    StepMode,
    TimeUnit,
)
from definitions.validation import load_departments, validate_paths
from onething.prereview import check_form

REPO = Path(__file__).resolve().parents[1]
BUNDLE_DIR = REPO / "definitions" / "bundles"
DEPARTMENTS_FILE = REPO / "definitions" / "departments.yaml"
SEED_DIR = REPO.parent / "shared" / "seed"

# Sections (一) and (二) of the seed name the enterprise and personal bundles.
SEED_SECTIONS = {"(一)": BundleKind.enterprise, "(二)": BundleKind.personal}
SEED_LIST = re.compile(r"做好(?P<names>.+?)(?P<count>\d+)个“高效办成一件事”重点事项")
GOV_SERVICE_OFFICE = "510000.gov-service"
# The employer applies for a foreigner's work permit; a newcomer has no Chinese ID number.
APPLICANT_EXCEPTIONS = {"外国人来华工作": ApplicantType.enterprise}


# Real-shaped values for every field with a pattern; a new pattern needs an example here.
PATTERN_EXAMPLES = {
    "bank_account": "6222021234567890123",
    "nationality": "DEU",
    "passport_number": "C01X00T47",
    "origin_region": "510100",
    "destination_region": "500103",
    "resettlement_region": "510104",
    "plate_number": "川A12345",
    "old_plate_number": "川AD12345",
    "vin": "LSVAU2180N2183294",
    "new_vin": "LSVAU2180N2183294",
    "invoice_number": "24512000000012345678",
    "project_code": "2025-510100-47-01-123456",
}
# Values the same patterns must refuse (a VIN never contains I, O or Q; plates start with 川...).
PATTERN_COUNTEREXAMPLES = {
    "vin": "LSVAU2180N218329I",
    "plate_number": "AB12345",
    "bank_account": "6222-0212-3456",
    "project_code": "2025510100470112345",
}
TYPE_EXAMPLES: dict[FieldType, Any] = {
    FieldType.string: "示例",
    FieldType.integer: 3,
    FieldType.number: 12.5,
    FieldType.boolean: True,
    FieldType.date: "2026-03-02",
    FieldType.id_number: "11010519491231002X",
    FieldType.uscc: "91350100M000100Y43",
    FieldType.phone: "13800138000",
}


def _example_form(bundle: Bundle) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for f in bundle.form:
        if f.pattern is not None:
            form[f.name] = PATTERN_EXAMPLES[f.name]
        elif f.type == FieldType.choice:
            form[f.name] = (f.choices or [""])[0]
        else:
            form[f.name] = TYPE_EXAMPLES[f.type]
    return form


def _load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _bundle_files() -> list[Path]:
    return sorted(BUNDLE_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def bundles() -> dict[str, Bundle]:
    """Every bundle file by file name; a file the schema rejects fails here with its name."""
    out: dict[str, Bundle] = {}
    for path in _bundle_files():
        out[path.name] = Bundle.model_validate(_load_yaml(path))
    return out


@pytest.fixture(scope="module")
def registry() -> DepartmentRegistry:
    return DepartmentRegistry.model_validate(_load_yaml(DEPARTMENTS_FILE))


@pytest.fixture(scope="module")
def seed_names() -> dict[str, BundleKind]:
    """The bundle names of sections (一) and (二), with the kind their section implies."""
    files = sorted(SEED_DIR.glob("*.txt")) if SEED_DIR.is_dir() else []
    if not files:
        pytest.skip(f"seed document not found under {SEED_DIR}")
    names: dict[str, BundleKind] = {}
    for line in files[0].read_text(encoding="utf-8").splitlines():
        kind = next((k for marker, k in SEED_SECTIONS.items() if line.startswith(marker)), None)
        if kind is None:
            continue
        match = SEED_LIST.search(line)
        assert match, f"seed section line has no bundle list: {line[:40]}"
        listed = match["names"].split("、")
        assert len(listed) == int(match["count"]), f"seed lists {listed}, says {match['count']}"
        names.update(dict.fromkeys(listed, kind))
    return names


def _reaches(bundle: Bundle) -> dict[str, set[str]]:
    """For each step, every step it transitively depends on."""
    deps = {s.id: set(s.depends_on) for s in bundle.steps}
    closure: dict[str, set[str]] = {}

    def visit(step_id: str, path: tuple[str, ...]) -> set[str]:
        assert step_id not in path, f"{bundle.code}: cycle {' -> '.join((*path, step_id))}"
        if step_id not in closure:
            found: set[str] = set()
            for d in deps[step_id]:
                found |= {d} | visit(d, (*path, step_id))
            closure[step_id] = found
        return closure[step_id]

    for s in bundle.steps:
        visit(s.id, ())
    return closure


def _parallel_pairs(bundle: Bundle) -> Iterator[tuple[str, str]]:
    reach = _reaches(bundle)
    for a, b in combinations([s.id for s in bundle.steps], 2):
        if a not in reach[b] and b not in reach[a]:
            yield a, b


# --- the seed ------------------------------------------------------------------------------


def test_seed_has_eighteen_bundles(seed_names: dict[str, BundleKind]) -> None:
    assert len(seed_names) == 18
    assert "企业迁移登记" in seed_names and "个人身后" in seed_names


def test_each_seed_bundle_has_exactly_one_file(
    bundles: dict[str, Bundle], seed_names: dict[str, BundleKind]
) -> None:
    by_name: dict[str, list[str]] = {}
    for file, b in bundles.items():
        by_name.setdefault(b.name, []).append(file)
    missing = sorted(set(seed_names) - set(by_name))
    extra = sorted(set(by_name) - set(seed_names))
    assert not missing, f"no definition for seed bundles {missing}"
    assert not extra, f"names not in the seed (must match it exactly): {extra}"
    assert {n: f for n, f in by_name.items() if len(f) > 1} == {}


def test_kind_and_applicant_follow_the_seed_section(
    bundles: dict[str, Bundle], seed_names: dict[str, BundleKind]
) -> None:
    expected_applicant = {
        BundleKind.enterprise: ApplicantType.enterprise,
        BundleKind.personal: ApplicantType.person,
    }
    for file, b in bundles.items():
        kind = seed_names[b.name]
        assert b.kind == kind, f"{file}: kind {b.kind} but the seed lists it as {kind}"
        applicant = APPLICANT_EXCEPTIONS.get(b.name, expected_applicant[kind])
        assert b.applicant_type == applicant, f"{file}: applicant_type {b.applicant_type}"


# --- identity of each bundle ---------------------------------------------------------------


def test_eighteen_files_named_after_their_code(bundles: dict[str, Bundle]) -> None:
    assert len(bundles) == 18
    for file, b in bundles.items():
        assert file == f"{b.code}.yaml"


def test_codes_and_abbreviations_are_unique(bundles: dict[str, Bundle]) -> None:
    codes = [b.code for b in bundles.values()]
    abbrs = [b.abbr for b in bundles.values()]
    assert len(set(codes)) == len(codes), codes
    assert len(set(abbrs)) == len(abbrs), abbrs


def test_applicant_identity_is_a_form_field(bundles: dict[str, Bundle]) -> None:
    """A case needs the applicant's identifier: a credit code or an ID number."""
    wanted = {ApplicantType.enterprise: FieldType.uscc, ApplicantType.person: FieldType.id_number}
    for file, b in bundles.items():
        types = {f.type for f in b.form}
        assert wanted[b.applicant_type] in types, f"{file}: no {wanted[b.applicant_type]} field"
        assert FieldType.phone in types, f"{file}: no contact phone field"
        for f in b.form:
            if f.type == FieldType.choice:
                assert f.choices, f"{file}: choice field {f.name} without choices"


def test_every_form_accepts_a_real_shaped_application(bundles: dict[str, Bundle]) -> None:
    """Patterns and types must let a genuine applicant through pre-review."""
    for file, b in bundles.items():
        assert check_form(b, _example_form(b)) == [], file


def test_patterns_refuse_malformed_values(bundles: dict[str, Bundle]) -> None:
    refused = set()
    for b in bundles.values():
        for f in b.form:
            if f.name in PATTERN_COUNTEREXAMPLES:
                form = _example_form(b) | {f.name: PATTERN_COUNTEREXAMPLES[f.name]}
                assert [p.field for p in check_form(b, form)] == [f"form.{f.name}"], b.code
                refused.add(f.name)
    assert refused == set(PATTERN_COUNTEREXAMPLES)


# --- departments ---------------------------------------------------------------------------


def test_registry_codes_unique_and_region_qualified(registry: DepartmentRegistry) -> None:
    codes = [d.code for d in registry.departments]
    assert len(set(codes)) == len(codes)
    for d in registry.departments:
        assert d.code.split(".", 1)[0] == d.region, d.code
    assert GOV_SERVICE_OFFICE in codes


def test_every_step_department_is_registered_and_every_department_used(
    bundles: dict[str, Bundle], registry: DepartmentRegistry
) -> None:
    known = set(registry.by_code())
    used = {s.department for b in bundles.values() for s in b.steps}
    assert used - known == set(), f"steps route to unknown departments {used - known}"
    # Each department gets a worker; only the escalation target serves no step.
    assert known - used == {GOV_SERVICE_OFFICE}


def test_relocation_has_a_chongqing_destination_step(bundles: dict[str, Bundle]) -> None:
    relocation = bundles["enterprise-relocation.yaml"]
    chongqing = [s for s in relocation.steps if s.department.startswith("500000.")]
    assert chongqing, "川渝通办: the destination side must be a Chongqing department"
    # The destination registration waits for the origin to release the enterprise.
    reach = _reaches(relocation)
    assert "origin-release" in reach["destination-registration"]


# --- materials and the step graph ----------------------------------------------------------


def test_materials_declared_and_used(bundles: dict[str, Bundle]) -> None:
    for file, b in bundles.items():
        declared = [m.id for m in b.materials]
        assert len(set(declared)) == len(declared), f"{file}: duplicate material ids"
        used = {m for s in b.steps for m in s.materials}
        assert used - set(declared) == set(), f"{file}: undeclared {used - set(declared)}"
        assert set(declared) - used == set(), f"{file}: unused {set(declared) - used}"
        assert any(m.required for m in b.materials), f"{file}: no required material"


def test_dependencies_known_and_acyclic(bundles: dict[str, Bundle]) -> None:
    for file, b in bundles.items():
        ids = [s.id for s in b.steps]
        assert len(set(ids)) == len(ids), f"{file}: duplicate step ids"
        for s in b.steps:
            assert set(s.depends_on) <= set(ids), f"{file}: {s.id} depends on unknown steps"
        _reaches(b)  # asserts on a cycle


def test_parallel_steps_exist(bundles: dict[str, Bundle]) -> None:
    # Every bundle has departments (or checks) independent enough to run at once.
    sequential = [f for f, b in bundles.items() if next(_parallel_pairs(b), None) is None]
    assert sequential == []


def test_cycle_detection_in_this_module_works() -> None:
    """The graph helper above must itself catch a cycle, or the acyclicity test proves nothing."""
    data = _load_yaml(BUNDLE_DIR / "marriage-hukou.yaml")
    data["steps"][0]["depends_on"] = ["settlement-approval"]
    with pytest.raises(AssertionError, match="cycle"):
        _reaches(Bundle.model_validate(data))


# --- time limits ---------------------------------------------------------------------------


def test_modes_and_timeouts_are_mixed(bundles: dict[str, Bundle]) -> None:
    steps = [s for b in bundles.values() for s in b.steps]
    assert {s.mode for s in steps} == set(StepMode)
    assert {s.on_timeout for s in steps} == set(OnTimeout)
    for file, b in bundles.items():
        modes = {s.mode for s in b.steps}
        assert StepMode.automatic in modes, f"{file}: no automatic data-sharing check"
        assert StepMode.manual in modes, f"{file}: no manual approval"


def test_automatic_checks_have_short_limits(bundles: dict[str, Bundle]) -> None:
    for file, b in bundles.items():
        for s in b.steps:
            if s.mode == StepMode.automatic:
                assert s.time_limit.unit in (TimeUnit.minutes, TimeUnit.hours), (file, s.id)
                assert s.time_limit.approx_minutes() <= 4 * 60, (file, s.id)


def test_manual_steps_warn_and_escalate_sensibly(bundles: dict[str, Bundle]) -> None:
    for file, b in bundles.items():
        for s in b.steps:
            where = f"{file}: {s.id}"
            if s.on_timeout == OnTimeout.escalate:
                assert s.escalation is not None, f"{where}: escalate without a ladder"
            if s.mode != StepMode.manual:
                continue
            if s.on_timeout != OnTimeout.deem_approved:
                # A publicity window that passes by itself needs no warning; others do.
                assert s.warn_before is not None, f"{where}: no warning"
            if s.warn_before is not None:
                assert s.warn_before.unit == s.time_limit.unit, where
                assert s.warn_before.amount < s.time_limit.amount, where
            if s.extension is not None:
                # The law allows at most half the limit again (20 + 10, 45 + 15, 3 + 3).
                assert s.extension.approx_minutes() <= s.time_limit.approx_minutes(), where


def test_statutory_and_promised_limits(bundles: dict[str, Bundle]) -> None:
    work_permit = bundles["foreigner-work-permit.yaml"].step("work-permit")
    assert (work_permit.time_limit.amount, work_permit.time_limit.unit) == (20, "working_days")
    assert work_permit.extension is not None and work_permit.extension.amount == 10
    startup = bundles["personal-startup.yaml"]
    for s in startup.steps:
        if s.mode == StepMode.manual:
            assert s.time_limit.unit == TimeUnit.working_days
            assert s.time_limit.amount <= 5, f"个人创业 promises 5 working days: {s.id}"
    investment = bundles["investment-project-approval.yaml"]
    assert (investment.promised_limit.amount, investment.promised_limit.unit) == (
        45,
        "working_days",
    )


def test_a_manual_step_escalates_within_minutes_for_the_demo(bundles: dict[str, Bundle]) -> None:
    quick = [
        (f, s.id)
        for f, b in bundles.items()
        for s in b.steps
        if s.mode == StepMode.manual
        and s.on_timeout == OnTimeout.escalate
        and s.time_limit.unit == TimeUnit.minutes
        and s.escalation is not None
        and s.escalation.elevate_after.unit == TimeUnit.minutes
    ]
    assert quick, "onething demo needs a manual step whose whole ladder runs in minutes"


# --- the project validator -----------------------------------------------------------------


def test_all_bundles_pass_the_validator_without_warnings() -> None:
    departments = load_departments(DEPARTMENTS_FILE)
    loaded, issues = validate_paths(_bundle_files(), departments)
    assert [str(i) for i in issues] == []
    assert len(loaded) == 18
