"""The ``anthropic`` dialect: the Messages API stream, so the official Anthropic SDKs are clients.

Strategy: the encoder writes what ``POST /v1/messages`` with ``stream: true`` writes
(https://docs.anthropic.com/en/api/messages-streaming): named SSE events whose data is a JSON
object with the same ``type``. Its vocabulary and its decoder live in
``surestream.dialects._anthropic_wire`` (shared with the Anthropic upstream); this module
writes it:

- ``Start`` -> ``message_start`` with an empty assistant ``message`` (``id`` ``msg_<stream>``,
  ``model``, zero usage); without a ``Start`` it is written before the first other event;
- ``Text`` / ``Reasoning`` -> ``text_delta`` / ``thinking_delta`` inside a ``text`` /
  ``thinking`` content block: a ``content_block_start`` opens one when the open text or
  thinking block is of the other kind (its ``content_block_stop`` is written first), so the
  message keeps the order of the answer. A ``Reasoning`` with a ``signature`` (an Anthropic
  model's, relayed) writes it as the block's ``signature_delta`` and ends the block; one
  with ``redacted`` reasoning is a ``redacted_thinking`` block of its own (``data`` in its
  ``content_block_start``). A client sends these blocks back in its next turn as they came.
  Reasoning of other models has no signature: its block keeps an empty ``signature``,
  which Anthropic itself would refuse (the gateway drops such blocks on the way there);
- ``ToolCallStart`` -> closes the open text or thinking block, then ``content_block_start``
  of a ``tool_use`` block (``id``, ``name``, ``input: {}``); ``ToolCallDelta`` ->
  ``input_json_delta`` at that block's ``index``; ``ToolCall`` -> its ``content_block_stop``
  (after one ``input_json_delta`` with the whole arguments when no piece was written, and
  after its ``content_block_start`` when no start came). Each block has its own ``index``,
  so text written while a call is still open goes to a block of its own;
- ``Done`` -> ``content_block_stop`` for every open block, ``message_delta`` with the
  ``stop_reason`` (``STOP_REASON_OF``: ``cancelled`` is ``end_turn``, which Anthropic has no
  word for; a reason it does not know is ``end_turn`` too) and the usage
  (``anthropic_usage``: all counts go here, the SDKs take them from ``message_delta``), then
  ``message_stop``;
- ``Error`` -> ``event: error`` with ``{"type":"error","error":{"type","message","code"}}``:
  ``type`` from ``ERROR_TYPE_OF`` (``overloaded_error`` for any other retryable error, such
  as an overloaded Anthropic upstream's), ``code`` our own code (the SDKs raise an
  ``APIStatusError`` whose ``body`` carries both). Open blocks are left as they are, as the
  API does;
- ``ToolResult``, ``Step``, ``Status``, ``Data`` and unknown events write nothing: the
  Messages API's assistant message has no place for them.

Every event's last block carries ``id: <seq>``. The heartbeat is the API's own
``event: ping`` (``AnthropicDialect.heartbeat``), with no id.

Resume: the encoder is a state machine (the open block, the calls, the next index), so
``prime(history)`` encodes events 0..n and discards the bytes: a stream resumed after event
n continues byte for byte as the whole stream would have (same indexes, no second
``message_start``), for a reader that keeps the message it had. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from surestream.dialects._anthropic_wire import (
    CONTENT_BLOCK_DELTA,
    CONTENT_BLOCK_START,
    CONTENT_BLOCK_STOP,
    ERROR,
    ERROR_TYPE_OF,
    MESSAGE_DELTA,
    MESSAGE_START,
    MESSAGE_STOP,
    PING,
    RETRYABLE_ERROR_TYPES,
    STOP_REASON_OF,
    AnthropicDecoder,
    anthropic_usage,
)
from surestream.dialects._base import EncoderOptions, json_object
from surestream.dialects.openai import arguments_text
from surestream.events import (
    Done,
    Error,
    Event,
    Reasoning,
    Start,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)
from surestream.sse import frame, retry_field

__all__ = [
    "HTTP_ERROR_TYPES",
    "STREAM_EVENTS",
    "AnthropicDialect",
    "AnthropicEncoder",
    "error_object",
    "http_error_type",
    "message_id",
    "whole_message",
]

STREAM_EVENTS = frozenset(
    {
        MESSAGE_START,
        CONTENT_BLOCK_START,
        CONTENT_BLOCK_DELTA,
        CONTENT_BLOCK_STOP,
        MESSAGE_DELTA,
        MESSAGE_STOP,
    }
)
"""The event types (and SSE event names) only a Messages API stream uses."""

_TEXT = "text"
_THINKING = "thinking"
_DELTA_KEYS = {_TEXT: (b"text_delta", b"text"), _THINKING: (b"thinking_delta", b"thinking")}
_BLOCK_HEADS = {
    _TEXT: {"type": "text", "text": ""},
    _THINKING: {"type": "thinking", "thinking": "", "signature": ""},
}
_START = MESSAGE_START.encode()
_BLOCK_START = CONTENT_BLOCK_START.encode()
_BLOCK_DELTA = CONTENT_BLOCK_DELTA.encode()
_BLOCK_STOP = CONTENT_BLOCK_STOP.encode()
_MESSAGE_DELTA = MESSAGE_DELTA.encode()
_STOP = MESSAGE_STOP.encode()
_ERROR = ERROR.encode()
_STOP_DATA = b'{"type":"message_stop"}'

Block = tuple[bytes, bytes]
"""One SSE block to write: its event name and its data."""


def message_id(stream_id: str) -> str:
    """The Messages API id of a stream's message: ``msg_<stream id>``."""
    return stream_id if stream_id.startswith("msg_") else "msg_" + stream_id


def error_object(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    """The API's error body ``{"type":"error","error":{"type","message"}}`` (plus our
    ``code`` when given): the data of ``event: error`` and the JSON of an HTTP error."""
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    return {"type": "error", "error": error}


HTTP_ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""The ``error.type`` of an HTTP error answer, by its status (what the API answers)."""


def http_error_type(status: int) -> str:
    """The ``error.type`` for an HTTP error ``status``: ``HTTP_ERROR_TYPES``, else
    ``invalid_request_error`` for a 4xx and ``api_error`` for the rest."""
    fallback = "invalid_request_error" if 400 <= status < 500 else "api_error"
    return HTTP_ERROR_TYPES.get(status, fallback)


def whole_message(
    events: Iterable[Event], done: Done, *, message_id: str, model: str
) -> dict[str, Any]:
    """The API's ``message`` object of a whole answer (``stream: false``): ``events`` before
    ``done`` as content blocks in the order and grouping the encoder streams them (a run of
    text or reasoning is one block, a signature ends a thinking block; each call is a
    ``tool_use`` block with its ``args`` as ``input``), the ``stop_reason`` and the usage of
    ``done``."""
    content: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, Reasoning) and event.redacted is not None:
            content.append({"type": "redacted_thinking", "data": event.redacted})
        elif isinstance(event, Text | Reasoning):
            kind, key = ("text", "text") if type(event) is Text else (_THINKING, "thinking")
            last = content[-1] if content else None
            if last is not None and last["type"] == kind and not last.get("signature"):
                last[key] += event.text
            else:
                content.append({**_BLOCK_HEADS[kind], key: event.text})
            if isinstance(event, Reasoning) and event.signature is not None:
                content[-1]["signature"] = event.signature
        elif isinstance(event, ToolCallStart | ToolCall) and event.id not in calls:
            block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            content.append(calls.setdefault(event.id, block))
        if isinstance(event, ToolCall):
            calls[event.id]["input"] = {} if event.args is None else event.args
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASON_OF.get(done.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(done.usage),
    }


def _frames(blocks: list[Block], seq: int | None) -> bytes:
    last = len(blocks) - 1
    return b"".join(
        [frame(data, seq if i == last else None, name) for i, (name, data) in enumerate(blocks)]
    )


def _stop(index: int) -> Block:
    return _BLOCK_STOP, b'{"type":"content_block_stop","index":%d}' % index


class _Call:
    """What the encoder knows of one tool call's block."""

    __slots__ = ("index", "open", "written")

    def __init__(self, index: int) -> None:
        self.index = index
        self.open = True
        self.written = False
        """Some of its input JSON was written (no whole-arguments delta at its end)."""


class AnthropicEncoder:
    """Encodes typed events as a Messages API stream (see the module docstring)."""

    __slots__ = (
        "_calls",
        "_delta_head",
        "_ids",
        "_model",
        "_next_index",
        "_prose",
        "_retry",
        "_started",
        "_stream_id",
    )

    def __init__(self, options: EncoderOptions) -> None:
        self._ids = options.ids
        self._retry = options.retry
        self._stream_id = options.stream_id
        self._model = options.model
        self._started = False
        self._next_index = 0
        self._prose: tuple[str, int] | None = None
        """The kind and index of the open text or thinking block."""
        self._delta_head = b""
        """The data of a delta of the open text or thinking block, up to its text."""
        self._calls: dict[str, _Call] = {}

    def preamble(self) -> bytes:
        """``retry: <ms>`` leading the first event's block, or nothing (the SDKs skip it)."""
        return b"" if self._retry is None else retry_field(self._retry)

    def prime(self, history: Iterable[Event]) -> None:
        """Encode ``history`` and discard it: the stream then continues where it was."""
        for event in history:
            self.encode(event, 0)

    def _start(self, start: Start | None, out: list[Block]) -> None:
        if self._started:
            return
        self._started = True
        if start is not None:
            self._stream_id = self._stream_id or (start.stream or "")
            self._model = self._model or (start.model or "")
        message: dict[str, Any] = {
            "id": message_id(self._stream_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        out.append((_START, orjson.dumps({"type": MESSAGE_START, "message": message})))

    def _open_block(self, head: Mapping[str, Any], out: list[Block]) -> int:
        index = self._next_index
        self._next_index += 1
        data = {"type": CONTENT_BLOCK_START, "index": index, "content_block": head}
        out.append((_BLOCK_START, orjson.dumps(data)))
        return index

    def _close_prose(self, out: list[Block]) -> None:
        if self._prose is not None:
            out.append(_stop(self._prose[1]))
            self._prose = None

    def _open_prose(self, kind: str, out: list[Block]) -> int:
        """The index of the open text or thinking block of ``kind``, opened when needed."""
        self._start(None, out)
        if self._prose is None or self._prose[0] != kind:
            self._close_prose(out)
            index = self._open_block(_BLOCK_HEADS[kind], out)
            self._prose = (kind, index)
            delta_type, key = _DELTA_KEYS[kind]
            self._delta_head = (
                b'{"type":"content_block_delta","index":%d,"delta":{"type":"%b","%b":'
                % (index, delta_type, key)
            )
        return self._prose[1]

    def _prose_delta(self, kind: str, text: str, out: list[Block]) -> None:
        self._open_prose(kind, out)
        out.append((_BLOCK_DELTA, self._delta_head + orjson.dumps(text) + b"}}"))

    def _reasoning(self, event: Reasoning, out: list[Block]) -> None:
        if event.redacted is not None:
            self._start(None, out)
            self._close_prose(out)
            head = {"type": "redacted_thinking", "data": event.redacted}
            out.append(_stop(self._open_block(head, out)))
            return
        if event.text or event.signature is None:
            self._prose_delta(_THINKING, event.text, out)
        if event.signature is not None:
            delta = {"type": "signature_delta", "signature": event.signature}
            data = {"type": CONTENT_BLOCK_DELTA, "index": self._open_prose(_THINKING, out)}
            out.append((_BLOCK_DELTA, orjson.dumps({**data, "delta": delta})))
            self._close_prose(out)

    def encode(self, event: Event, seq: int) -> bytes:
        """The blocks of one event; ``b""`` for the events the API has no place for."""
        if type(event) is Text:
            return self.encode_text(event.text, seq)
        out: list[Block] = []
        if isinstance(event, Reasoning):
            self._reasoning(event, out)
        elif isinstance(event, ToolCallStart | ToolCallDelta | ToolCall):
            self._tool(event, out)
        elif isinstance(event, Start):
            self._start(event, out)
        elif isinstance(event, Done):
            self._done(event, out)
        elif isinstance(event, Error):
            kind = ERROR_TYPE_OF.get(event.code, "api_error")
            if event.retryable and kind not in RETRYABLE_ERROR_TYPES:
                kind = "overloaded_error"
            data = error_object(kind, event.message or event.code, event.code)
            out.append((_ERROR, orjson.dumps(data)))
        return _frames(out, seq if self._ids else None) if out else b""

    def encode_text(self, text: str, seq: int) -> bytes:
        """One ``text_delta`` (after the blocks that open its text block, when needed)."""
        prose = self._prose
        if prose is not None and prose[0] == _TEXT:
            data = self._delta_head + orjson.dumps(text) + b"}}"
            return frame(data, seq if self._ids else None, _BLOCK_DELTA)
        out: list[Block] = []
        self._prose_delta(_TEXT, text, out)
        return _frames(out, seq if self._ids else None)

    def _tool(self, event: ToolCallStart | ToolCallDelta | ToolCall, out: list[Block]) -> None:
        call = self._calls.get(event.id)
        if isinstance(event, ToolCallDelta):
            if call is not None and call.open and event.args:
                call.written = True
                out.append(self._input_delta(call.index, event.args))
            return
        if call is None:
            self._start(None, out)
            self._close_prose(out)
            head = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            call = self._calls[event.id] = _Call(self._open_block(head, out))
        if isinstance(event, ToolCall) and call.open:
            if not call.written:
                out.append(self._input_delta(call.index, arguments_text(event.args)))
            call.open = False
            out.append(_stop(call.index))

    @staticmethod
    def _input_delta(index: int, piece: str) -> Block:
        delta = {"type": "input_json_delta", "partial_json": piece}
        data = {"type": CONTENT_BLOCK_DELTA, "index": index, "delta": delta}
        return _BLOCK_DELTA, orjson.dumps(data)

    def _done(self, event: Done, out: list[Block]) -> None:
        self._start(None, out)
        self._close_prose(out)
        for call in sorted(self._calls.values(), key=lambda c: c.index):
            if call.open:
                call.open = False
                out.append(_stop(call.index))
        delta = {
            "type": MESSAGE_DELTA,
            "delta": {
                "stop_reason": STOP_REASON_OF.get(event.finish_reason, "end_turn"),
                "stop_sequence": None,
            },
            "usage": anthropic_usage(event.usage),
        }
        out.append((_MESSAGE_DELTA, orjson.dumps(delta)))
        out.append((_STOP, _STOP_DATA))


class AnthropicDialect:
    """``anthropic``: the Messages API stream, for the official Anthropic SDKs."""

    name = "anthropic"
    headers: Mapping[str, str] = {}
    resume_needs_history = True
    """A resumed stream's encoder is primed with the events the client has (see ``prime``)."""
    header: str | None = None
    """Messages API streams carry no header of their own."""
    end_marker: str | None = None
    """None: ``message_stop`` (or ``error``) is the end."""
    heartbeat: bytes = frame(b'{"type":"ping"}', None, PING.encode())
    """The API's own keep-alive, ``event: ping``: the SDKs skip it, and a reader that counts
    events as activity (a surestream gateway reading this one as its Anthropic upstream)
    sees the stream alive while the model is silent."""

    def claims(self, payload: object) -> bool:
        """An object whose ``type`` is a Messages API stream event, or an ``error`` whose
        ``error`` has a ``type`` (the native one has a ``code`` instead)."""
        if not isinstance(payload, dict):
            return False
        kind = payload.get("type")
        if kind in STREAM_EVENTS:
            return True
        error = payload.get("error")
        return kind == ERROR and isinstance(error, dict) and isinstance(error.get("type"), str)

    def ends(self, data: str) -> bool:
        """A ``message_stop``, or an API error object."""
        obj = json_object(data)
        if obj is None:
            return False
        return obj.get("type") == MESSAGE_STOP or (obj.get("type") == ERROR and self.claims(obj))

    def encoder(self, options: EncoderOptions) -> AnthropicEncoder:
        """A new encoder for one outgoing stream."""
        return AnthropicEncoder(options)

    def decoder(self, *, lenient: bool = False) -> AnthropicDecoder:
        """A new decoder for one incoming stream (``lenient``: the upstream policy)."""
        return AnthropicDecoder(lenient=lenient)
