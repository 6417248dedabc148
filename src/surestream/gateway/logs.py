"""Keep secrets out of the logs: read tokens, API keys and cookies are masked.

Strategy: the gateway itself never logs an API key, a read token or a prompt. What could
still reach a log is uvicorn's: its access log prints each request's path with its query
string (a browser ``EventSource`` carries its read token as ``?token=``), and at
``--log-level trace`` it prints every ASGI scope, headers included. ``RedactSecretsFilter``
rewrites such records before any handler sees them: the value of every secret query
parameter, whatever its spelling (``%74oken=`` is ``token=``), becomes ``***``, and so do
the values of the secret headers and of ``Bearer`` credentials; ``install_log_redaction``
attaches it to uvicorn's loggers once per process.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

__all__ = [
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMS",
    "RedactQueryFilter",
    "RedactSecretsFilter",
    "install_log_redaction",
    "redact",
]

SECRET_QUERY_PARAMS = ("token", "api_key", "key")
"""Query parameters whose values never appear in a log line."""

SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "surestream-read-token", "x-api-key")
"""Headers whose values never appear in a log line (uvicorn's trace logs print scopes)."""

_SECRET_NAMES = frozenset(SECRET_QUERY_PARAMS)

_QUERY_PARAM = re.compile(r"(?<=[?&'])([^=&\s\"'?]+)=([^&\s\"']*)")

_HEADER = re.compile(
    r"(?i)(\(b?['\"](?:" + "|".join(map(re.escape, SECRET_HEADERS)) + r")['\"],\s*b?)(['\"])"
    r"(?:(?!\2).)*\2"
)

_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",)]+")


def _mask_param(match: re.Match[str]) -> str:
    name = match.group(1)
    if unquote(name).lower() in _SECRET_NAMES:
        return f"{name}=***"
    return match.group(0)


def redact(text: str) -> str:
    """``text`` with every secret query parameter, secret header value and ``Bearer``
    credential replaced by ``***``."""
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_param, text)
    if "(" in text:
        text = _HEADER.sub(r"\1\2***\2", text)
    return _BEARER.sub(r"\1***", text)


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in a record's message and arguments (strings redacted; containers, such
    as the scopes uvicorn's trace log prints, turned into redacted text; numbers kept, so
    uvicorn's access formatter still finds its status code)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def _redacted(arg: object) -> object:
    if isinstance(arg, str):
        return redact(arg)
    if isinstance(arg, dict | list | tuple | bytes):
        return redact(str(arg))
    return arg


RedactQueryFilter = RedactSecretsFilter
"""The former name of ``RedactSecretsFilter``."""

_LOGGERS = ("uvicorn.access", "uvicorn.asgi", "uvicorn.error")


def install_log_redaction(*logger_names: str) -> None:
    """Attach one ``RedactSecretsFilter`` to each logger (uvicorn's by default; idempotent)."""
    for name in logger_names or _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
