"""The ``vercel-ai`` dialect's encoder: typed events -> UI message stream chunks.

Strategy: the encoder is a state machine over one message -- the open text or reasoning
block, the open step, and what it wrote of each tool call -- so that every chunk it writes is
valid where it stands (a delta inside its block, a tool output after its input, nothing left
open at the end). The mapping and the resume rule (``prime``) are in the package docstring
(``surestream.dialects.vercel_ai``). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from surestream.dialects._base import EncoderOptions, frames
from surestream.dialects.vercel_ai._wire import END_MARKER, TO_SDK_REASON
from surestream.events import (
    Data,
    Done,
    Error,
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
from surestream.sse import ID_DATA_BLOCK, frame, retry_field

__all__ = ["VercelAIEncoder"]

_DONE_DATA = END_MARKER.encode()
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
        if type(event) is Unknown or (type(event) is Reasoning and event.opaque):
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
            reason = TO_SDK_REASON.get(event.finish_reason, "other")
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
