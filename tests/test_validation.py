"""Loading and validating bundle definitions: every issue names its path, line, column, reason.

Each test edits one line of a small valid bundle, so the expected position is the edited line
(found with :func:`at`, never by asking the code under test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from definitions.schema import Bundle, DepartmentRegistry
from definitions.validation import (
    DefinitionError,
    Issue,
    LoadedBundle,
    has_errors,
    load_bundle,
    load_departments,
    validate_bundle,
    validate_paths,
)

DEPARTMENTS = """\
departments:
  - code: 510100.civil
    name: 成都市民政局
    region: "510100"
  - code: 510100.police
    name: 成都市公安局
    region: "510100"
  - code: 500000.police
    name: 重庆市公安局
    region: "500000"
"""

BASE = """\
code: marriage-hukou
abbr: JHLH
name: 结婚落户
kind: personal
applicant_type: person
promised_limit: {amount: 10, unit: working_days}
materials:
  - id: marriage-cert
    name: 结婚证
form:
  - name: spouse_name
    label: 配偶姓名
steps:
  - id: marriage
    item: 结婚登记
    department: 510100.civil
    mode: manual
    materials: [marriage-cert]
    time_limit: {amount: 5, unit: working_days}
    warn_before: {amount: 1, unit: working_days}
    escalation:
      elevate_after: {amount: 2, unit: working_days}
  - id: hukou
    item: 户口迁入
    department: 510100.police
    mode: automatic
    depends_on: [marriage]
    time_limit: {amount: 2, unit: hours}
    on_timeout: deem_approved
"""

EXTRA_STEP = """\
  - id: {id}
    item: 核查
    department: 510100.police
    mode: automatic
    depends_on: [{deps}]
    time_limit: {{amount: 1, unit: hours}}
    on_timeout: reject
"""


def at(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) where ``needle`` starts in ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.fixture
def departments(tmp_path: Path) -> DepartmentRegistry:
    path = tmp_path / "departments.yaml"
    path.write_text(DEPARTMENTS, encoding="utf-8")
    return load_departments(path)


def write(tmp_path: Path, text: str, name: str = "bundle.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(tmp_path: Path, text: str, departments: DepartmentRegistry) -> list[Issue]:
    with pytest.raises(DefinitionError) as info:
        load_bundle(write(tmp_path, text), departments)
    return info.value.issues


def only_issue(tmp_path: Path, text: str, departments: DepartmentRegistry) -> Issue:
    issues = issues_of(tmp_path, text, departments)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def check(issue: Issue, *, path: str, where: tuple[int, int], message: str) -> None:
    assert (issue.path, (issue.line, issue.column), issue.message) == (path, where, message)


# --- valid ---------------------------------------------------------------------------------


def test_valid_minimal_bundle_loads(tmp_path: Path, departments: DepartmentRegistry) -> None:
    path = write(tmp_path, BASE)
    loaded = load_bundle(path, departments)
    assert isinstance(loaded, LoadedBundle)
    assert loaded.bundle.code == "marriage-hukou"
    assert loaded.bundle.step("hukou").depends_on == ["marriage"]
    assert loaded.source_yaml == BASE
    assert loaded.path == str(path)
    assert loaded.warnings == []


def test_issue_and_error_formatting() -> None:
    issue = Issue(
        file="definitions/bundles/x.yaml",
        line=12,
        column=5,
        path="steps[2].depends_on[0]",
        message="depends on unknown step 'foo'",
    )
    assert str(issue) == (
        "definitions/bundles/x.yaml:12:5: steps[2].depends_on[0]: depends on unknown step 'foo'"
    )
    warning = Issue(file="x.yaml", path="promised_limit", message="short", severity="warning")
    assert str(warning) == "x.yaml: warning: promised_limit: short"
    err = DefinitionError([issue, warning])
    assert str(err).splitlines() == [str(issue), str(warning)]
    assert has_errors([issue]) and not has_errors([warning])
    with pytest.raises(Exception, match="frozen"):
        issue.line = 3  # type: ignore[misc]  # assigning to a frozen model is the point here


# --- YAML and structure --------------------------------------------------------------------


def test_yaml_syntax_error_has_line(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("depends_on: [marriage]", "depends_on: [marriage")
    issue = only_issue(tmp_path, text, departments)
    assert issue.line == at(text, "    time_limit: {amount: 2")[0]
    assert issue.path == ""
    assert issue.column == 15
    opened = at(text, "depends_on: [marriage")[0]
    assert issue.message == (
        "YAML syntax error: expected ',' or ']', but got ':' "
        f"(while parsing a flow sequence at line {opened})"
    )


def test_yaml_duplicate_key_is_an_error(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("kind: personal\n", "kind: personal\nkind: enterprise\n")
    issue = only_issue(tmp_path, text, departments)
    assert (issue.line, issue.column) == at(text, "kind: enterprise")
    assert 'found duplicate key "kind"' in issue.message


def test_empty_file(tmp_path: Path, departments: DepartmentRegistry) -> None:
    issue = only_issue(tmp_path, "# nothing yet\n", departments)
    assert (issue.line, issue.message) == (1, "the file is empty")


def test_document_must_be_a_mapping(tmp_path: Path, departments: DepartmentRegistry) -> None:
    issue = only_issue(tmp_path, "- a\n- b\n", departments)
    check(issue, path="", where=(1, 1), message="must be a mapping, got a list")


def test_unreadable_and_non_utf8_files(tmp_path: Path, departments: DepartmentRegistry) -> None:
    with pytest.raises(DefinitionError, match=r"missing\.yaml: cannot read file"):
        load_bundle(tmp_path / "missing.yaml", departments)
    bad = tmp_path / "gbk.yaml"
    bad.write_bytes("name: 结婚落户\n".encode("gbk"))
    with pytest.raises(DefinitionError, match="not valid UTF-8"):
        load_bundle(bad, departments)


def test_unknown_key_suggests_closest(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("depends_on: [marriage]", "depnds_on: [marriage]")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].depnds_on",
        where=at(text, "depnds_on"),
        message="unknown key 'depnds_on' (did you mean 'depends_on'?)",
    )
    assert str(issue).startswith(f"{tmp_path / 'bundle.yaml'}:{issue.line}:5: steps[1].depnds_on")


def test_unknown_key_without_close_match_lists_keys(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit("{amount: 2, unit: hours}", "{amount: 2, unit: hours, zz: 1}")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].time_limit.zz",
        where=at(text, "zz: 1"),
        message="unknown key 'zz' (allowed keys: amount, unit)",
    )


def test_wrong_type(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("{amount: 5, unit: working_days}", "{amount: five, unit: working_days}")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].time_limit.amount",
        where=at(text, "five"),
        message="must be an integer, got 'five'",
    )


def test_unquoted_number_for_string_hints_quoting(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit("name: 结婚落户", "name: 520")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="name",
        where=at(text, "520"),
        message='must be a string, got the number 520 (quote it: "520")',
    )


def test_non_positive_amount(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("{amount: 2, unit: hours}", "{amount: 0, unit: hours}")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].time_limit.amount",
        where=at(text, "0, unit: hours"),
        message="must be positive, got 0",
    )


def test_bad_pattern(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("department: 510100.civil", "department: civil")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].department",
        where=at(text, "civil\n"),
        message="must be a region-qualified department code such as '510100.market', got 'civil'",
    )


def test_bad_enum_value_suggests(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("mode: manual", "mode: manul")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].mode",
        where=at(text, "manul"),
        message="invalid value 'manul' (did you mean 'manual'?); "
        "expected one of: manual, automatic",
    )


def test_missing_key_points_at_its_mapping(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("    item: 户口迁入\n", "")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].item",
        where=at(text, "id: hukou"),
        message="missing required key 'item'",
    )


def test_empty_steps(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = BASE.split("steps:")[0] + "steps: []\n"
    issue = only_issue(tmp_path, text, departments)
    check(issue, path="steps", where=at(text, "[]"), message="must have at least 1 item")


def test_all_structural_errors_reported_in_line_order(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit("abbr: JHLH", "abbr: jhlh")
    text = edit("mode: automatic", "mode: auto", text)
    text = edit(
        "    on_timeout: deem_approved", "    on_timeout: deem_approved\n    retries: 3", text
    )
    issues = issues_of(tmp_path, text, departments)
    assert [(i.path, i.line) for i in issues] == [
        ("abbr", at(text, "jhlh")[0]),
        ("steps[1].mode", at(text, "auto\n")[0]),
        ("steps[1].retries", at(text, "retries")[0]),
    ]
    assert issues[0].message == "must be 2 to 8 uppercase letters, got 'jhlh'"


def test_unquoted_date_for_string_hints_quoting(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit("name: 结婚落户", "name: 2026-01-01")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="name",
        where=at(text, "2026-01-01"),
        message='must be a string, got the date 2026-01-01 (quote it: "2026-01-01")',
    )


def test_anchors_and_merge_keys_are_located(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit(
        "time_limit: {amount: 5, unit: working_days}",
        "time_limit: &limit {amount: 5, unit: working_days, unti: 1}",
    )
    text = edit("time_limit: {amount: 2, unit: hours}", "time_limit:\n      <<: *limit", text)
    issues = issues_of(tmp_path, text, departments)
    # The merged key has no position of its own, so it points at the merging mapping.
    assert [(i.path, (i.line, i.column), i.message) for i in issues] == [
        ("steps[0].time_limit.unti", at(text, "unti"), "unknown key 'unti' (did you mean 'unit'?)"),
        ("steps[1].time_limit.unti", at(text, "<<"), "unknown key 'unti' (did you mean 'unit'?)"),
    ]


def test_non_text_key_is_an_unknown_key(tmp_path: Path, departments: DepartmentRegistry) -> None:
    issue = only_issue(tmp_path, BASE + "1: x\n", departments)
    assert (issue.path, issue.line) == ("1", 1)
    assert issue.message.startswith("unknown key '1' (allowed keys: code, abbr, name,")


# --- semantic checks -----------------------------------------------------------------------


def test_unknown_department(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("department: 510100.police", "department: 510100.polic")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].department",
        where=at(text, "510100.polic\n"),
        message="unknown department '510100.polic' (did you mean '510100.police'?)",
    )


def test_duplicate_step_id(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = BASE + EXTRA_STEP.format(id="hukou", deps="marriage")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[2].id",
        where=at(text, "hukou\n    item: 核查"),
        message="duplicate step id 'hukou' (first defined at steps[1])",
    )


def test_dependency_on_unknown_step(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("depends_on: [marriage]", "depends_on: [marrige]")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].depends_on[0]",
        where=at(text, "marrige"),
        message="depends on unknown step 'marrige' (did you mean 'marriage'?)",
    )


def test_self_dependency(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("depends_on: [marriage]", "depends_on: [marriage, hukou]")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[1].depends_on[1]",
        where=at(text, "hukou]"),
        message="step 'hukou' depends on itself",
    )


def test_dependency_cycle_is_printed(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("    mode: manual\n", "    mode: manual\n    depends_on: [c]\n")
    text += EXTRA_STEP.format(id="b", deps="marriage") + EXTRA_STEP.format(id="c", deps="b")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].depends_on",
        where=at(text, "[c]"),
        message="dependency cycle: marriage -> c -> b -> marriage",
    )


def test_two_cycles_reported_once_each(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = BASE + EXTRA_STEP.format(id="a", deps="b") + EXTRA_STEP.format(id="b", deps="a")
    text += EXTRA_STEP.format(id="c", deps="d") + EXTRA_STEP.format(id="d", deps="c")
    messages = [i.message for i in issues_of(tmp_path, text, departments)]
    assert messages == ["dependency cycle: a -> b -> a", "dependency cycle: c -> d -> c"]


def test_warn_before_not_shorter_same_unit(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("warn_before: {amount: 1,", "warn_before: {amount: 5,")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].warn_before",
        where=at(text, "{amount: 5, unit: working_days}", occurrence=2),
        message="warn_before (5 working_days) must be shorter than time_limit (5 working_days), "
        "or the warning fires before the step starts",
    )


@pytest.mark.parametrize(("hours", "ok"), [(119, True), (120, False)])
def test_warn_before_compares_units(
    tmp_path: Path, departments: DepartmentRegistry, hours: int, ok: bool
) -> None:
    text = edit(
        "warn_before: {amount: 1, unit: working_days}",
        f"warn_before: {{amount: {hours}, unit: hours}}",
    )
    if ok:
        assert load_bundle(write(tmp_path, text), departments).warnings == []
    else:
        issue = only_issue(tmp_path, text, departments)
        assert (issue.path, issue.line) == ("steps[0].warn_before", at(text, "warn_before")[0])


def test_escalate_requires_ladder(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit(
        "    escalation:\n      elevate_after: {amount: 2, unit: working_days}\n",
        "    on_timeout: escalate\n",
    )
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].escalation",
        where=at(text, "id: marriage\n"),
        message="escalation ladder required when on_timeout is 'escalate'",
    )


def test_ladder_without_escalate_is_a_warning(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    ladder = "    escalation: {elevate_after: {amount: 1, unit: hours}}\n"
    text = edit("    on_timeout: deem_approved\n", "    on_timeout: deem_approved\n" + ladder)
    loaded = load_bundle(write(tmp_path, text), departments)
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert warning.severity == "warning"
    check(
        warning,
        path="steps[1].escalation",
        where=at(text, "{elevate_after"),
        message="escalation ladder is ignored: on_timeout is 'deem_approved', "
        "it only applies with on_timeout 'escalate'",
    )


def test_material_used_by_no_step(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("    materials: [marriage-cert]\n", "")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="materials[0]",
        where=at(text, "id: marriage-cert"),
        message="material 'marriage-cert' is used by no step",
    )


def test_step_needs_undeclared_material(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("materials: [marriage-cert]", "materials: [marriage-cert, hukou-book]")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="steps[0].materials[1]",
        where=at(text, "hukou-book"),
        message="needs undeclared material 'hukou-book'",
    )


def test_duplicate_material_id(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit(
        "    name: 结婚证\n", "    name: 结婚证\n  - id: marriage-cert\n    name: 结婚证副本\n"
    )
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="materials[1].id",
        where=at(text, "marriage-cert", occurrence=2),
        message="duplicate material id 'marriage-cert' (first defined at materials[0])",
    )


def test_duplicate_form_field(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit(
        "    label: 配偶姓名\n", "    label: 配偶姓名\n  - name: spouse_name\n    label: 另一配偶\n"
    )
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="form[1].name",
        where=at(text, "spouse_name", occurrence=2),
        message="duplicate form field name 'spouse_name' (first defined at form[0])",
    )


def test_form_pattern_must_compile(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("    label: 配偶姓名\n", "    label: 配偶姓名\n    pattern: '^[a-z+$'\n")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="form[0].pattern",
        where=at(text, "'^[a-z+$'"),
        message="invalid regular expression: unterminated character set at position 1",
    )


def test_pattern_only_on_string_like(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit(
        "    label: 配偶姓名\n", "    label: 配偶姓名\n    type: integer\n    pattern: '^1'\n"
    )
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="form[0].pattern",
        where=at(text, "'^1'"),
        message="pattern only applies to string-like fields (id_number, phone, string, uscc), "
        "not to type 'integer'",
    )


@pytest.mark.parametrize("choices", ["", "    choices: []\n"])
def test_choice_requires_choices(
    tmp_path: Path, departments: DepartmentRegistry, choices: str
) -> None:
    text = edit("    label: 配偶姓名\n", "    label: 配偶姓名\n    type: choice\n" + choices)
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="form[0].choices",
        where=at(text, "[]") if choices else at(text, "name: spouse_name"),
        message="choices required and must not be empty for a field of type 'choice'",
    )


def test_choices_only_for_choice(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("    label: 配偶姓名\n", "    label: 配偶姓名\n    choices: [a, b]\n")
    issue = only_issue(tmp_path, text, departments)
    check(
        issue,
        path="form[0].choices",
        where=at(text, "[a, b]"),
        message="choices only apply to type 'choice', not to type 'string'",
    )


def test_promised_limit_shorter_than_a_step_is_a_warning(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit("promised_limit: {amount: 10,", "promised_limit: {amount: 4,")
    loaded = load_bundle(write(tmp_path, text), departments)
    assert [str(w) for w in loaded.warnings] == [
        f"{tmp_path / 'bundle.yaml'}:6:17: warning: promised_limit: promised_limit "
        "(4 working_days) is shorter than the longest step time_limit (5 working_days)"
    ]


def test_all_semantic_errors_reported(tmp_path: Path, departments: DepartmentRegistry) -> None:
    text = edit("department: 510100.civil", "department: 510100.nowhere")
    text = edit("depends_on: [marriage]", "depends_on: [ghost]", text)
    text = edit("materials: [marriage-cert]", "materials: [marriage-cert, photo]", text)
    with pytest.raises(DefinitionError) as info:
        load_bundle(write(tmp_path, text), departments)
    assert [(i.path, i.line) for i in info.value.issues] == [
        ("steps[0].department", at(text, "510100.nowhere")[0]),
        ("steps[0].materials[1]", at(text, "photo")[0]),
        ("steps[1].depends_on[0]", at(text, "ghost")[0]),
    ]
    assert len(str(info.value).splitlines()) == 3


def test_validate_bundle_on_a_model_gives_paths_only(departments: DepartmentRegistry) -> None:
    bundle = Bundle.model_validate(
        {
            "code": "x",
            "abbr": "XX",
            "name": "x",
            "kind": "personal",
            "applicant_type": "person",
            "promised_limit": {"amount": 1},
            "steps": [
                {
                    "id": "a",
                    "item": "a",
                    "department": "510100.zzz",
                    "mode": "automatic",
                    "time_limit": {"amount": 1},
                    "on_timeout": "reject",
                }
            ],
        }
    )
    assert validate_bundle(bundle, departments) == [
        Issue(file="", path="steps[0].department", message="unknown department '510100.zzz'")
    ]


# --- departments ---------------------------------------------------------------------------


def test_department_registry_errors(tmp_path: Path) -> None:
    text = DEPARTMENTS + '  - code: 510100.civil\n    name: 又一个\n    region: "510000"\n'
    path = write(tmp_path, text, "departments.yaml")
    with pytest.raises(DefinitionError) as info:
        load_departments(path)
    issues = info.value.issues
    check(
        issues[0],
        path="departments[3].code",
        where=at(text, "510100.civil", occurrence=2),
        message="duplicate department code '510100.civil' (first defined at departments[0])",
    )
    check(
        issues[1],
        path="departments[3].region",
        where=at(text, '"510000"'),
        message="region '510000' does not match the prefix '510100' of department code "
        "'510100.civil'",
    )
    assert len(issues) == 2


def test_department_registry_structure(tmp_path: Path) -> None:
    text = edit('region: "510100"', "region: 5101", DEPARTMENTS)
    with pytest.raises(DefinitionError) as info:
        load_departments(write(tmp_path, text, "departments.yaml"))
    [issue] = info.value.issues
    check(
        issue,
        path="departments[0].region",
        where=at(text, "5101\n"),
        message='must be a string, got the number 5101 (quote it: "5101")',
    )


# --- many files ----------------------------------------------------------------------------


def test_validate_paths_cross_file_duplicates(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    a = write(tmp_path, BASE, "a.yaml")
    b = write(tmp_path, edit("abbr: JHLH", "abbr: JHLH"), "b.yaml")  # same code and abbr
    c = write(tmp_path, edit("code: marriage-hukou", "code: other"), "c.yaml")  # same abbr
    broken = write(tmp_path, edit("mode: manual", "mode: x"), "d.yaml")
    loaded, issues = validate_paths([a, b, c, broken], departments)
    assert [lb.path for lb in loaded] == [str(a), str(b), str(c)]
    assert [(i.file, i.path, i.line, i.message) for i in issues] == [
        (
            str(b),
            "code",
            1,
            f"duplicate bundle code 'marriage-hukou' (also in {a})",
        ),
        (str(b), "abbr", 2, f"duplicate bundle abbr 'JHLH' (also in {a})"),
        (str(c), "abbr", 2, f"duplicate bundle abbr 'JHLH' (also in {a})"),
        (str(broken), "steps[0].mode", at(BASE, "mode: manual")[0], issues[3].message),
    ]
    assert has_errors(issues)


def test_validate_paths_reads_a_file_once(tmp_path: Path, departments: DepartmentRegistry) -> None:
    path = write(tmp_path, BASE)
    loaded, issues = validate_paths([path, tmp_path / "." / "bundle.yaml"], departments)
    assert (len(loaded), issues) == (1, [])


def test_validate_paths_clean_run_returns_warnings_only(
    tmp_path: Path, departments: DepartmentRegistry
) -> None:
    text = edit("promised_limit: {amount: 10,", "promised_limit: {amount: 1,")
    loaded, issues = validate_paths([write(tmp_path, text)], departments)
    assert len(loaded) == 1
    assert [i.severity for i in issues] == ["warning"]
    assert not has_errors(issues)


# --- the real definitions ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent / "definitions"


def test_shipped_definitions_have_no_errors() -> None:
    registry = load_departments(ROOT / "departments.yaml")
    paths = sorted((ROOT / "bundles").glob("*.yaml"))
    assert len(paths) == 18, "the seed has 18 bundles"
    loaded, issues = validate_paths(paths, registry)
    assert [str(i) for i in issues if i.severity == "error"] == []
    assert len(loaded) == len(paths)
