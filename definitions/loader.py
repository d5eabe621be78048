"""YAML parsing that keeps locations, and translation of pydantic errors into located issues.

Definitions are authored by hand, so every problem must point at a file, line and column
(1-based) and say in words what is wrong. ruamel.yaml's round-trip loader keeps the position
of every key, value and list item (``.lc``); an issue's ``path`` ("steps[2].depends_on[0]")
is walked through that tree to find its position.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class Issue(BaseModel):
    """One problem in a definition, located as precisely as the source allows."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None = None
    column: int | None = None
    path: str = ""
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where] if where else []
        if self.severity == "warning":
            parts.append("warning")
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class DefinitionError(Exception):
    """Raised with every issue found, so an author fixes a file in one round."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def has_errors(issues: Sequence[Issue]) -> bool:
    return any(i.severity == "error" for i in issues)


def sort_issues(issues: Sequence[Issue]) -> list[Issue]:
    """File order, then source order; issues without a line keep their place at the end."""
    return sorted(
        issues,
        key=lambda i: (i.file, i.line is None, i.line or 0, i.column or 0),
    )


# --- paths -----------------------------------------------------------------------------

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def parse_path(path: str) -> Loc:
    """Inverse of :func:`format_loc` ("steps[2].id" -> ("steps", 2, "id"))."""
    return tuple(int(index) if index else key for key, index in _PATH_PART.findall(path))


# --- YAML ------------------------------------------------------------------------------


def read_text(path: str, source: bytes) -> tuple[str | None, list[Issue]]:
    try:
        return source.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return None, [Issue(file=path, message=f"file is not valid UTF-8: {exc.reason}")]


def parse_yaml(text: str, *, file: str) -> tuple[Any, list[Issue]]:
    """Round-trip parse (positions kept); a syntax error becomes an issue at its line."""
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = str(exc.problem or "invalid YAML")
        if exc.context:
            started = exc.context_mark
            # The opening of an unclosed construct is often far above the reported line.
            elsewhere = started is not None and (mark is None or started.line != mark.line)
            reason += f" ({exc.context}" + (f" at line {started.line + 1})" if elsewhere else ")")
        return None, [
            Issue(
                file=file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                message=f"YAML syntax error: {reason}",
            )
        ]
    except YAMLError as exc:  # errors without a mark (rare) still must not escape as tracebacks
        return None, [Issue(file=file, message=f"YAML syntax error: {exc}")]
    if data is None:
        return None, [Issue(file=file, line=1, column=1, message="the file is empty")]
    return data, []


def to_plain(node: Any) -> Any:
    """ruamel's comment-carrying containers and scalar subclasses -> plain Python values."""
    if isinstance(node, dict):
        # Keys become text so a stray `1:` or `null:` is reported as an unknown key.
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _position(node: CommentedMap, key: Any, *, key_itself: bool) -> tuple[int, int]:
    """0-based position of a key (or of its value) in a mapping."""
    try:
        # An empty value has no position of its own (ruamel reports the next line), so
        # callers ask for the key instead.
        pos = node.lc.key(key) if key_itself else node.lc.value(key)
    except KeyError:
        pos = None
    if pos is None:
        # A key merged in with `<<: *anchor` has no position in this mapping.
        return node.lc.line, node.lc.col
    return pos[0], pos[1]


def locate(root: Any, loc: Loc, *, at_key: bool = False) -> tuple[int | None, int | None]:
    """1-based line and column of ``loc`` in a round-trip tree.

    ``at_key`` points at the key itself (an unknown key) rather than at its value. A path
    that does not exist (a missing key) resolves to the deepest node that does.
    """
    node = root
    line: int | None = None
    column: int | None = None
    if isinstance(root, CommentedMap | CommentedSeq):
        line, column = root.lc.line + 1, root.lc.col + 1
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            ln, col = _position(node, part, key_itself=(last and at_key) or node[part] is None)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            ln, col = node.lc.item(part)
            node = node[part]
        else:
            break
        line, column = ln + 1, col + 1
    return line, column


# --- pydantic errors -------------------------------------------------------------------

# Human descriptions of the schema's patterns (keyed by the regex pydantic reports).
PATTERN_MEANINGS: dict[str, str] = {
    r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$": (
        "must be a slug: lowercase letters and digits in words joined by single hyphens, "
        "starting with a letter"
    ),
    r"^\d{6}$": "must be a 6-digit region code (行政区划代码)",
    r"^\d{6}\.[a-z][a-z0-9-]*$": (
        "must be a region-qualified department code such as '510100.market'"
    ),
    r"^[A-Z]{2,8}$": "must be 2 to 8 uppercase letters",
    r"^[a-z][a-z0-9_]*$": (
        "must be snake_case: lowercase letters, digits and underscores, starting with a letter"
    ),
}

_TYPE_NAMES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional to reach the type that validates the value."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            non_none = [a for a in get_args(annotation) if a is not type(None)]
            if len(non_none) != 1:
                return annotation
            annotation = non_none[0]
        else:
            return annotation


def type_at(model: type[BaseModel], loc: Loc) -> Any:
    """The schema type that validates the value at ``loc`` (None when it cannot be told)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            if get_origin(current) is not list:
                return None
            current = get_args(current)[0]
        else:
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return None
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
    return _unwrap(current)


def suggest(word: str, candidates: Sequence[str], *, cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' when a candidate is close, else ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def error_message(model: type[BaseModel], err: ErrorDetails) -> str:
    kind = err["type"]
    loc: Loc = tuple(err["loc"])
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        parent = type_at(model, loc[:-1])
        known = (
            list(parent.model_fields)
            if isinstance(parent, type) and issubclass(parent, BaseModel)
            else []
        )
        hint = suggest(key, known)
        if not hint and known:
            hint = f" (allowed keys: {', '.join(known)})"
        return f"unknown key '{key}'{hint}"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'" if loc else "missing value"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        meaning = PATTERN_MEANINGS.get(pattern, f"must match the pattern {pattern}")
        return f"{meaning}, got {_describe(value)}"
    if kind in ("greater_than", "greater_than_equal"):
        bound = ctx.get("gt", ctx.get("ge"))
        if kind == "greater_than" and bound == 0:
            return f"must be positive, got {_describe(value)}"
        op = ">" if kind == "greater_than" else ">="
        return f"must be {op} {bound}, got {_describe(value)}"
    if kind == "enum":
        target = type_at(model, loc)
        allowed = (
            [str(m.value) for m in target]
            if isinstance(target, type) and issubclass(target, Enum)
            else []
        )
        hint = suggest(str(value), allowed) if isinstance(value, str) else ""
        listing = ", ".join(allowed) if allowed else str(ctx.get("expected", ""))
        return f"invalid value {_describe(value)}{hint}; expected one of: {listing}"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else err["msg"].lower()
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"must have at least {n} item{'s' if n != 1 else ''}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        # YAML reads an unquoted 510000 as a number; the fix is to quote it.
        return f'must be a string, got the number {value} (quote it: "{value}")'
    if kind == "string_type" and isinstance(value, date):
        return f'must be a string, got the date {value.isoformat()} (quote it: "{value}")'
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]}, got {_describe(value)}"
    return f"{err['msg']}, got {_describe(value)}"


def validation_issues(
    model: type[BaseModel], exc: ValidationError, *, file: str, root: Any
) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        line, column = locate(root, loc, at_key=err["type"] == "extra_forbidden")
        issues.append(
            Issue(
                file=file,
                line=line,
                column=column,
                path=format_loc(loc),
                message=error_message(model, err),
            )
        )
    return issues


def parse_model(model: type[M], text: str, *, file: str) -> tuple[M | None, Any, list[Issue]]:
    """YAML text -> validated model, the round-trip tree (for locating) and the issues."""
    root, issues = parse_yaml(text, file=file)
    if issues:
        return None, None, issues
    try:
        return model.model_validate(to_plain(root)), root, []
    except ValidationError as exc:
        return None, root, validation_issues(model, exc, file=file, root=root)


def locate_issues(issues: Sequence[Issue], *, file: str, root: Any) -> list[Issue]:
    """Give path-only issues (from semantic checks) their file and YAML position."""
    located = []
    for issue in issues:
        line, column = locate(root, parse_path(issue.path))
        located.append(issue.model_copy(update={"file": file, "line": line, "column": column}))
    return located
