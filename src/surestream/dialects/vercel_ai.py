"""The ``vercel-ai`` dialect: the AI SDK "UI message stream" (v1), for ``useChat`` front ends.

Strategy: each UI message chunk is one unnamed SSE event whose data is a JSON object with a
``type`` (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol, schema in vercel/ai
``packages/ai/src/ui-message-stream/ui-message-chunks.ts``); the response carries the header
``x-vercel-ai-ui-message-stream: v1`` and ends with ``data: [DONE]``. The encoder maps:

- ``Start`` -> ``{"type":"start","messageId":...}`` (written first even without a ``Start``);
- ``Text`` / ``Reasoning`` -> ``text-delta`` / ``reasoning-delta`` inside numbered blocks
  (``text-1``, ``reasoning-1``, ``text-2``, ...): a ``-start`` chunk opens a block when the
  open one is of the other kind or was closed by a tool call or a step (its ``-end`` chunk
  is written first), so text after a tool call is a new part and the message keeps the order;
- ``ToolCallStart`` -> ``tool-input-start``; ``ToolCallDelta`` -> ``tool-input-delta``, only
  for a call whose start was written and whose input is not complete yet (the AI SDK throws
  on a delta without its start); ``ToolCall`` -> ``tool-input-available`` (with or without a
  start); ``ToolResult`` -> ``tool-output-available``, or ``tool-output-error`` when it has an
  ``error``; a result for a call the stream never named is dropped (the AI SDK would throw);
- ``Step`` -> ``finish-step`` when a step is open, then ``start-step`` (its ``name`` has no
  place in the protocol); steps are written only for ``Step`` events;
- ``Status`` -> a transient data part ``{"type":"data-status","data":{"message":...},
  "transient":true}`` (``useChat`` hands it to ``onData`` and keeps it out of the message);
- ``Data`` -> ``{"type":"data-<name>","data":...}`` (``data-data`` when unnamed);
- ``Done`` -> the open block's ``-end``, ``finish-step`` when a step is open,
  ``{"type":"finish","finishReason":...}`` (the AI SDK's spelling: ``content-filter``,
  ``tool-calls``; ``other`` for reasons it does not know), then ``[DONE]``;
  ``Done("cancelled")`` writes ``{"type":"abort"}`` instead of ``finish``. ``usage`` is not
  sent (the protocol has no place for it). A ``ToolCall`` without a result stays
  ``input-available``: the client runs the tool;
- ``Error`` -> the open block's ``-end``, ``tool-output-error`` for every call without a
  result, ``finish-step`` when a step is open, ``{"type":"error","errorText":<message>}``,
  then ``[DONE]``: nothing is left streaming in the client's message.

``finishReason`` on ``finish`` is what the AI SDK's own ``toUIMessageStream`` writes (v6, and
v5 since the backport of vercel/ai#9857). Older 5.0 clients validate chunks with a strict
schema and reject it: ``VercelAIDialect(finish_reason=False)`` writes the bare
``{"type":"finish"}`` of the protocol docs for them. ``VercelAIDialect(message_id=...)``
names that message in ``start`` instead of the stream: a stream that continues a message
the client already has (after its tool outputs) names it, as the AI SDK's own server does,
so the client adds to that message instead of starting another.

Resume: the encoder is a state machine (open block, open step, the calls), so a stream
resumed after event n would start in the middle of a block. ``prime(history)`` takes events
0..n without writing anything and then forgets what that client saw: the resumed stream
starts with ``start`` again, text after the resume point opens a new block, and a call named
before it is named again before its result. So a resumed stream is valid on its own to a
fresh ``readUIMessageStream``; ``VercelAIDialect.resume_needs_history`` asks the server for
that history.

The decoder reads such a stream back: ``start`` -> ``Start``, ``text-delta`` -> ``Text``,
``reasoning-delta`` -> ``Reasoning``, ``tool-input-start`` / ``-delta`` / ``-available`` ->
``ToolCallStart`` / ``ToolCallDelta`` / ``ToolCall``, ``tool-input-error`` -> ``ToolCall``
then ``ToolResult(error=...)``, ``tool-output-available`` / ``-error`` -> ``ToolResult``,
``start-step`` -> ``Step``, ``data-status`` (transient, with a string ``message``) ->
``Status``, other ``data-*`` -> ``Data``, ``finish`` -> ``Done`` (reason in our spelling),
``abort`` -> ``Done("cancelled")``, ``error`` -> ``Error(upstream_error)``; ``[DONE]`` before
any of those -> ``Done("stop")``. Block ends and ``finish-step`` give nothing; other parts
(sources, files, approvals, ...) give ``Unknown``. After the terminal event nothing more is
returned. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from surestream.dialects._base import EncoderOptions, frames, is_marker, json_object
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
from surestream.sse import ID_DATA_BLOCK, ServerSentEvent, frame, retry_field

__all__ = [
    "END_MARKER",
    "HEADER",
    "TEXT_ID",
    "UI_MESSAGE_STREAM_VERSION",
    "VercelAIDecoder",
    "VercelAIDialect",
    "VercelAIEncoder",
]

HEADER = "x-vercel-ai-ui-message-stream"
"""The response header that tells the AI SDK client the stream is a UI message stream."""
UI_MESSAGE_STREAM_VERSION = "v1"
"""Its value."""
TEXT_ID = "text-1"
"""The id of the first text block of a message (later ones are ``text-2``, ``text-3``...)."""

_TO_SDK_REASON: dict[str, str] = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.CONTENT_FILTER: "content-filter",
    FinishReason.TOOL_CALLS: "tool-calls",
}
_FROM_SDK_REASON = {v: str(k) for k, v in _TO_SDK_REASON.items()}
_STRUCTURAL = frozenset(
    {"text-start", "text-end", "reasoning-start", "reasoning-end", "finish-step"}
)
END_MARKER = "[DONE]"
"""The data of the last event of every stream (the AI SDK's ``JsonToSseTransformStream``)."""
_DONE_DATA = END_MARKER.encode()
_TERMINAL_TYPES = frozenset({"finish", "abort", "error"})
_OWN_TYPES = frozenset(
    {
        "text-start",
        "text-delta",
        "text-end",
        "finish",
        "abort",
        "start-step",
        "finish-step",
        "message-metadata",
    }
)
"""Chunk types no other dialect writes (beside the prefixes below)."""
_OWN_PREFIXES = ("data-", "tool-", "reasoning-", "source-", "file")
_TOOL_EVENTS = (ToolCallStart, ToolCallDelta, ToolCall, ToolResult)
_TERMINAL_EVENTS = (Done, Error)
_TEXT = "text"
_REASONING = "reasoning"


def _dumps(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


class _Call:
    """What the encoder knows of one tool call."""

    __slots__ = ("complete", "finished", "input", "name", "shown")

    def __init__(self, name: str) -> None:
        self.name = name
        self.input: Any = None
        self.complete = False
        """``tool-input-available`` written: no more input deltas."""
        self.finished = False
        """A result was written."""
        self.shown = True
        """The client of this connection knows the call (False for calls of a primed history)."""


class VercelAIEncoder:
    """Encodes typed events as UI message stream chunks."""

    __slots__ = (
        "_block",
        "_blocks_opened",
        "_calls",
        "_delta_head",
        "_finish_reason",
        "_fixed_id",
        "_ids",
        "_message_id",
        "_retry",
        "_started",
        "_step",
    )

    def __init__(
        self, options: EncoderOptions, *, finish_reason: bool = True, message_id: str | None = None
    ) -> None:
        self._ids = options.ids
        self._retry = options.retry
        self._fixed_id = message_id is not None
        self._message_id = options.stream_id if message_id is None else message_id
        self._finish_reason = finish_reason
        self._started = False
        self._block: str | None = None
        """The kind of the open text or reasoning block (``_TEXT``, ``_REASONING``), or None."""
        self._blocks_opened = {_TEXT: 0, _REASONING: 0}
        self._delta_head = b""
        """``{"type":"text-delta","id":<open text block>,"delta":`` while a text block is open."""
        self._step = False
        self._calls: dict[str, _Call] = {}

    def preamble(self) -> bytes:
        """``retry: <ms>`` leading the first event's block, or nothing (the AI SDK ignores it)."""
        return b"" if self._retry is None else retry_field(self._retry)

    def prime(self, history: Iterable[Event]) -> None:
        """Take in the events a resuming client already has, writing nothing for them.

        Afterwards the encoder continues the stream as one that is valid on its own: it
        writes ``start`` again, opens a new block for more text or reasoning, and names a
        call of the history again before writing anything about it.
        """
        for event in history:
            self.encode(event, 0)
        self._started = False
        self._block = None
        for call in self._calls.values():
            call.shown = False

    def _start(self, start: Start | None, out: list[bytes]) -> None:
        if start is not None and start.stream and not self._fixed_id:
            self._message_id = start.stream
        if self._started:
            return
        self._started = True
        part: dict[str, Any] = {"type": "start"}
        if self._message_id:
            part["messageId"] = self._message_id
        out.append(_dumps(part))

    def _close_block(self, out: list[bytes]) -> None:
        kind = self._block
        if kind is not None:
            self._block = None
            block_id = f"{kind}-{self._blocks_opened[kind]}"
            out.append(_dumps({"type": kind + "-end", "id": block_id}))

    def _open_block(self, kind: str, out: list[bytes]) -> str:
        """Close the open block, open a new one of ``kind``; its id."""
        self._close_block(out)
        self._block = kind
        number = self._blocks_opened[kind] = self._blocks_opened[kind] + 1
        block_id = f"{kind}-{number}"
        out.append(_dumps({"type": kind + "-start", "id": block_id}))
        if kind == _TEXT:
            self._delta_head = b'{"type":"text-delta","id":' + orjson.dumps(block_id) + b',"delta":'
        return block_id

    def encode(self, event: Event, seq: int) -> bytes:
        """The chunks of one event; ``b""`` when it has nothing to say (unknown events)."""
        if type(event) is Text:
            return self.encode_text(event.text, seq)
        if type(event) is Unknown:
            return b""
        out: list[bytes] = []
        self._start(event if type(event) is Start else None, out)
        if isinstance(event, Reasoning):
            if self._block == _REASONING:
                block_id = f"{_REASONING}-{self._blocks_opened[_REASONING]}"
            else:
                block_id = self._open_block(_REASONING, out)
            out.append(_dumps({"type": "reasoning-delta", "id": block_id, "delta": event.text}))
        elif isinstance(event, _TOOL_EVENTS):
            self._tool(event, out)
        elif isinstance(event, Step):
            self._close_block(out)
            if self._step:
                out.append(b'{"type":"finish-step"}')
            self._step = True
            out.append(b'{"type":"start-step"}')
        elif isinstance(event, Status):
            out.append(
                _dumps(
                    {"type": "data-status", "data": {"message": event.message}, "transient": True}
                )
            )
        elif isinstance(event, Data):
            out.append(_dumps({"type": "data-" + (event.name or "data"), "data": event.data}))
        elif isinstance(event, _TERMINAL_EVENTS):
            self._end(event, out)
        return frames(out, seq if self._ids else None) if out else b""

    def _tool(
        self, event: ToolCallStart | ToolCallDelta | ToolCall | ToolResult, out: list[bytes]
    ) -> None:
        call = self._calls.get(event.id)
        if isinstance(event, ToolCallDelta):
            if call is not None and call.shown and not call.complete:
                out.append(
                    _dumps(
                        {
                            "type": "tool-input-delta",
                            "toolCallId": event.id,
                            "inputTextDelta": event.args,
                        }
                    )
                )
        elif isinstance(event, ToolCallStart):
            if call is None:
                self._close_block(out)
                self._calls[event.id] = _Call(event.name)
                out.append(_input_start(event.id, event.name))
        elif isinstance(event, ToolCall):
            self._close_block(out)
            if call is None:
                call = self._calls[event.id] = _Call(event.name)
            call.name, call.input = event.name, event.args
            call.complete, call.shown, call.finished = True, True, False
            out.append(_input_available(event.id, call))
        elif call is not None:
            if not call.shown:
                call.shown = True
                if call.complete:
                    out.append(_input_available(event.id, call))
                else:
                    out.append(_input_start(event.id, call.name))
            call.finished = True
            if event.error is None:
                out.append(
                    _dumps(
                        {
                            "type": "tool-output-available",
                            "toolCallId": event.id,
                            "output": event.output,
                        }
                    )
                )
            else:
                out.append(_output_error(event.id, event.error))

    def _end(self, event: Done | Error, out: list[bytes]) -> None:
        self._close_block(out)
        if isinstance(event, Error):
            text = event.message or event.code
            for call_id, call in self._calls.items():
                if call.shown and not call.finished:
                    call.finished = True
                    out.append(_output_error(call_id, text))
        if self._step:
            self._step = False
            out.append(b'{"type":"finish-step"}')
        if isinstance(event, Error):
            out.append(_dumps({"type": "error", "errorText": event.message or event.code}))
        elif event.finish_reason == FinishReason.CANCELLED:
            out.append(b'{"type":"abort"}')
        elif self._finish_reason:
            reason = _TO_SDK_REASON.get(event.finish_reason, "other")
            out.append(_dumps({"type": "finish", "finishReason": reason}))
        else:
            out.append(b'{"type":"finish"}')
        out.append(_DONE_DATA)

    def encode_text(self, text: str, seq: int) -> bytes:
        """One ``text-delta`` chunk (after ``start`` / ``text-start`` when needed)."""
        if self._block == _TEXT:
            delta = self._delta_head + orjson.dumps(text) + b"}"
            return ID_DATA_BLOCK % (seq, delta) if self._ids else frame(delta)
        out: list[bytes] = []
        self._start(None, out)
        self._open_block(_TEXT, out)
        out.append(self._delta_head + orjson.dumps(text) + b"}")
        return frames(out, seq if self._ids else None)


def _input_start(call_id: str, name: str) -> bytes:
    return _dumps({"type": "tool-input-start", "toolCallId": call_id, "toolName": name})


def _input_available(call_id: str, call: _Call) -> bytes:
    part = {"type": "tool-input-available", "toolCallId": call_id, "toolName": call.name}
    part["input"] = call.input
    return _dumps(part)


def _output_error(call_id: str, text: str) -> bytes:
    return _dumps({"type": "tool-output-error", "toolCallId": call_id, "errorText": text})


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
        if kind in _TERMINAL_TYPES:
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
        return Done(_FROM_SDK_REASON.get(reason, reason.replace("-", "_")))

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


class VercelAIDialect:
    """``vercel-ai``: the AI SDK UI message stream, protocol v1."""

    name = "vercel-ai"
    headers: Mapping[str, str] = {HEADER: UI_MESSAGE_STREAM_VERSION}
    resume_needs_history = True
    """A resumed stream's encoder is primed with the events the client has (see ``prime``)."""
    header: str | None = HEADER
    end_marker: str | None = END_MARKER

    def claims(self, payload: object) -> bool:
        """A ``type`` only the AI SDK writes (``text-delta``, ``finish``, ``data-*``,
        ``tool-*``...), ``start`` with a ``messageId`` or ``error`` with an ``errorText``."""
        if not isinstance(payload, dict):
            return False
        kind = payload.get("type")
        if not isinstance(kind, str):
            return False
        return (
            kind in _OWN_TYPES
            or kind.startswith(_OWN_PREFIXES)
            or (kind == "start" and "messageId" in payload)
            or (kind == "error" and "errorText" in payload)
        )

    def ends(self, data: str) -> bool:
        """``[DONE]``, or a ``finish``, ``abort`` or ``error`` chunk."""
        if is_marker(data, END_MARKER):
            return True
        obj = json_object(data)
        return obj is not None and obj.get("type") in _TERMINAL_TYPES

    def __init__(self, *, finish_reason: bool = True, message_id: str | None = None) -> None:
        self._finish_reason = finish_reason
        self._message_id = message_id

    def encoder(self, options: EncoderOptions) -> VercelAIEncoder:
        """A new encoder for one outgoing stream."""
        return VercelAIEncoder(
            options, finish_reason=self._finish_reason, message_id=self._message_id
        )

    def decoder(self) -> VercelAIDecoder:
        """A new decoder for one incoming stream."""
        return VercelAIDecoder()
