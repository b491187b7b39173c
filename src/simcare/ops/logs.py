"""Structured logs with structlog: key=value on a terminal, JSON in production.

Secrets never reach a log line: the redaction filter masks values of keys
that name secrets, and long digit runs (PINs, card-like numbers) in messages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(
    r"(pin|password|passwd|token|secret|code|otp|document|card|authorization|api_key)", re.I
)
DIGIT_RUN = re.compile(r"(?<![\w-])\d{12,19}(?![\w-])")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return DIGIT_RUN.sub(
            lambda match: "•" * (len(match.group()) - 4) + match.group()[-4:], value
        )
    return value


def redact_event(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key != "event" and SECRET_KEYS.search(key):
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


FOREIGN_PRE_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def make_formatter(as_json: bool = False) -> structlog.stdlib.ProcessorFormatter:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=FOREIGN_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_event,
            renderer,
        ],
    )


class RedactFilter(logging.Filter):
    """Masks digit runs in plain stdlib messages (Django's, libraries')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact_value(record.msg)
        if record.args:
            if isinstance(record.args, tuple):
                record.args = tuple(_redact_value(arg) for arg in record.args)
            elif isinstance(record.args, dict):
                record.args = {key: _redact_value(arg) for key, arg in record.args.items()}
        return True


structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
