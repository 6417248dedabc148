"""The native JSON codec of ``surestream.events``: ``dumps`` (an event -> compact JSON
bytes), ``loads`` (JSON text -> an event) and ``from_json`` (a decoded object -> an event),
with the field checks that make a wrongly typed field a ``RemoteProtocolError``. Sans-IO."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events._vocabulary import (
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    Reasoning,
    Start,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    Unknown,
)


def _str(obj: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise RemoteProtocolError(f"native event field {key!r} must be a string, got {value!r}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return None if value is None else _str(obj, key)


def from_json(obj: Mapping[str, Any]) -> Event:
    """Read a native JSON object back into its event.

    An unknown ``type`` gives ``Unknown``; a known type with a wrongly typed field raises
    ``RemoteProtocolError``.
    """
    if not isinstance(obj, Mapping):
        raise RemoteProtocolError(f"native event must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind == "text":
        return Text(_str(obj, "text"))
    if kind == "start":
        return Start(_opt_str(obj, "stream"), _opt_str(obj, "model"))
    if kind == "reasoning":
        return Reasoning(_str(obj, "text"), _opt_str(obj, "signature"), _opt_str(obj, "redacted"))
    if kind == "tool_call_start":
        return ToolCallStart(_str(obj, "id"), _str(obj, "name"))
    if kind == "tool_call_delta":
        return ToolCallDelta(_str(obj, "id"), _str(obj, "args"))
    if kind == "tool_call":
        return ToolCall(_str(obj, "id"), _str(obj, "name"), obj.get("args"))
    if kind == "tool_result":
        return ToolResult(_str(obj, "id"), obj.get("output"), _opt_str(obj, "error"))
    if kind == "step":
        return Step(_opt_str(obj, "name"))
    if kind == "status":
        return Status(_str(obj, "message", ""))
    if kind == "data":
        return Data(obj.get("data"), _opt_str(obj, "name"))
    if kind == "done":
        usage = obj.get("usage")
        if usage is not None and not isinstance(usage, Mapping):
            raise RemoteProtocolError("native done.usage must be an object")
        return Done(_str(obj, "finish_reason", "stop"), usage)
    if kind == "error":
        err = obj.get("error")
        if not isinstance(err, Mapping):
            raise RemoteProtocolError("native error event needs an 'error' object")
        retryable = err.get("retryable", False)
        if not isinstance(retryable, bool):
            raise RemoteProtocolError(
                f"native error.retryable must be a boolean, got {retryable!r}"
            )
        return Error(
            _str(err, "code", ErrorCode.INTERNAL_ERROR),
            _str(err, "message", ""),
            retryable,
        )
    return Unknown(kind if isinstance(kind, str) else "", obj)


def dumps(event: Event) -> bytes:
    """The compact native JSON bytes of ``event`` (always one line: orjson escapes controls).

    Content JSON cannot carry (a lone surrogate, a non-JSON ``Data`` payload) raises
    ``LocalProtocolError``.
    """
    try:
        if type(event) is Text:
            return b'{"type":"text","text":' + orjson.dumps(event.text) + b"}"
        return orjson.dumps(event.to_json())
    except orjson.JSONEncodeError as exc:
        raise LocalProtocolError(f"cannot encode {event.type} event as JSON: {exc}") from None


def loads(data: str | bytes) -> Event:
    """Parse native JSON text into an event; invalid JSON raises ``RemoteProtocolError``."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RemoteProtocolError(f"native event data is not JSON: {exc}") from None
    return from_json(obj)
