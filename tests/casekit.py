"""Helpers for submission, CLI and dev-server tests: valid identifiers, a small bundle with
unique department codes and abbreviation per test, and in-process workers."""

from __future__ import annotations

import asyncio
import random
import socket
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer
from temporalio.client import Client
from temporalio.worker import Worker

from definitions.schema import Bundle
from onething import registry
from onething.db import session_scope
from onething.identifiers import resident_id_check_char, uscc_check_char
from onething.models import BundleVersion
from onething.settings import Settings
from workers.builders import build_department_worker, build_orchestrator_worker

T = TypeVar("T")


def resident_id(birth: str = "19900307", place: str = "510104", seq: str = "123") -> str:
    first17 = place + birth + seq
    return first17 + resident_id_check_char(first17)


def uscc(org: str = "MA6CXXXX1") -> str:
    first17 = "91" + "510100" + org
    return first17 + uscc_check_char(first17)


def unique_abbr() -> str:
    # Case codes carry the abbreviation and sequences restart in every test database, while
    # the dev server lives for the whole session: a unique abbreviation keeps codes apart.
    return "".join(random.choice(string.ascii_uppercase) for _ in range(8))


def unique_department(tag: str) -> str:
    return f"510100.t{uuid.uuid4().hex[:10]}-{tag}"


def small_bundle(
    *,
    manual_dept: str,
    auto_dept: str,
    code: str | None = None,
    applicant_type: str = "person",
) -> Bundle:
    """A manual approval, then an automatic data-sharing check that depends on it."""
    return Bundle.model_validate(
        {
            "code": code or f"t-{uuid.uuid4().hex[:10]}",
            "abbr": unique_abbr(),
            "name": "测试一件事",
            "kind": "personal",
            "applicant_type": applicant_type,
            "promised_limit": {"amount": 10, "unit": "working_days"},
            "materials": [
                {"id": "id-card", "name": "身份证", "required": True},
                {"id": "photo", "name": "照片", "required": False},
            ],
            "form": [
                {"name": "full_address", "label": "住址", "type": "string"},
                {"name": "household_size", "label": "家庭人数", "type": "integer"},
                {"name": "income", "label": "月收入", "type": "number", "required": False},
                {"name": "married", "label": "已婚", "type": "boolean", "required": False},
                {"name": "move_date", "label": "迁入日期", "type": "date", "required": False},
                {
                    "name": "reason",
                    "label": "原因",
                    "type": "choice",
                    "choices": ["work", "family"],
                    "required": False,
                },
                {
                    "name": "spouse_id",
                    "label": "配偶身份证号",
                    "type": "id_number",
                    "required": False,
                },
                {"name": "employer", "label": "单位信用代码", "type": "uscc", "required": False},
                {"name": "mobile", "label": "手机", "type": "phone", "required": False},
                {
                    "name": "postcode",
                    "label": "邮编",
                    "type": "string",
                    "pattern": r"\d{6}",
                    "required": False,
                },
            ],
            "steps": [
                {
                    "id": "approve",
                    "item": "人工审批",
                    "department": manual_dept,
                    "mode": "manual",
                    "materials": ["id-card"],
                    "time_limit": {"amount": 5, "unit": "working_days"},
                },
                {
                    "id": "check",
                    "item": "数据核验",
                    "department": auto_dept,
                    "mode": "automatic",
                    "depends_on": ["approve"],
                    "materials": ["id-card"],
                    "time_limit": {"amount": 1, "unit": "hours"},
                },
            ],
        }
    )


GOOD_FORM: dict[str, Any] = {"full_address": "成都市锦江区红星路1号", "household_size": 3}


def publish(db_url: str, bundle: Bundle) -> BundleVersion:
    with session_scope(db_url) as session:
        return registry.publish(session, bundle=bundle).version


def settings_for(client: Client, db_url: str) -> Settings:
    return Settings(
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        database_url=db_url,
    )


@asynccontextmanager
async def running(workers: Sequence[Worker]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)


def orchestrator(client: Client, settings: Settings, task_queue: str) -> Worker:
    return build_orchestrator_worker(client, settings=settings, task_queue=task_queue)


def department(client: Client, settings: Settings, code: str) -> Worker:
    return build_department_worker(client, settings=settings, department_code=code)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    seconds: float = 20.0,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``ok`` holds (visibility and workers are asynchronous)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > end:
            raise AssertionError(f"{what} not reached within {seconds}s; last value: {value!r}")
        await asyncio.sleep(0.2)


_cli_registered = False


def cli_app() -> typer.Typer:
    """The `onething` Typer app with every command group registered (once per process)."""
    global _cli_registered
    from onething import cli

    if not _cli_registered:
        cli._register()
        _cli_registered = True
    return cli.app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
