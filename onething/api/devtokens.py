"""Development tokens for ``onething up`` when none are configured: random tokens written to
``<data dir>/api-tokens.json`` (mode 600) once and reused on later runs. Nothing secret lives
in the code; production configures ONETHING_API_TOKENS instead."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from onething.identifiers import resident_id_check_char
from onething.settings import ApiIdentity

TOKENS_FILE = "api-tokens.json"

# The README's sample applicant, so `curl` examples work against `onething up`.
DEMO_APPLICANT_ID = "11010519491231002" + resident_id_check_char("11010519491231002")


def _identities(departments: list[str]) -> list[ApiIdentity]:
    people = [ApiIdentity(subject="admin", role="admin")]
    people.append(
        ApiIdentity(subject="applicant-demo", role="applicant", applicant_id=DEMO_APPLICANT_ID)
    )
    for code in departments:
        people.append(ApiIdentity(subject=f"officer@{code}", role="officer", department=code))
        people.append(ApiIdentity(subject=f"supervisor@{code}", role="supervisor", department=code))
    return people


def load_or_create(data_dir: Path, departments: list[str]) -> tuple[Path, dict[str, ApiIdentity]]:
    """The token file's path and its tokens (created with fresh random tokens if absent)."""
    path = data_dir / TOKENS_FILE
    if path.exists():
        raw = json.loads(path.read_text(encoding="utf-8"))
        return path, {tok: ApiIdentity.model_validate(v) for tok, v in raw.items()}
    tokens = {secrets.token_urlsafe(24): ident for ident in _identities(departments)}
    data_dir.mkdir(parents=True, exist_ok=True)
    payload = {tok: ident.model_dump(exclude_none=True) for tok, ident in tokens.items()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=2)
    return path, tokens


def token_for(tokens: dict[str, ApiIdentity], subject: str) -> str | None:
    return next((tok for tok, ident in tokens.items() if ident.subject == subject), None)
