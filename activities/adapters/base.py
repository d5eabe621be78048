"""The adapter protocol and the per-department choice made by settings."""

from __future__ import annotations

from typing import Protocol

from activities.models import AdapterDecision, StepOutcomeInput, StepPayload, WithdrawStepInput
from definitions.schema import StepMode
from onething.settings import AdapterConfig, Settings


class Adapter(Protocol):
    async def dispatch(self, payload: StepPayload) -> None:
        """Hand a manual step to the department; must be idempotent per case code and step."""

    async def decide(self, payload: StepPayload) -> AdapterDecision:
        """Decide an automatic step."""

    async def withdraw(self, request: WithdrawStepInput) -> None:
        """Take a step back from the department; idempotent, and a no-op if never dispatched."""

    async def record_outcome(self, request: StepOutcomeInput) -> None:
        """Tell the department how a step it received ended; idempotent."""


def adapter_config(settings: Settings, department: str, mode: StepMode) -> AdapterConfig:
    configured = settings.department_adapters.get(department)
    if configured is not None:
        return configured
    return AdapterConfig(kind="inbox" if mode is StepMode.manual else "rules")


def adapter_for(settings: Settings, department: str, mode: StepMode) -> Adapter:
    # Imported here so each adapter module stays independent of the others.
    from activities.adapters.http import HttpAdapter
    from activities.adapters.inbox import InboxAdapter
    from activities.adapters.rules import RulesAdapter

    config = adapter_config(settings, department, mode)
    if config.kind == "http":
        if not config.url:
            raise ValueError(f"department_adapters[{department!r}].url: required for kind http")
        return HttpAdapter(url=config.url, timeout_seconds=config.timeout_seconds)
    if config.kind == "rules":
        return RulesAdapter(database_url=settings.database_url)
    return InboxAdapter(database_url=settings.database_url)
