"""Loading and validating bundle definitions and the department registry.

Two layers: the schema (:mod:`definitions.schema`) checks each value on its own; the checks
here need the whole bundle or the registry (dependencies, cycles, materials, departments).
Both report :class:`Issue` objects that name the file, the YAML line and column, the path
and the reason. Warnings never fail validation; errors do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from definitions.loader import (
    DefinitionError,
    Issue,
    has_errors,
    locate,
    locate_issues,
    parse_model,
    parse_yaml,
    read_text,
    sort_issues,
    suggest,
)
from definitions.schema import (
    Bundle,
    DepartmentRegistry,
    Duration,
    FieldType,
    OnTimeout,
    Step,
)

__all__ = [
    "DefinitionError",
    "Issue",
    "LoadedBundle",
    "has_errors",
    "load_bundle",
    "load_departments",
    "validate_bundle",
    "validate_departments",
    "validate_paths",
]

# A pattern narrows text; on numbers, dates, booleans or choices it would be meaningless.
STRING_LIKE_TYPES = frozenset(
    {FieldType.string, FieldType.id_number, FieldType.uscc, FieldType.phone}
)


class LoadedBundle(BaseModel):
    model_config = ConfigDict(frozen=True)

    bundle: Bundle
    source_yaml: str
    path: str
    warnings: list[Issue] = Field(default_factory=list)


def _issue(path: str, message: str, *, warning: bool = False) -> Issue:
    return Issue(file="", path=path, message=message, severity="warning" if warning else "error")


def _duplicate(path: str, what: str, value: str, first: str) -> Issue:
    return _issue(path, f"duplicate {what} '{value}' (first defined at {first})")


def shorter(a: Duration, b: Duration) -> bool:
    """a < b; the same unit compares amounts, different units their approximate length."""
    if a.unit == b.unit:
        return a.amount < b.amount
    return a.approx_minutes() < b.approx_minutes()


# --- semantic checks on one bundle -----------------------------------------------------


def _check_steps(bundle: Bundle, departments: DepartmentRegistry) -> list[Issue]:
    issues: list[Issue] = []
    known_departments = [d.code for d in departments.departments]
    first_index: dict[str, int] = {}
    for i, step in enumerate(bundle.steps):
        if step.id in first_index:
            issues.append(
                _duplicate(f"steps[{i}].id", "step id", step.id, f"steps[{first_index[step.id]}]")
            )
        else:
            first_index[step.id] = i
        if step.department not in known_departments:
            issues.append(
                _issue(
                    f"steps[{i}].department",
                    f"unknown department '{step.department}'"
                    # Codes share their region prefix, so only a near-identical one is a hint.
                    + suggest(step.department, known_departments, cutoff=0.75),
                )
            )
        issues.extend(_check_step_timing(i, step))
    for i, step in enumerate(bundle.steps):
        for k, dep in enumerate(step.depends_on):
            path = f"steps[{i}].depends_on[{k}]"
            if dep == step.id:
                issues.append(_issue(path, f"step '{step.id}' depends on itself"))
            elif dep not in first_index:
                issues.append(
                    _issue(path, f"depends on unknown step '{dep}'" + suggest(dep, [*first_index]))
                )
    issues.extend(_check_cycles(bundle))
    return issues


def _check_step_timing(i: int, step: Step) -> list[Issue]:
    issues: list[Issue] = []
    if step.warn_before is not None and not shorter(step.warn_before, step.time_limit):
        issues.append(
            _issue(
                f"steps[{i}].warn_before",
                f"warn_before ({step.warn_before}) must be shorter than "
                f"time_limit ({step.time_limit}), or the warning fires before the step starts",
            )
        )
    if step.on_timeout == OnTimeout.escalate and step.escalation is None:
        issues.append(
            _issue(
                f"steps[{i}].escalation",
                "escalation ladder required when on_timeout is 'escalate'",
            )
        )
    if step.on_timeout != OnTimeout.escalate and step.escalation is not None:
        issues.append(
            _issue(
                f"steps[{i}].escalation",
                f"escalation ladder is ignored: on_timeout is '{step.on_timeout.value}', "
                "it only applies with on_timeout 'escalate'",
                warning=True,
            )
        )
    return issues


def _check_cycles(bundle: Bundle) -> list[Issue]:
    """Report each dependency cycle once, starting at its earliest-defined step."""
    index: dict[str, int] = {}
    for i, s in enumerate(bundle.steps):
        index.setdefault(s.id, i)
    edges = {s.id: [d for d in s.depends_on if d in index and d != s.id] for s in bundle.steps}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []
    seen: set[tuple[str, ...]] = set()
    issues: list[Issue] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in edges[node]:
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :]
                start = min(range(len(cycle)), key=lambda j: index[cycle[j]])
                cycle = cycle[start:] + cycle[:start]
                if tuple(cycle) not in seen:
                    seen.add(tuple(cycle))
                    shown = " -> ".join([*cycle, cycle[0]])
                    issues.append(
                        _issue(f"steps[{index[cycle[0]]}].depends_on", f"dependency cycle: {shown}")
                    )
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for s in bundle.steps:
        if s.id not in state:
            visit(s.id)
    return issues


def _check_materials(bundle: Bundle) -> list[Issue]:
    issues: list[Issue] = []
    declared: dict[str, int] = {}
    for i, m in enumerate(bundle.materials):
        if m.id in declared:
            issues.append(
                _duplicate(
                    f"materials[{i}].id", "material id", m.id, f"materials[{declared[m.id]}]"
                )
            )
        else:
            declared[m.id] = i
    used: set[str] = set()
    for i, step in enumerate(bundle.steps):
        for k, mid in enumerate(step.materials):
            used.add(mid)
            if mid not in declared:
                issues.append(
                    _issue(
                        f"steps[{i}].materials[{k}]",
                        f"needs undeclared material '{mid}'" + suggest(mid, list(declared)),
                    )
                )
    for mid, i in declared.items():
        if mid not in used:
            issues.append(_issue(f"materials[{i}]", f"material '{mid}' is used by no step"))
    return issues


def _check_form(bundle: Bundle) -> list[Issue]:
    issues: list[Issue] = []
    names: dict[str, int] = {}
    for i, f in enumerate(bundle.form):
        if f.name in names:
            issues.append(
                _duplicate(f"form[{i}].name", "form field name", f.name, f"form[{names[f.name]}]")
            )
        else:
            names[f.name] = i
        if f.pattern is not None:
            if f.type not in STRING_LIKE_TYPES:
                allowed = ", ".join(sorted(t.value for t in STRING_LIKE_TYPES))
                issues.append(
                    _issue(
                        f"form[{i}].pattern",
                        f"pattern only applies to string-like fields ({allowed}), "
                        f"not to type '{f.type.value}'",
                    )
                )
            try:
                re.compile(f.pattern)
            except re.error as exc:
                issues.append(_issue(f"form[{i}].pattern", f"invalid regular expression: {exc}"))
        if f.type == FieldType.choice and not f.choices:
            issues.append(
                _issue(
                    f"form[{i}].choices",
                    "choices required and must not be empty for a field of type 'choice'",
                )
            )
        if f.type != FieldType.choice and f.choices is not None:
            issues.append(
                _issue(
                    f"form[{i}].choices",
                    f"choices only apply to type 'choice', not to type '{f.type.value}'",
                )
            )
    return issues


def _check_promise(bundle: Bundle) -> list[Issue]:
    longest = max((s.time_limit for s in bundle.steps), key=lambda d: d.approx_minutes())
    if shorter(bundle.promised_limit, longest):
        return [
            _issue(
                "promised_limit",
                f"promised_limit ({bundle.promised_limit}) is shorter than the longest "
                f"step time_limit ({longest})",
                warning=True,
            )
        ]
    return []


def validate_bundle(bundle: Bundle, departments: DepartmentRegistry) -> list[Issue]:
    """Checks that need the whole bundle and the registry; issues carry a path, no file."""
    return [
        *_check_steps(bundle, departments),
        *_check_materials(bundle),
        *_check_form(bundle),
        *_check_promise(bundle),
    ]


def validate_departments(registry: DepartmentRegistry) -> list[Issue]:
    issues: list[Issue] = []
    first: dict[str, int] = {}
    for i, d in enumerate(registry.departments):
        if d.code in first:
            issues.append(
                _duplicate(
                    f"departments[{i}].code",
                    "department code",
                    d.code,
                    f"departments[{first[d.code]}]",
                )
            )
        else:
            first[d.code] = i
        prefix = d.code.split(".", 1)[0]
        if d.region != prefix:
            issues.append(
                _issue(
                    f"departments[{i}].region",
                    f"region '{d.region}' does not match the prefix '{prefix}' "
                    f"of department code '{d.code}'",
                )
            )
    return issues


# --- files -----------------------------------------------------------------------------


def _read(path: Path) -> tuple[str | None, list[Issue]]:
    try:
        source = path.read_bytes()
    except OSError as exc:
        return None, [Issue(file=str(path), message=f"cannot read file: {exc.strerror or exc}")]
    return read_text(str(path), source)


def load_departments(path: Path) -> DepartmentRegistry:
    text, issues = _read(path)
    if text is None:
        raise DefinitionError(issues)
    registry, root, issues = parse_model(DepartmentRegistry, text, file=str(path))
    if registry is None:
        raise DefinitionError(sort_issues(issues))
    issues = locate_issues(validate_departments(registry), file=str(path), root=root)
    if has_errors(issues):
        raise DefinitionError(sort_issues(issues))
    return registry


def load_bundle(path: Path, departments: DepartmentRegistry) -> LoadedBundle:
    """Parse and fully validate one file; raises with every issue (warnings included)."""
    text, issues = _read(path)
    if text is None:
        raise DefinitionError(issues)
    bundle, root, issues = parse_model(Bundle, text, file=str(path))
    if bundle is None:
        # Semantic checks need a well-formed bundle, so they wait until the structure is fixed.
        raise DefinitionError(sort_issues(issues))
    issues = sort_issues(
        locate_issues(validate_bundle(bundle, departments), file=str(path), root=root)
    )
    if has_errors(issues):
        raise DefinitionError(issues)
    return LoadedBundle(bundle=bundle, source_yaml=text, path=str(path), warnings=issues)


def _cross_file_issues(loaded: Sequence[LoadedBundle]) -> list[Issue]:
    issues: list[Issue] = []
    for attr in ("code", "abbr"):
        first: dict[str, LoadedBundle] = {}
        for lb in loaded:
            value = getattr(lb.bundle, attr)
            if value in first:
                line, column = _position_in(lb, attr)
                issues.append(
                    Issue(
                        file=lb.path,
                        line=line,
                        column=column,
                        path=attr,
                        message=f"duplicate bundle {attr} '{value}' (also in {first[value].path})",
                    )
                )
            else:
                first[value] = lb
    return issues


def _position_in(lb: LoadedBundle, key: str) -> tuple[int | None, int | None]:
    # Re-parsing is cheap and keeps LoadedBundle free of the ruamel tree.
    root, _ = parse_yaml(lb.source_yaml, file=lb.path)
    return locate(root, (key,))


def validate_paths(
    paths: Sequence[Path], departments: DepartmentRegistry
) -> tuple[list[LoadedBundle], list[Issue]]:
    """Every file, plus duplicate bundle codes and abbreviations across files.

    Returns the bundles that loaded and every issue; the caller fails on any error.
    """
    loaded: list[LoadedBundle] = []
    issues: list[Issue] = []
    seen: set[Path] = set()
    for path in paths:
        # A shell glob and an explicit name may both list a file; it is not its own duplicate.
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        try:
            lb = load_bundle(path, departments)
        except DefinitionError as exc:
            issues.extend(exc.issues)
            continue
        loaded.append(lb)
        issues.extend(lb.warnings)
    issues.extend(_cross_file_issues(loaded))
    return loaded, sort_issues(issues)
