"""Readable, step-level differences between two versions of a bundle definition.

Fields are compared generically (every field of the schema models), so a field added to the
schema later shows up in diffs without a change here; only the rendering of values is special.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Literal

from pydantic import BaseModel

from definitions.schema import Bundle, Duration, Escalation, FormField, Material, Step

ChangeKind = Literal["added", "removed", "changed"]
_SIGN: dict[ChangeKind, str] = {"added": "+", "removed": "-", "changed": "~"}

# Long free text: say that it changed rather than printing both versions.
_LONG_TEXT_FIELDS = frozenset({"description", "legal_basis"})


class Change(BaseModel):
    """One difference. ``subject`` is what changed: "bundle", "step ID", "material ID", ..."""

    kind: ChangeKind
    subject: str
    field: str | None = None
    before: str | None = None
    after: str | None = None

    def __str__(self) -> str:
        sign = _SIGN[self.kind]
        if self.field is None:
            detail = f" ({self.after or self.before})" if (self.after or self.before) else ""
            return f"{sign} {self.subject}: {self.kind}{detail}"
        if self.before is None and self.after is None:
            return f"{sign} {self.subject}: {self.field} changed"
        if self.kind == "changed" and self.before is not None and self.after is not None:
            return f"{sign} {self.subject}: {self.field} {self.before} -> {self.after}"
        return f"{sign} {self.subject}: {self.field} {self.after or self.before}"


def render_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, Escalation):
        # Both intervals are measured from the previous rung (deadline, then 督办).
        supervise = f"+{value.supervise_after}" if value.supervise_after else "at deadline"
        return f"督办 {supervise}, 提级 +{value.elevate_after}"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return str(value)


def _fields_diff(
    subject: str, a: BaseModel, b: BaseModel, *, skip: Iterable[str] = ()
) -> list[Change]:
    changes: list[Change] = []
    skipped = set(skip)
    for name in type(a).model_fields:
        if name in skipped:
            continue
        va, vb = getattr(a, name), getattr(b, name)
        if va == vb:
            continue
        if name in _LONG_TEXT_FIELDS:
            changes.append(Change(kind="changed", subject=subject, field=name))
        elif (
            isinstance(va, list)
            and isinstance(vb, list)
            and all(isinstance(x, str) for x in [*va, *vb])
        ):
            changes.append(_set_change(subject, name, va, vb))
        else:
            changes.append(
                Change(
                    kind="changed",
                    subject=subject,
                    field=name,
                    before=render_value(va),
                    after=render_value(vb),
                )
            )
    return changes


def _set_change(subject: str, name: str, before: list[str], after: list[str]) -> Change:
    """A list of ids (dependencies, materials): say which were added and which removed."""
    added = [x for x in after if x not in before]
    removed = [x for x in before if x not in after]
    parts = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
    if not parts:  # same members, different order
        return Change(
            kind="changed",
            subject=subject,
            field=name,
            before=render_value(before),
            after=render_value(after),
        )
    return Change(kind="changed", subject=subject, field=name, after=" ".join(parts))


def _describe_step(step: Step) -> str:
    deps = f", after {', '.join(step.depends_on)}" if step.depends_on else ""
    return f"{step.department}, {step.mode.value}, {step.time_limit}{deps}"


def _keyed_diff(
    label: str,
    before: Sequence[Step | Material | FormField],
    after: Sequence[Step | Material | FormField],
    key: str,
) -> list[Change]:
    """Items matched by ``key``: a renamed id is a removal plus an addition, not a change."""
    old = {getattr(x, key): x for x in before}
    new = {getattr(x, key): x for x in after}
    changes: list[Change] = []
    for k in old:
        if k not in new:
            changes.append(Change(kind="removed", subject=f"{label} {k}"))
    for k, item in new.items():
        if k not in old:
            detail = _describe_step(item) if isinstance(item, Step) else _describe_other(item)
            changes.append(Change(kind="added", subject=f"{label} {k}", after=detail))
    for k, item in new.items():
        if k in old:
            changes.extend(_fields_diff(f"{label} {k}", old[k], item, skip=(key,)))
    return changes


def _describe_other(item: Material | FormField) -> str:
    if isinstance(item, Material):
        return f"{item.name}, {'required' if item.required else 'optional'}"
    return f"{item.label}, {item.type.value}, {'required' if item.required else 'optional'}"


def diff(a: Bundle, b: Bundle) -> list[Change]:
    """What changed from ``a`` (older) to ``b`` (newer): bundle fields, materials, form, steps."""
    changes = _fields_diff("bundle", a, b, skip=("steps", "materials", "form"))
    changes += _keyed_diff("material", a.materials, b.materials, "id")
    changes += _keyed_diff("field", a.form, b.form, "name")
    changes += _keyed_diff("step", a.steps, b.steps, "id")
    return changes


def render(changes: list[Change]) -> list[str]:
    return [str(c) for c in changes]
