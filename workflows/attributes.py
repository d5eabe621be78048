"""The case's custom search attributes, derived from its state. No personal data: only status,
bundle, region, departments and times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeUpdate

from onething.search_attributes import (
    CASE_BUNDLE,
    CASE_BUNDLE_VERSION,
    CASE_OVERDUE,
    CASE_REGION,
    CASE_STATUS,
    NEXT_DEADLINE,
    PENDING_DEPARTMENTS,
    SUBMITTED_AT,
)
from workflows.models import IN_FLIGHT, CaseInput, CaseState, StepStatus


def case_search_attributes(
    state: CaseState, request: CaseInput
) -> dict[str, tuple[Any, SearchAttributeUpdate[Any]]]:
    """Attribute name -> (value, update); the caller upserts only the values that changed."""
    in_flight = [s for s in state.steps if s.status in IN_FLIGHT]
    pending = sorted({s.department for s in in_flight})
    running_dues = [
        s.due_at
        for s in in_flight
        if s.due_at is not None and s.status is not StepStatus.supplementing
    ]
    next_due: datetime | None = min(running_dues) if running_dues else state.promised_due_at
    if state.rectification is not None and state.rectification.done_at is None:
        next_due = state.rectification.due_at
    overdue = state.overdue or any(s.overdue for s in in_flight)
    if state.rectification is not None and state.rectification.done_at is None:
        overdue = overdue or state.rectification.overdue
    updates: dict[str, tuple[Any, SearchAttributeUpdate[Any]]] = {
        CASE_STATUS.name: (state.status.value, CASE_STATUS.value_set(state.status.value)),
        CASE_BUNDLE.name: (state.bundle_code, CASE_BUNDLE.value_set(state.bundle_code)),
        CASE_BUNDLE_VERSION.name: (
            state.bundle_version,
            CASE_BUNDLE_VERSION.value_set(state.bundle_version),
        ),
        CASE_REGION.name: (state.region, CASE_REGION.value_set(state.region)),
        PENDING_DEPARTMENTS.name: (pending, PENDING_DEPARTMENTS.value_set(pending)),
        CASE_OVERDUE.name: (overdue, CASE_OVERDUE.value_set(overdue)),
        SUBMITTED_AT.name: (request.submitted_at, SUBMITTED_AT.value_set(request.submitted_at)),
        NEXT_DEADLINE.name: (
            next_due,
            NEXT_DEADLINE.value_set(next_due) if next_due else NEXT_DEADLINE.value_unset(),
        ),
    }
    return updates
