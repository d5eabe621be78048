"""structlog set-up (once per process) and masking of personal data for log lines."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog

_configured = False

# 18-character resident ID / unified social credit code, mainland mobile numbers.
_ID18 = re.compile(r"(?<![0-9A-Za-z])([0-9A-Z]{4})[0-9A-Z]{10}([0-9A-Z]{4})(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Keys whose values are personal data whatever they look like.
PERSONAL_KEYS = frozenset(
    {"applicant_id", "applicant_name", "name", "id_number", "phone", "mobile", "id_card"}
)


def mask_id(value: str) -> str:
    """Keep the first 4 and last 4 characters of an 18-character identifier."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(value)
    return digits[:3] + "****" + digits[-4:]


def mask_name(value: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: the family name alone identifies nobody."""
    if not value:
        return value
    return value[0] + "*" * max(len(value) - 1, 1)


def mask_text(text: str) -> str:
    """Mask identifiers and phone numbers wherever they appear inside free text."""
    text = _ID18.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def mask_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in {"applicant_name", "name"}:
        return mask_name(value)
    if key in {"phone", "mobile"}:
        return mask_phone(value)
    if key in PERSONAL_KEYS:
        return mask_id(value)
    return mask_text(value)


def _mask_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = mask_value(key, value)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing: test runners (and
    typer's CliRunner) swap and close stderr, and a logger bound to the old object would
    then fail with "I/O operation on closed file"."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, fmt: str = "auto", level: str = "INFO", force: bool = False) -> None:
    """Configure structlog once; later calls are no-ops unless ``force`` is set."""
    global _configured
    if _configured and not force:
        return
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if use_console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_processor,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # PrintLogger only writes and flushes, so the stand-in needs no other TextIO method.
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
