"""预审 (pre-review): the checks a submission must pass before any department sees it.

Pure functions over a bundle definition; each returns every problem it finds as
(field, reason) so the applicant can fix them all at once. Reasons never echo the submitted
value, since it may be personal data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, NamedTuple

from definitions.schema import Bundle, FieldType, FormField
from onething.identifiers import (
    InvalidIdentifier,
    is_known_province,
    validate_applicant,
    validate_resident_id,
    validate_uscc,
)
from workflows.models import Channel

CHANNELS = tuple(c.value for c in Channel)
_REGION = re.compile(r"^\d{6}$")
# Mainland mobile numbers, or a landline with its area code (0xx-xxxxxxxx).
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REQUEST_ID_MAX = 128


class Problem(NamedTuple):
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def check_region(region: str) -> list[Problem]:
    if not _REGION.fullmatch(region):
        return [Problem("region", "must be a 6-digit administrative division code, e.g. 510100")]
    if not is_known_province(region[:2]):
        return [Problem("region", f"unknown province-level code {region[:2]} (digits 1-2)")]
    return []


def check_channel(channel: str) -> list[Problem]:
    if channel not in CHANNELS:
        return [Problem("channel", f"must be one of {', '.join(CHANNELS)}")]
    return []


def check_request_id(request_id: str | None) -> list[Problem]:
    if request_id is None:
        return []
    if not request_id.strip():
        return [Problem("request_id", "must not be empty")]
    if len(request_id) > REQUEST_ID_MAX:
        return [Problem("request_id", f"must be at most {REQUEST_ID_MAX} characters")]
    return []


def check_applicant_name(name: str) -> list[Problem]:
    if not name.strip():
        return [Problem("applicant_name", "must not be empty")]
    if len(name) > 100:
        return [Problem("applicant_name", "must be at most 100 characters")]
    return []


def check_applicant_id(bundle: Bundle, applicant_id: str) -> list[Problem]:
    try:
        validate_applicant(bundle.applicant_type, applicant_id)
    except InvalidIdentifier as exc:
        who = {"person": "a person", "enterprise": "an enterprise"}.get(
            bundle.applicant_type.value, "a person or an enterprise"
        )
        return [Problem("applicant_id", f"invalid {exc.kind} for {who}: {exc.reason}")]
    return []


def _id_checker(kind: FieldType) -> Callable[[str], object]:
    return validate_resident_id if kind is FieldType.id_number else validate_uscc


def _check_type(spec: FormField, value: Any) -> str | None:
    """The reason ``value`` does not fit ``spec``, or None."""
    kind = spec.type
    # JSON booleans are ints in Python; an integer field must not accept `true`.
    if kind is FieldType.integer:
        return None if isinstance(value, int) and not isinstance(value, bool) else "not an integer"
    if kind is FieldType.number:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "not a number"
    if kind is FieldType.boolean:
        return None if isinstance(value, bool) else "not true or false"
    if not isinstance(value, str):
        return "not a string"
    if kind is FieldType.date:
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            return "not a date in the form YYYY-MM-DD"
    elif kind is FieldType.choice:
        choices = spec.choices or []
        if value not in choices:
            return f"must be one of {', '.join(choices)}"
    elif kind is FieldType.phone:
        if not _PHONE.fullmatch(value):
            return "not a phone number (11-digit mobile or landline with area code)"
    elif kind in (FieldType.id_number, FieldType.uscc):
        try:
            _id_checker(kind)(value)
        except InvalidIdentifier as exc:
            return f"invalid {exc.kind}: {exc.reason}"
    elif kind is FieldType.string and not value.strip() and spec.required:
        return "must not be empty"
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        return f"does not match the pattern {spec.pattern}"
    return None


def check_form(bundle: Bundle, form: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    specs = {f.name: f for f in bundle.form}
    for name in form:
        if name not in specs:
            problems.append(Problem(f"form.{name}", "unknown field for this bundle"))
    for spec in bundle.form:
        value = form.get(spec.name)
        if value is None:
            if spec.required:
                problems.append(Problem(f"form.{spec.name}", f"required ({spec.label})"))
            continue
        reason = _check_type(spec, value)
        if reason:
            problems.append(Problem(f"form.{spec.name}", f"{reason} ({spec.label})"))
    return problems


def check_materials(bundle: Bundle, materials: Iterable[str]) -> list[Problem]:
    given = list(materials)
    known = {m.id: m for m in bundle.materials}
    problems = [
        Problem(f"materials.{m}", "unknown material for this bundle")
        for m in dict.fromkeys(given)
        if m not in known
    ]
    problems += [
        Problem(f"materials.{m.id}", f"required material missing ({m.name})")
        for m in bundle.materials
        if m.required and m.id not in given
    ]
    return problems


def review(
    bundle: Bundle, *, applicant_id: str, form: Mapping[str, Any], materials: Iterable[str]
) -> list[Problem]:
    """Everything that depends on the bundle definition."""
    return (
        check_applicant_id(bundle, applicant_id)
        + check_form(bundle, form)
        + check_materials(bundle, materials)
    )
