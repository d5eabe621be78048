"""HTTP adapter: posts the step JSON to the department's own system and reads its answer.

Request: ``POST url`` with ``{"action": "dispatch"|"decide"|"withdraw"|"outcome", ...}`` and an
``Idempotency-Key`` header (case code, step, action). Answer to ``decide``:
``{"decision": "approve"|"reject", "reason": "..."}``. 4xx and unreadable answers are
non-retryable (the request or the department's contract is wrong); 5xx and connection errors
are retried by Temporal."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from activities.models import AdapterDecision, StepOutcomeInput, StepPayload, WithdrawStepInput


class HttpAdapter:
    def __init__(self, *, url: str, timeout_seconds: float = 10.0) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds

    async def dispatch(self, payload: StepPayload) -> None:
        await self._post(
            "dispatch", payload.case_code, payload.step.id, payload.model_dump(mode="json")
        )

    async def decide(self, payload: StepPayload) -> AdapterDecision:
        body = await self._post(
            "decide", payload.case_code, payload.step.id, payload.model_dump(mode="json")
        )
        try:
            return AdapterDecision.model_validate(body)
        except ValidationError as exc:
            raise ApplicationError(
                f"department endpoint {self.url}: unreadable decision: {exc.errors()[0]['msg']}",
                type="BadDepartmentAnswer",
                non_retryable=True,
            ) from exc

    async def withdraw(self, request: WithdrawStepInput) -> None:
        await self._post("withdraw", request.case_code, request.step_id, request.model_dump())

    async def record_outcome(self, request: StepOutcomeInput) -> None:
        await self._post("outcome", request.case_code, request.step_id, request.model_dump())

    async def _post(self, action: str, case_code: str, step_id: str, data: dict[str, Any]) -> Any:
        headers = {"Idempotency-Key": f"{case_code}:{step_id}:{action}"}
        async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
            response = await client.post(self.url, json={"action": action, **data}, headers=headers)
        if 400 <= response.status_code < 500:
            raise ApplicationError(
                f"department endpoint {self.url} refused {action} of step {step_id!r}: "
                f"HTTP {response.status_code}",
                type="DepartmentRefused",
                non_retryable=True,
            )
        # 5xx: the department's system is down or failing; Temporal retries with backoff.
        response.raise_for_status()
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApplicationError(
                f"department endpoint {self.url}: answer to {action} is not JSON",
                type="BadDepartmentAnswer",
                non_retryable=True,
            ) from exc
