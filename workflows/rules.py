"""Pure checks behind the Update validators: each raises ValueError naming the field and the
reason. Kept free of Temporal APIs so they read (and test) as plain rules."""

from __future__ import annotations

from datetime import datetime

from definitions.schema import Bundle
from workflows.models import (
    APPROVED,
    CaseState,
    CaseStatus,
    DecisionInput,
    DecisionKind,
    RateInput,
    RectificationStatus,
    RectifyInput,
    StepState,
    StepStatus,
    SupplementInput,
    WithdrawInput,
)


def check_decision(state: CaseState, bundle: Bundle, request: DecisionInput, now: datetime) -> None:
    step = _known_step(state, request.step_id)
    if state.status is not CaseStatus.running:
        raise ValueError(f"case {state.case_code} is {state.status.value}; no more decisions")
    if request.department != step.department:
        raise ValueError(
            f"department: an officer of {request.department} cannot decide step "
            f"{step.id!r}, which belongs to {step.department}"
        )
    if step.status in APPROVED or step.status is StepStatus.rejected:
        raise ValueError(
            f"step_id: step {step.id!r} already has a decision ({step.status.value} "
            f"by {step.officer_id or 'the system'})"
        )
    if step.status is not StepStatus.awaiting_decision:
        raise ValueError(
            f"step_id: step {step.id!r} is not awaiting a decision (status {step.status.value})"
        )
    kind = request.decision
    if kind in (DecisionKind.supplement, DecisionKind.extend) and step.due_at is None:
        raise ValueError(
            f"step_id: the deadline of step {step.id!r} is still being computed; try again shortly"
        )
    if kind in (DecisionKind.reject, DecisionKind.extend) and not request.reason.strip():
        raise ValueError(f"reason: required to {kind.value} step {step.id!r}")
    if kind is DecisionKind.supplement:
        if not request.materials:
            raise ValueError("materials: name the material(s) the applicant must supply")
        if not request.reason.strip():
            raise ValueError(f"reason: required to request a supplement for step {step.id!r}")
    if kind is DecisionKind.extend:
        check_extension(step, bundle, request, now)


def check_extension(step: StepState, bundle: Bundle, request: DecisionInput, now: datetime) -> None:
    allowed = bundle.step(step.id).extension
    if allowed is None:
        raise ValueError(f"decision: step {step.id!r} allows no extension (延期)")
    if step.extension_used:
        raise ValueError(
            f"decision: step {step.id!r} was already extended once; only one is allowed"
        )
    amount = allowed.amount if request.amount is None else request.amount
    if amount <= 0:
        raise ValueError(f"amount: must be positive, got {amount}")
    if amount > allowed.amount:
        raise ValueError(
            f"amount: {amount} {allowed.unit.value} exceeds the allowed extension of {allowed}"
        )
    if step.due_at is not None and now >= step.due_at:
        raise ValueError(
            f"decision: the time limit of step {step.id!r} passed at {step.due_at.isoformat()}; "
            "an extension must be granted before it"
        )


def supplement_targets(state: CaseState, request: SupplementInput) -> list[StepState]:
    if state.status is not CaseStatus.running:
        raise ValueError(f"case {state.case_code} is {state.status.value}; nothing to supplement")
    if request.step_id is not None:
        step = _known_step(state, request.step_id)
        if step.status is not StepStatus.supplementing:
            raise ValueError(
                f"step_id: step {step.id!r} is not waiting for material "
                f"(status {step.status.value})"
            )
        targets = [step]
    else:
        targets = [s for s in state.steps if s.status is StepStatus.supplementing]
        if not targets:
            raise ValueError("step_id: no step of this case is waiting for material (补正)")
    have = set(request.materials) | set(state.materials)
    for step in targets:
        missing = [m for m in step.requested_materials if m not in have]
        if missing:
            raise ValueError(f"materials: step {step.id!r} still needs {', '.join(missing)}")
    return targets


def check_withdraw(state: CaseState, request: WithdrawInput, requested: bool) -> None:
    if state.status is not CaseStatus.running:
        raise ValueError(f"case {state.case_code} is already {state.status.value}")
    if requested:
        raise ValueError(f"case {state.case_code}: a withdrawal is already in progress")


def check_rating(state: CaseState, request: RateInput, now: datetime) -> None:
    if state.status is not CaseStatus.completed:
        raise ValueError(
            f"case {state.case_code} is {state.status.value}; only a completed case can be rated"
        )
    if state.rating is not None:
        raise ValueError(
            f"level: case {state.case_code} was already rated ({state.rating.level.value}); "
            "one rating per case"
        )
    if state.rating_open_until is None or now > state.rating_open_until:
        closed = state.rating_open_until.isoformat() if state.rating_open_until else "unknown"
        raise ValueError(f"level: the rating window closed at {closed}")


def check_rectify(state: CaseState, request: RectifyInput) -> None:
    rect = state.rectification
    if rect is None:
        raise ValueError(f"case {state.case_code}: no rectification is open (no bad rating)")
    if rect.status is RectificationStatus.done:
        done = rect.done_at.isoformat() if rect.done_at else ""
        raise ValueError(f"case {state.case_code}: rectification already done at {done}")


def _known_step(state: CaseState, step_id: str) -> StepState:
    try:
        return state.step(step_id)
    except KeyError:
        known = ", ".join(s.id for s in state.steps)
        raise ValueError(
            f"step_id: unknown step {step_id!r} of bundle {state.bundle_code} (steps: {known})"
        ) from None
