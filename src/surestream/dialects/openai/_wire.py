"""What both directions of the ``openai`` dialect share: the end marker, the finish reasons,
the error object and the text of a tool call's arguments.

Strategy: the package docstring (``surestream.dialects.openai``) describes the wire;
this module holds each mapping between a wire value and a typed value once, so the encoder and
the decoder cannot disagree on it. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects._base import is_marker
from surestream.errors import LocalProtocolError
from surestream.events import RETRYABLE, Error, ErrorCode, FinishReason

__all__ = [
    "DONE_MARKER",
    "OPENAI_FINISH_REASONS",
    "arguments_text",
    "error_from_object",
    "error_object",
    "is_done_marker",
    "parse_arguments",
    "sdk_finish_reason",
]

DONE_MARKER = "[DONE]"
"""The data of the last event of a normally ended stream."""

OPENAI_FINISH_REASONS = frozenset(
    {"stop", "length", "content_filter", "tool_calls", "function_call"}
)
"""The ``finish_reason`` values the Chat Completions API defines."""


def is_done_marker(data: str) -> bool:
    """True for the data of ``data: [DONE]`` (surrounding whitespace allowed)."""
    return is_marker(data, DONE_MARKER)


def sdk_finish_reason(reason: str) -> str:
    """Our finish reason in OpenAI's spelling (``stop`` for those OpenAI has not)."""
    if reason == FinishReason.CANCELLED or reason not in OPENAI_FINISH_REASONS:
        return "stop"
    return str(reason)


def error_object(event: Error) -> bytes:
    """The ``{"error": {...}}`` object an ``Error`` is written as."""
    kind = "rate_limit_error" if event.code == ErrorCode.RATE_LIMITED else "server_error"
    error = {"message": event.message, "type": kind, "param": None, "code": str(event.code)}
    return orjson.dumps({"error": error})


def error_from_object(err: Mapping[str, Any]) -> Error:
    """The ``Error`` a received ``error`` object means: our code when ``code`` is one,
    ``rate_limited`` for OpenAI's rate limits, else ``upstream_error``."""
    code, kind, message = err.get("code"), err.get("type"), err.get("message")
    if isinstance(code, str) and code in ErrorCode.__members__.values():
        known = ErrorCode(code)
    elif (isinstance(code, str) and "rate_limit" in code) or kind in {
        "rate_limit_error",
        "requests",
        "tokens",
    }:
        known = ErrorCode.RATE_LIMITED
    else:
        known = ErrorCode.UPSTREAM_ERROR
    if not (isinstance(message, str) and message):
        detail = err.get("detail")
        message = detail if isinstance(detail, str) else ""
    text = message or known.value.replace("_", " ")
    return Error(str(known), text, known in RETRYABLE)


def arguments_text(args: Any) -> str:
    """The ``function.arguments`` text of a call's ``args``: a ``str`` is that text already
    (so an unparseable call read by the decoder goes back out unchanged), ``None`` is ``{}``,
    anything else its JSON."""
    if isinstance(args, str):
        return args
    try:
        return orjson.dumps({} if args is None else args).decode()
    except orjson.JSONEncodeError as exc:
        raise LocalProtocolError(f"cannot encode tool call arguments as JSON: {exc}") from None


def parse_arguments(text: str) -> Any:
    """A tool call's arguments from their JSON text: the value; ``{}`` for none; the text
    itself when it is not JSON (the call is the model's; the client decides)."""
    if not text.strip():
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
