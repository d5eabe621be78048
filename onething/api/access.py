"""Who may see and act on which case: applicants their own (by the read model's applicant
key), officers and supervisors the cases with a step of their department, admins all."""

from __future__ import annotations

from sqlmodel import Session
from temporalio.client import Client

from onething import caseops
from onething.api.auth import applicant_key, deny
from onething.api.errors import ApiError
from onething.casecode import is_valid_case_code
from onething.models import CaseRecord
from onething.settings import ApiIdentity
from workflows.models import GOV_SERVICE_OFFICE, CaseState


def check_code(code: str) -> None:
    if not is_valid_case_code(code):
        raise ApiError(
            422,
            "INVALID_INPUT",
            f"case_code: {code!r} is not a valid case code (REGION-ABBR-YYYYMMDD-SEQ-C, "
            "check character must match)",
            field="code",
        )


def own_case(session: Session, identity: ApiIdentity, code: str, *, action: str) -> CaseRecord:
    """The applicant's own case, from the read model; 404 when unknown, 403 when another's."""
    check_code(code)
    record = session.get(CaseRecord, code)
    if record is None:
        raise caseops.CaseNotFoundError(code)
    if record.applicant_key != applicant_key(identity.applicant_id or ""):
        raise deny(identity, action=action, reason=f"case {code} is not the caller's")
    return record


def _involves(state: CaseState, identity: ApiIdentity) -> bool:
    if any(s.department == identity.department for s in state.steps):
        return True
    # 提级 (level 2) hands the step to the provincial office's supervisors.
    return (
        identity.role == "supervisor"
        and identity.department == GOV_SERVICE_OFFICE
        and any(s.escalation_level >= 2 for s in state.steps)
    )


async def visible_state(
    client: Client, session: Session, identity: ApiIdentity, code: str
) -> CaseState:
    """The live state of a case the caller may see."""
    if identity.role == "applicant":
        own_case(session, identity, code, action="view case")
        return await caseops.case_state(client, code)
    check_code(code)
    state = await caseops.case_state(client, code)
    if identity.role in ("officer", "supervisor") and not _involves(state, identity):
        raise deny(
            identity, action="view case", reason=f"case {code} has no step of their department"
        )
    return state
