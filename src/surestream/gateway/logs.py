"""Keep secrets out of the logs: read tokens in access-log lines are masked.

Strategy: the gateway itself never logs an API key, a read token or a prompt. The one place
a secret could still reach a log is uvicorn's access log, which prints each request's path
with its query string, and a browser ``EventSource`` carries its read token as
``?token=``. ``RedactQueryFilter`` rewrites such lines (``token=***``) before any handler
sees them; ``install_log_redaction`` attaches it to ``uvicorn.access`` once per process.
"""

from __future__ import annotations

import logging
import re

__all__ = ["SECRET_QUERY_PARAMS", "RedactQueryFilter", "install_log_redaction"]

SECRET_QUERY_PARAMS = ("token", "api_key", "key")
"""Query parameters whose values never appear in a log line."""

_SECRET = re.compile(r"(?i)(?<=[?&])(" + "|".join(SECRET_QUERY_PARAMS) + r")=[^&\s\"]*")


def redact(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced by ``***``."""
    return _SECRET.sub(r"\1=***", text)


class RedactQueryFilter(logging.Filter):
    """Masks secret query parameters in a record's message and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction(logger_name: str = "uvicorn.access") -> None:
    """Attach one ``RedactQueryFilter`` to ``logger_name`` (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactQueryFilter) for f in logger.filters):
        logger.addFilter(RedactQueryFilter())
