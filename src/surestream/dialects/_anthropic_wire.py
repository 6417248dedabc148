"""The Anthropic Messages streaming wire, sans-IO: its vocabulary and a decoder into our events.

Strategy: one home for what the Messages API's stream means
(https://docs.anthropic.com/en/api/messages-streaming), shared by the Anthropic upstream
(which reads it) and the ``anthropic`` dialect (which writes it and reads it back). A stream
is named SSE events whose data is a JSON object with the same ``type``::

    message_start{message}  (content_block_start{index, content_block}
    content_block_delta{index, delta}*  content_block_stop{index})*
    message_delta{delta{stop_reason, stop_sequence}, usage}  message_stop

with ``ping`` anywhere and ``error{error{type, message}}`` ending it instead. The only end
marker is ``message_stop``: the official SDK ends quietly (``stop_reason=None``) on a stream
cut before it, so a reader must treat its absence as a truncation.

``AnthropicDecoder`` maps it onto our events: ``message_start`` -> ``Start(id, model)``;
``text_delta`` -> ``Text``; a ``thinking`` block's text and ``thinking_delta`` ->
``Reasoning``, its ``signature_delta`` -> ``Reasoning("", signature=...)`` (the block's
end), a ``redacted_thinking`` block -> ``Reasoning("", redacted=data)``: what a client
sends back in its next turn; a ``tool_use`` block start -> ``ToolCallStart(id, name)``, each
``input_json_delta`` -> ``ToolCallDelta``, its ``content_block_stop`` -> the complete
``ToolCall`` (``args`` parsed as the ``openai`` dialect parses arguments);
``citations_delta`` -> ``Data(citation, "citation")``; ``message_stop`` -> ``Done`` with the
stop reason of ``message_delta`` (``STOP_REASONS``) and the usage (``usage_of``);
``error`` -> ``Error`` (``ERROR_CODES``; ``overloaded_error`` and ``rate_limit_error`` are
retryable; an ``error.code`` that is one of ours, as the ``anthropic`` dialect writes it, is
the code). ``ping``, server tool blocks and event types this version does not know give
nothing (the API may add types; readers are
told to skip them). ``finish_reason`` and ``implied_done`` tell a caller what the stream
said so far. Two policies like the ``openai`` dialect's: strict (a wrongly typed field
raises ``RemoteProtocolError``) and ``lenient`` (skipped); data that is not a JSON object
raises in both.

``message_events`` reads a whole (non-streaming) ``message`` into the same events. The
constants going the other way (``STOP_REASON_OF``, ``ERROR_TYPE_OF``,
``anthropic_usage``) are for an encoder of this wire. Sans-IO: no sockets, no asyncio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects.openai import parse_arguments
from surestream.errors import RemoteProtocolError
from surestream.events import (
    RETRYABLE,
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Reasoning,
    Start,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)
from surestream.sse import ServerSentEvent

__all__ = [
    "ANTHROPIC_VERSION",
    "CONTENT_BLOCK_DELTA",
    "CONTENT_BLOCK_START",
    "CONTENT_BLOCK_STOP",
    "ERROR",
    "ERROR_CODES",
    "ERROR_TYPE_OF",
    "MESSAGE_DELTA",
    "MESSAGE_START",
    "MESSAGE_STOP",
    "PING",
    "RETRYABLE_ERROR_TYPES",
    "STOP_REASONS",
    "STOP_REASON_OF",
    "AnthropicDecoder",
    "anthropic_usage",
    "message_events",
    "usage_of",
]

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header value this wire is written for."""

MESSAGE_START = "message_start"
CONTENT_BLOCK_START = "content_block_start"
CONTENT_BLOCK_DELTA = "content_block_delta"
CONTENT_BLOCK_STOP = "content_block_stop"
MESSAGE_DELTA = "message_delta"
MESSAGE_STOP = "message_stop"
"""The stream's end marker (an event name and its data's ``type``)."""
PING = "ping"
ERROR = "error"

STOP_REASONS: Mapping[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "pause_turn": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
}
"""Anthropic ``stop_reason`` -> our finish reason (an unknown one reads as ``stop``)."""

STOP_REASON_OF: Mapping[str, str] = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.CONTENT_FILTER: "refusal",
    FinishReason.CANCELLED: "end_turn",
}
"""Our finish reason -> the ``stop_reason`` an encoder writes."""

ERROR_CODES: Mapping[str, ErrorCode] = {
    "overloaded_error": ErrorCode.UPSTREAM_ERROR,
    "rate_limit_error": ErrorCode.RATE_LIMITED,
    "timeout_error": ErrorCode.UPSTREAM_TIMEOUT,
    "api_error": ErrorCode.UPSTREAM_ERROR,
}
"""Anthropic ``error.type`` -> our error code (any other type: ``upstream_error``)."""

RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "rate_limit_error", "timeout_error"})
"""The error types after which the same request may succeed: their ``Error`` is retryable."""

ERROR_TYPE_OF: Mapping[str, str] = {
    ErrorCode.RATE_LIMITED: "rate_limit_error",
    ErrorCode.UPSTREAM_TIMEOUT: "timeout_error",
    ErrorCode.IDLE_TIMEOUT: "timeout_error",
    ErrorCode.FIRST_EVENT_TIMEOUT: "timeout_error",
    ErrorCode.SERVER_SHUTDOWN: "overloaded_error",
    ErrorCode.STORE_UNAVAILABLE: "overloaded_error",
    ErrorCode.PRODUCER_LOST: "overloaded_error",
}
"""Our error code -> the ``error.type`` an encoder writes (any other code: ``api_error``)."""

_USAGE_COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


def usage_of(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic ``usage`` as ours: its integer counts as given, plus the OpenAI names every
    dialect reads (``prompt_tokens`` counts cache reads and writes too, as OpenAI's does,
    with the reads in ``prompt_tokens_details.cached_tokens``)."""
    counts = {k: v for k, v in usage.items() if k in _USAGE_COUNTS and type(v) is int}
    cached = counts.get("cache_read_input_tokens", 0)
    prompt = counts.get("input_tokens", 0) + cached + counts.get("cache_creation_input_tokens", 0)
    completion = counts.get("output_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        **counts,
    }


def anthropic_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """Our ``Done.usage`` as Anthropic's: its own counts when it came from this wire, else
    ``input_tokens`` / ``output_tokens`` from the OpenAI names (0 when unknown)."""
    usage = usage or {}
    if isinstance(usage.get("input_tokens"), int):
        return {k: usage[k] for k in _USAGE_COUNTS if isinstance(usage.get(k), int)}
    counts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    prompt, completion = (n if isinstance(n, int) else 0 for n in counts)
    return {"input_tokens": prompt, "output_tokens": completion}


def _error_of(err: object) -> Error:
    err = err if isinstance(err, Mapping) else {}
    kind, message, ours = err.get("type"), err.get("message"), err.get("code")
    if isinstance(ours, str) and ours in _OUR_CODES:
        # a surestream gateway's anthropic dialect: its own code, retryable as it said
        code = ErrorCode(ours)
        retryable = code in RETRYABLE or kind == "overloaded_error"
    else:
        known = ERROR_CODES.get(kind) if isinstance(kind, str) else None
        code = known or ErrorCode.UPSTREAM_ERROR
        retryable = kind in RETRYABLE_ERROR_TYPES
    text = message if isinstance(message, str) and message else str(code).replace("_", " ")
    return Error(str(code), text, retryable)


_OUR_CODES = frozenset(code.value for code in ErrorCode)


class _Block:
    """One open content block: its kind and, for a tool call, what assembles it."""

    __slots__ = ("args", "id", "kind", "name")

    def __init__(self, kind: str, call_id: str = "", name: str = "") -> None:
        self.kind = kind
        self.id = call_id
        self.name = name
        self.args: list[str] = []


class AnthropicDecoder:
    """Reads an Anthropic Messages stream into typed events (see the module docstring;
    ``lenient`` is the policy for model servers read as upstreams)."""

    __slots__ = ("_blocks", "_finished", "_lenient", "_started", "stop_reason", "usage")

    def __init__(self, *, lenient: bool = False) -> None:
        self._lenient = lenient
        self._started = False
        self._finished = False
        self._blocks: dict[int, _Block] = {}
        self.stop_reason: str | None = None
        """The ``stop_reason`` of ``message_delta``, once it came."""
        self.usage: dict[str, Any] = {}
        """The usage counts so far (``message_start``'s, updated by ``message_delta``'s)."""

    @property
    def finished(self) -> bool:
        """True once ``message_stop`` or an ``error`` arrived."""
        return self._finished

    @property
    def finish_reason(self) -> str | None:
        """Our finish reason for the ``stop_reason`` received; None before it came."""
        if self.stop_reason is None:
            return None
        return str(STOP_REASONS.get(self.stop_reason, FinishReason.STOP))

    @property
    def implied_done(self) -> Done | None:
        """The ``Done`` that ``message_stop`` would give now; None before a ``stop_reason``."""
        reason = self.finish_reason
        return None if reason is None else Done(reason, self._usage())

    def _usage(self) -> dict[str, Any] | None:
        return usage_of(self.usage) if self.usage else None

    def _bad(self, message: str) -> None:
        if not self._lenient:
            raise RemoteProtocolError(message)

    def _field(self, obj: Mapping[str, Any], key: str, kind: type) -> Any:
        value = obj.get(key)
        if isinstance(value, kind):
            return value
        self._bad(f"anthropic {obj.get('type', 'event')}.{key} must be a {kind.__name__}")
        return None

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by one received SSE event (none after the end)."""
        if self._finished:
            return []
        try:
            obj = orjson.loads(sse.data)
        except orjson.JSONDecodeError:
            if sse.event == ERROR:
                self._finished = True
                return [_error_of({"message": sse.data})]
            raise RemoteProtocolError(f"anthropic event is not JSON: {sse.data[:80]!r}") from None
        if not isinstance(obj, dict):
            raise RemoteProtocolError("anthropic event data must be a JSON object")
        kind = obj.get("type", sse.event)
        if kind == ERROR or sse.event == ERROR:
            self._finished = True
            return [_error_of(obj.get("error"))]
        if kind == MESSAGE_START:
            return self._message_start(obj)
        if kind == CONTENT_BLOCK_START:
            return self._block_start(obj)
        if kind == CONTENT_BLOCK_DELTA:
            return self._block_delta(obj)
        if kind == CONTENT_BLOCK_STOP:
            return self._block_stop(obj)
        if kind == MESSAGE_DELTA:
            self._message_delta(obj)
        elif kind == MESSAGE_STOP:
            self._finished = True
            calls = [call for block in self._blocks.values() if (call := self._call(block))]
            self._blocks.clear()
            reason = self.finish_reason or FinishReason.STOP
            return [*calls, Done(str(reason), self._usage())]
        return []

    def _add_usage(self, usage: object) -> None:
        if isinstance(usage, Mapping):
            self.usage.update(
                (k, v) for k, v in usage.items() if k in _USAGE_COUNTS and type(v) is int
            )
        elif usage is not None:
            self._bad("anthropic usage must be an object")

    def _message_start(self, obj: Mapping[str, Any]) -> list[Event]:
        message = self._field(obj, "message", dict) or {}
        self._add_usage(message.get("usage"))
        if self._started:
            return []
        self._started = True
        sid, model = message.get("id"), message.get("model")
        return [
            Start(sid if isinstance(sid, str) else None, model if isinstance(model, str) else None)
        ]

    def _index(self, obj: Mapping[str, Any]) -> int | None:
        index = obj.get("index")
        if type(index) is int:
            return index
        self._bad(f"anthropic {obj.get('type')}.index must be an integer")
        return None

    def _block_start(self, obj: Mapping[str, Any]) -> list[Event]:
        index, block = self._index(obj), self._field(obj, "content_block", dict)
        if index is None or block is None:
            return []
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("")
            text = block.get("text")
            return [Text(text)] if isinstance(text, str) and text else []
        if kind in ("thinking", "redacted_thinking"):
            self._blocks[index] = _Block("")
            reasoning = _reasoning_of(block)
            return [reasoning] if reasoning is not None else []
        if kind != "tool_use":
            return []
        call_id, name = block.get("id"), block.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            self._bad("anthropic tool_use block needs a string id and name")
            return []
        started = self._blocks[index] = _Block("tool_use", call_id, name)
        given = block.get("input")
        if isinstance(given, Mapping) and given:
            started.args.append(orjson.dumps(given).decode())
        return [ToolCallStart(call_id, name)]

    def _block_delta(self, obj: Mapping[str, Any]) -> list[Event]:
        index, delta = self._index(obj), self._field(obj, "delta", dict)
        if index is None or delta is None:
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            text = self._field(delta, "text", str)
            return [Text(text)] if text else []
        if kind == "thinking_delta":
            thinking = self._field(delta, "thinking", str)
            return [Reasoning(thinking)] if thinking else []
        if kind == "signature_delta":
            signature = self._field(delta, "signature", str)
            return [Reasoning("", signature)] if signature else []
        if kind == "citations_delta":
            return [Data(delta.get("citation"), "citation")]
        if kind != "input_json_delta":
            return []
        piece = self._field(delta, "partial_json", str)
        block = self._blocks.get(index)
        if block is None or block.kind != "tool_use":
            self._bad(f"anthropic input_json_delta for block {index}, which is no tool_use")
            return []
        if not piece:
            return []
        block.args.append(piece)
        return [ToolCallDelta(block.id, piece)]

    def _call(self, block: _Block) -> ToolCall | None:
        if block.kind != "tool_use":
            return None
        return ToolCall(block.id, block.name, parse_arguments("".join(block.args)))

    def _block_stop(self, obj: Mapping[str, Any]) -> list[Event]:
        index = self._index(obj)
        block = self._blocks.pop(index, None) if index is not None else None
        call = self._call(block) if block is not None else None
        return [call] if call is not None else []

    def _message_delta(self, obj: Mapping[str, Any]) -> None:
        delta = self._field(obj, "delta", dict) or {}
        reason = delta.get("stop_reason")
        if isinstance(reason, str) and reason:
            self.stop_reason = reason
        elif reason is not None:
            self._bad("anthropic message_delta.delta.stop_reason must be a string")
        self._add_usage(obj.get("usage"))


def _reasoning_of(block: Mapping[str, Any]) -> Reasoning | None:
    """A ``thinking`` block's text and signature (when not empty), or a
    ``redacted_thinking`` block's data, as one ``Reasoning``; None when it has none."""
    if block.get("type") == "redacted_thinking":
        data = block.get("data")
        return Reasoning("", redacted=data) if isinstance(data, str) else None
    thinking, signature = block.get("thinking"), block.get("signature")
    text = thinking if isinstance(thinking, str) else ""
    signed = signature if isinstance(signature, str) and signature else None
    return Reasoning(text, signed) if text or signed else None


def message_events(message: Mapping[str, Any]) -> list[Event]:
    """The events of a whole (non-streaming) ``message``: ``Start``, its content blocks in
    order (``Text``, ``Reasoning`` with the block's signature or redacted data, complete
    ``ToolCall``s), ``Done`` with its stop reason
    and usage. Blocks of other types and wrongly typed fields are skipped."""
    sid, model = message.get("id"), message.get("model")
    events: list[Event] = [Start(*(v if isinstance(v, str) else None for v in (sid, model)))]
    content = message.get("content")
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
            events.append(Text(block["text"]))
        elif kind in ("thinking", "redacted_thinking"):
            reasoning = _reasoning_of(block)
            if reasoning is not None:
                events.append(reasoning)
        elif kind == "tool_use" and isinstance(block.get("id"), str):
            events.append(ToolCall(block["id"], str(block.get("name")), block.get("input", {})))
    reason = message.get("stop_reason")
    finish = STOP_REASONS.get(reason, FinishReason.STOP) if isinstance(reason, str) else "stop"
    usage = message.get("usage")
    events.append(Done(str(finish), usage_of(usage) if isinstance(usage, Mapping) else None))
    return events
