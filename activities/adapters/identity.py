"""Applicant identifier check used by the rules adapter (the algorithms live in
:mod:`onething.identifiers`)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from onething.identifiers import InvalidIdentifier, validate_resident_id, validate_uscc


def identifier_problem(id_type: str, number: str) -> str | None:
    """Why the identifier fails its standard (the message never repeats the number), or None."""
    try:
        if id_type == "resident_id":
            validate_resident_id(number, field="applicant_id")
        elif id_type == "uscc":
            validate_uscc(number, field="applicant_id")
        elif id_type != "passport":
            raise ApplicationError(
                f"applicant_id_type: unknown type {id_type!r}",
                type="BadApplicantData",
                non_retryable=True,
            )
        # Passports have no public checksum: the exit-entry department checks them itself.
    except InvalidIdentifier as err:
        return str(err)
    return None
