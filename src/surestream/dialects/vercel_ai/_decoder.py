"""The ``vercel-ai`` dialect's decoder: a UI message stream -> typed events.

Strategy: every chunk maps on its own (the decoder remembers only whether the stream ended),
so ``decode`` is one dispatch on the chunk's ``type``; the mapping is in the package
docstring (``surestream.dialects.vercel_ai``). A field of the wrong type is a
``RemoteProtocolError`` naming the chunk. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects._base import is_marker
from surestream.dialects.vercel_ai._wire import END_MARKER, FROM_SDK_REASON, TERMINAL_TYPES
from surestream.errors import RemoteProtocolError
from surestream.events import (
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
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
from surestream.sse import ServerSentEvent

__all__ = ["VercelAIDecoder"]

_STRUCTURAL = frozenset(
    {"text-start", "text-end", "reasoning-start", "reasoning-end", "finish-step"}
)
"""Chunks that only delimit blocks and steps: they give no event."""


def _string(part: Mapping[str, Any], key: str) -> str:
    value = part.get(key)
    if not isinstance(value, str):
        raise RemoteProtocolError(
            f"UI message chunk {part.get('type')!r}: {key!r} must be a string"
        )
    return value


class VercelAIDecoder:
    """Reads a UI message stream back into typed events."""

    __slots__ = ("_finished",)

    def __init__(self) -> None:
        self._finished = False

    @property
    def finished(self) -> bool:
        """True once ``finish``, ``abort``, ``error`` or ``[DONE]`` arrived."""
        return self._finished

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by one received chunk (none after the terminal one)."""
        if self._finished:
            return []
        data = sse.data
        if is_marker(data, END_MARKER):
            self._finished = True
            return [Done(FinishReason.STOP)]
        try:
            part = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RemoteProtocolError(f"UI message chunk is not JSON: {data[:80]!r}") from None
        if not isinstance(part, dict):
            return [Unknown("", {"data": part})]
        kind = part.get("type")
        if kind == "text-delta":
            return [Text(_string(part, "delta"))]
        if kind in _STRUCTURAL:
            return []
        if kind == "reasoning-delta":
            return [Reasoning(_string(part, "delta"))]
        if isinstance(kind, str) and kind.startswith("tool-"):
            return self._tool(kind, part)
        if kind == "start-step":
            return [Step()]
        if kind == "start":
            message_id = part.get("messageId")
            return [Start(message_id if isinstance(message_id, str) else None)]
        if isinstance(kind, str) and kind.startswith("data-"):
            return [self._data(kind[5:], part)]
        if kind in TERMINAL_TYPES:
            self._finished = True
            return [self._terminal(kind, part)]
        return [Unknown(kind if isinstance(kind, str) else "", part)]

    @staticmethod
    def _tool(kind: str, part: Mapping[str, Any]) -> list[Event]:
        if kind == "tool-input-delta":
            return [ToolCallDelta(_string(part, "toolCallId"), _string(part, "inputTextDelta"))]
        if kind == "tool-input-start":
            return [ToolCallStart(_string(part, "toolCallId"), _string(part, "toolName"))]
        if kind == "tool-input-available":
            call_id, name = _string(part, "toolCallId"), _string(part, "toolName")
            return [ToolCall(call_id, name, part.get("input"))]
        if kind == "tool-output-available":
            return [ToolResult(_string(part, "toolCallId"), part.get("output"))]
        if kind == "tool-output-error":
            return [ToolResult(_string(part, "toolCallId"), error=_string(part, "errorText"))]
        if kind == "tool-input-error":
            call_id, name = _string(part, "toolCallId"), _string(part, "toolName")
            error = _string(part, "errorText")
            return [ToolCall(call_id, name, part.get("input")), ToolResult(call_id, error=error)]
        return [Unknown(kind, part)]

    @staticmethod
    def _terminal(kind: str, part: Mapping[str, Any]) -> Event:
        if kind == "abort":
            return Done(FinishReason.CANCELLED)
        if kind == "error":
            return Error(str(ErrorCode.UPSTREAM_ERROR), _string(part, "errorText"), False)
        reason = part.get("finishReason")
        if reason is None:
            return Done(FinishReason.STOP)
        if not isinstance(reason, str):
            raise RemoteProtocolError("UI message chunk 'finish': finishReason must be a string")
        return Done(FROM_SDK_REASON.get(reason, reason.replace("-", "_")))

    @staticmethod
    def _data(name: str, part: Mapping[str, Any]) -> Event:
        payload = part.get("data")
        if (
            name == "status"
            and part.get("transient") is True
            and isinstance(payload, Mapping)
            and isinstance(payload.get("message"), str)
        ):
            return Status(payload["message"])
        return Data(payload, None if name == "data" else name)
