"""Bearer-token authentication and the role checks.

Tokens come from settings (``ONETHING_API_TOKENS``). Every configured token is compared with
``hmac.compare_digest`` so the time taken says nothing about how much of a guess matched, and
tokens never reach a log line. Denials are logged by role, subject and reason only."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from onething.api.errors import ApiError
from onething.logs import get_logger
from onething.readmodel import applicant_key
from onething.settings import ApiIdentity, Settings

log = get_logger(__name__)

__all__ = ["applicant_key", "authenticate", "deny", "find_identity", "require"]

Role = str

# Declares the scheme in OpenAPI (the "Authorize" button of /docs); the checks are ours, so a
# missing header is our 401 JSON rather than FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="A token of ONETHING_API_TOKENS")


def find_identity(settings: Settings, token: str) -> ApiIdentity | None:
    found: ApiIdentity | None = None
    given = token.encode("utf-8")
    # No early exit: every token is compared, whichever matches.
    for candidate, identity in settings.api_tokens.items():
        if hmac.compare_digest(candidate.encode("utf-8"), given):
            found = identity
    return found


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiIdentity:
    settings: Settings = request.app.state.ctx.settings
    token = credentials.credentials if credentials is not None else ""
    if not token.strip():
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "missing bearer token (Authorization: Bearer <token>)",
            field="Authorization",
        )
    identity = find_identity(settings, token.strip())
    if identity is None:
        log.info("api_auth_failed", path=request.url.path)
        raise ApiError(401, "UNAUTHENTICATED", "unknown or expired token", field="Authorization")
    return identity


def deny(identity: ApiIdentity, *, action: str, reason: str) -> ApiError:
    """Log the denial (no personal data: subject and role only) and return the 403."""
    log.warning(
        "api_denied",
        subject=identity.subject,
        role=identity.role,
        department=identity.department,
        action=action,
        reason=reason,
    )
    return ApiError(403, "FORBIDDEN", f"{identity.role} {identity.subject}: {reason}")


def require(*roles: Role) -> Callable[..., ApiIdentity]:
    """A dependency: the caller's identity, which must have one of ``roles``."""

    def dependency(
        request: Request, identity: Annotated[ApiIdentity, Depends(authenticate)]
    ) -> ApiIdentity:
        if identity.role not in roles:
            action = f"{request.method} {request.url.path}"
            raise deny(identity, action=action, reason=f"requires role {' or '.join(roles)}")
        return identity

    return dependency
