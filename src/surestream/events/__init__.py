"""The typed vocabulary of a stream: ``Start``, the content events, ``Done``, ``Error``.

Strategy: every event is a frozen, slotted value object with ``to_json()`` giving the native
wire shape (a dict with a ``type`` field) and ``from_json()`` reading it back. A stream is
``Start``? then any of the content events -- ``Text``, ``Reasoning``, ``ToolCallStart``,
``ToolCallDelta``, ``ToolCall``, ``ToolResult``, ``Step``, ``Status``, ``Data`` -- then
exactly one terminal event (``Done`` or ``Error``), which is always last. A ``ToolCall``
with no ``ToolResult`` before ``Done("tool_calls")`` means the client runs the tool; a
``ToolResult`` with an ``error`` is a tool's failure, not the stream's. A payload with a
``type`` this version does not know decodes to ``Unknown`` (skippable), never to an
exception, so older clients keep working against newer servers. Sans-IO: no sockets, no asyncio.

The event classes and their closed lists live in ``_vocabulary``, the native JSON codec
(``dumps``, ``loads``, ``from_json``) in ``_json``; every public name is imported from here.
"""

from __future__ import annotations

from surestream.events._json import dumps, from_json, loads
from surestream.events._vocabulary import (
    EVENT_TYPES,
    FINISH_REASON_SPELLINGS,
    RETRYABLE,
    TERMINAL_TYPES,
    TYPE_NAMES,
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
    finish_reason_of,
    is_terminal,
)

__all__ = [
    "EVENT_TYPES",
    "FINISH_REASON_SPELLINGS",
    "RETRYABLE",
    "TERMINAL_TYPES",
    "TYPE_NAMES",
    "Data",
    "Done",
    "Error",
    "ErrorCode",
    "Event",
    "FinishReason",
    "Reasoning",
    "Start",
    "Status",
    "Step",
    "Text",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallStart",
    "ToolResult",
    "Unknown",
    "dumps",
    "finish_reason_of",
    "from_json",
    "is_terminal",
    "loads",
]
