"""Readable text for ``onething case`` output: tables of steps, cases and history events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from definitions.validation import DefinitionError, load_departments
from onething.casecode import CST
from onething.caseops import CaseRow, HistoryLine
from onething.settings import get_settings
from workflows.models import CaseState, StepState


def department_names() -> dict[str, str]:
    """Department code -> Chinese name; empty if the registry cannot be read (codes still show)."""
    try:
        registry = load_departments(get_settings().departments_file)
    except (DefinitionError, OSError):
        return {}
    return {d.code: d.name for d in registry.departments}


def _when(at: datetime | None) -> str:
    # China Standard Time: the time officers and applicants work in, whatever the host says.
    if at is None:
        return "-"
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def remaining_text(seconds: float | None) -> str:
    """``2d 03h``, ``45m``; a passed deadline reads ``overdue 1h 05m``."""
    if seconds is None:
        return "-"
    left = timedelta(seconds=abs(seconds))
    days, rest = left.days, left.seconds
    hours, minutes = rest // 3600, (rest % 3600) // 60
    if days:
        text = f"{days}d {hours:02d}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m"
    return f"overdue {text}" if seconds < 0 else text


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain table; widths count CJK characters as two columns, as terminals show them."""

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    def pad(text: str, n: int) -> str:
        return text + " " * (n - width(text))

    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _deadline(step: StepState) -> str:
    if step.due_date and step.due_at is None:
        return step.due_date
    return _when(step.due_at)


def _decision(step: StepState) -> str:
    if step.decision is None:
        return "-"
    parts = [step.decision.value]
    if step.officer_id:
        parts.append(f"by {step.officer_id}")
    if step.reason:
        parts.append(f"({step.reason})")
    return " ".join(parts)


def case_text(state: CaseState, names: dict[str, str]) -> str:
    out = [
        f"case      {state.case_code}",
        f"bundle    {state.bundle_name} ({state.bundle_code} v{state.bundle_version}, "
        f"hash {state.content_hash[:12]})",
        f"status    {state.status.value}" + ("  OVERDUE" if state.overdue else ""),
        f"region    {state.region}   channel {state.channel.value}",
        f"submitted {_when(state.submitted_at)}   promised by {_when(state.promised_due_at)}"
        + (f"   closed {_when(state.closed_at)}" if state.closed_at else ""),
        "",
        "steps",
    ]
    rows = [
        [
            s.id,
            names.get(s.department, s.department),
            s.mode.value,
            s.status.value,
            _deadline(s),
            remaining_text(s.remaining_seconds) if s.due_at or s.due_date else "-",
            str(s.escalation_level) if s.escalation_level else "-",
            _decision(s),
        ]
        for s in state.steps
    ]
    headers = ["step", "department", "mode", "status", "deadline", "remaining", "esc", "decision"]
    out.append(table(headers, rows))
    out += ["", "clock stops (补正 / 特别程序)"]
    if state.clock_stops:
        stop_rows = [
            [c.step_id, _when(c.started_at), _when(c.ended_at), c.reason] for c in state.clock_stops
        ]
        out.append(table(["step", "stopped", "resumed", "reason"], stop_rows))
    else:
        out.append("  none")
    if state.rating:
        out += ["", f"rating    {state.rating.level.value} {state.rating.comment}".rstrip()]
    if state.rectification:
        r = state.rectification
        out.append(
            f"rectification {r.status.value}, due {_when(r.due_at)}"
            + (f", escalation level {r.escalation_level}" if r.escalation_level else "")
        )
    out += ["", "timeline"]
    for ev in state.timeline:
        step = f" [{ev.step_id}]" if ev.step_id else ""
        out.append(f"  {_when(ev.at)}  {ev.kind}{step}  {ev.detail}".rstrip())
    return "\n".join(out)


def list_text(rows: Sequence[CaseRow]) -> str:
    if not rows:
        return "no cases match"
    body = [
        [
            r.case_code,
            r.bundle or "-",
            str(r.bundle_version or "-"),
            r.status or r.workflow_status,
            ",".join(r.pending_departments) or "-",
            _when(r.deadline),
            "yes" if r.overdue else "",
        ]
        for r in rows
    ]
    headers = ["case", "bundle", "v", "status", "pending departments", "next deadline", "overdue"]
    return table(headers, body) + f"\n{len(rows)} case(s)"


def history_text(lines: Sequence[HistoryLine]) -> str:
    return "\n".join(
        f"{ln.event_id:>5}  {_when(ln.at)}  {ln.kind}  {ln.detail}".rstrip() for ln in lines
    )


def after_update_text(state: CaseState, step_id: str | None) -> str:
    head = f"ok: case {state.case_code} is {state.status.value}"
    if step_id is None:
        return head
    try:
        step = state.step(step_id)
    except KeyError:
        return head
    return f"{head}; step {step.id} is {step.status.value}, deadline {_deadline(step)}"
