"""The ``openai`` dialect's encoder: typed events -> ``chat.completion.chunk`` SSE events.

Strategy: the chunks of one stream share everything but their delta, so the role chunk fixes
the bytes before the delta (``_head``) and after it (``_tail``) once, and every later chunk is
a concatenation. What is written for each event, and why no ``id:`` or ``retry:``, is in the
package docstring (``surestream.dialects.openai``). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from surestream.dialects._base import EncoderOptions, frames
from surestream.dialects.openai._wire import (
    DONE_MARKER,
    arguments_text,
    error_object,
    sdk_finish_reason,
)
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
from surestream.sse import frame

__all__ = ["OpenAIEncoder"]

_ROLE_DELTA = b'{"role":"assistant","content":""}'
_DONE_DATA = DONE_MARKER.encode()


class OpenAIEncoder:
    """Encodes typed events as ``chat.completion.chunk`` SSE events."""

    __slots__ = (
        "_calls",
        "_created",
        "_forward_tool_calls",
        "_head",
        "_include_usage",
        "_model",
        "_started",
        "_stream_id",
        "_tail",
    )

    def __init__(
        self,
        options: EncoderOptions,
        *,
        forward_tool_calls: bool = False,
        include_usage: bool = False,
    ) -> None:
        self._include_usage = include_usage
        self._stream_id = options.stream_id
        self._model = options.model
        self._created = options.created
        self._forward_tool_calls = forward_tool_calls
        self._calls: dict[str, list[int]] = {}
        """Tool call id -> [its index, 1 once argument text was written for it]."""
        self._started = False
        self._head = b""
        self._tail = (
            b',"logprobs":null,"finish_reason":null}]'
            + (b',"usage":null' if include_usage else b"")
            + b"}"
        )

    def preamble(self) -> bytes:
        """Nothing: a ``retry``-only block breaks the OpenAI Python SDK (package docstring)."""
        return b""

    def _chunk_id(self) -> str:
        sid = self._stream_id
        return sid if sid.startswith("chatcmpl-") else "chatcmpl-" + sid

    def _start(self, start: Start | None) -> bytes:
        """The role chunk; fixes the id and model every later chunk repeats."""
        if start is not None:
            self._stream_id = self._stream_id or (start.stream or "")
            self._model = self._model or (start.model or "")
        top = {
            "id": self._chunk_id(),
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
        }
        self._head = orjson.dumps(top)[:-1] + b',"choices":[{"index":0,"delta":'
        self._started = True
        return self._head + _ROLE_DELTA + self._tail

    def _delta(self, delta: bytes) -> bytes:
        """One chunk with ``delta`` (after the role chunk if none was written yet)."""
        role = b"" if self._started else frame(self._start(None))
        return role + frame(self._head + delta + self._tail)

    def encode(self, event: Event, seq: int) -> bytes:
        """The chunks of one event; ``b""`` for the events OpenAI has no place for."""
        if type(event) is Text:
            return self.encode_text(event.text, seq)
        if isinstance(event, Reasoning):
            if event.opaque:
                return b""
            return self._delta(b'{"reasoning_content":' + orjson.dumps(event.text) + b"}")
        if isinstance(event, ToolCallStart | ToolCallDelta | ToolCall):
            return self._tool_call(event) if self._forward_tool_calls else b""
        payloads: list[bytes] = []
        if isinstance(event, Start):
            if self._started:
                return b""
            payloads.append(self._start(event))
        elif isinstance(event, Done):
            if not self._started:
                payloads.append(self._start(None))
            reason = orjson.dumps(sdk_finish_reason(event.finish_reason))
            usage_null = b',"usage":null' if self._include_usage else b""
            payloads.append(
                self._head
                + b'{},"logprobs":null,"finish_reason":'
                + reason
                + b"}]"
                + usage_null
                + b"}"
            )
            if self._include_usage:
                payloads.append(self._usage_chunk(event.usage))
            payloads.append(_DONE_DATA)
        elif isinstance(event, Error):
            payloads.append(error_object(event))
        else:
            return b""
        return frames(payloads)

    def _tool_call(self, event: ToolCallStart | ToolCallDelta | ToolCall) -> bytes:
        call = self._calls.get(event.id)
        if isinstance(event, ToolCallDelta):
            if call is None or not event.args:
                return b""
            call[1] = 1
            return self._fragment({"index": call[0], "function": {"arguments": event.args}})
        if call is None:
            call = self._calls[event.id] = [len(self._calls), 0]
            fragment: dict[str, Any] = {"index": call[0], "id": event.id, "type": "function"}
            if isinstance(event, ToolCallStart):
                fragment["function"] = {"name": event.name, "arguments": ""}
            else:
                call[1] = 1
                fragment["function"] = {"name": event.name, "arguments": arguments_text(event.args)}
            return self._fragment(fragment)
        if isinstance(event, ToolCall) and not call[1]:
            call[1] = 1
            arguments = arguments_text(event.args)
            return self._fragment({"index": call[0], "function": {"arguments": arguments}})
        return b""

    def _fragment(self, fragment: dict[str, Any]) -> bytes:
        return self._delta(b'{"tool_calls":[' + orjson.dumps(fragment) + b"]}")

    def _usage_chunk(self, usage: Mapping[str, Any] | None) -> bytes:
        counts: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0}
        counts.update(usage or {})
        if "total_tokens" not in counts:
            prompt, completion = counts["prompt_tokens"], counts["completion_tokens"]
            if isinstance(prompt, int) and isinstance(completion, int):
                counts["total_tokens"] = prompt + completion
        head = self._head[: -len(b'[{"index":0,"delta":')]
        return head + b'[],"usage":' + orjson.dumps(counts) + b"}"

    def encode_text(self, text: str, seq: int) -> bytes:
        """One ``delta.content`` chunk (after the role chunk if none was written yet)."""
        if not self._started:
            role = self._start(None)
            return frames([role, self._content(text)])
        return frame(self._content(text))

    def prime(self, history: Iterable[Event]) -> None:
        """Encode ``history`` and discard it (OpenAI clients never resume)."""
        for event in history:
            self.encode(event, 0)

    def _content(self, text: str) -> bytes:
        return self._head + b'{"content":' + orjson.dumps(text) + b"}" + self._tail
