"""The ``vercel-ai`` dialect: the AI SDK "UI message stream" (v1), for ``useChat`` front ends.

Strategy: each UI message chunk is one unnamed SSE event whose data is a JSON object with a
``type`` (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol, schema in vercel/ai
``packages/ai/src/ui-message-stream/ui-message-chunks.ts``); the response carries the header
``x-vercel-ai-ui-message-stream: v1`` and ends with ``data: [DONE]``. The encoder maps:

- ``Start`` -> ``{"type":"start","messageId":...}`` (written first even without a ``Start``);
- ``Text`` -> ``text-start`` before the first delta, then ``{"type":"text-delta",...}``; one
  text block, id ``text-1``, per message;
- ``Status`` -> a transient data part ``{"type":"data-status","data":{"message":...},
  "transient":true}`` (``useChat`` hands it to ``onData`` and keeps it out of the message);
- ``Data`` -> ``{"type":"data-<name>","data":...}`` (``data-data`` when unnamed);
- ``Done`` -> ``text-end`` if a text block is open, ``{"type":"finish","finishReason":...}``
  (the AI SDK's spelling: ``content-filter``, ``tool-calls``; ``other`` for reasons it does
  not know), then ``[DONE]``; ``Done("cancelled")`` writes ``{"type":"abort"}`` instead of
  ``finish``. ``usage`` is not sent (the protocol has no place for it);
- ``Error`` -> ``{"type":"error","errorText":<message>}`` then ``[DONE]``; the open text block
  is left unended, as the AI SDK does when a stream fails.

``finishReason`` on ``finish`` is what the AI SDK's own ``toUIMessageStream`` writes (v6, and
v5 since the backport of vercel/ai#9857). Older 5.0 clients validate chunks with a strict
schema and reject it: ``VercelAIDialect(finish_reason=False)`` writes the bare
``{"type":"finish"}`` of the protocol docs for them.

The decoder reads such a stream back: ``start`` -> ``Start``, ``text-delta`` -> ``Text``,
``data-status`` (transient, with a string ``message``) -> ``Status``, other ``data-*`` ->
``Data``, ``finish`` -> ``Done`` (reason in our spelling), ``abort`` -> ``Done("cancelled")``,
``error`` -> ``Error(upstream_error)``; ``[DONE]`` before any of those -> ``Done("stop")``.
Structural parts (``text-start``/``-end``, steps) give nothing; other parts (tools,
reasoning, sources, ...) give ``Unknown``. After the terminal event nothing more is
returned. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects._base import EncoderOptions, frame
from surestream.errors import RemoteProtocolError
from surestream.events import (
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Start,
    Status,
    Text,
    Unknown,
)
from surestream.sse import ServerSentEvent

__all__ = [
    "HEADER",
    "PROTOCOL_VERSION",
    "TEXT_ID",
    "VercelAIDecoder",
    "VercelAIDialect",
    "VercelAIEncoder",
]

HEADER = "x-vercel-ai-ui-message-stream"
"""The response header that tells the AI SDK client the stream is a UI message stream."""
PROTOCOL_VERSION = "v1"
"""Its value."""
TEXT_ID = "text-1"
"""The id of the one text block the encoder writes per message."""

_TO_SDK_REASON: dict[str, str] = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.CONTENT_FILTER: "content-filter",
    FinishReason.TOOL_CALLS: "tool-calls",
}
_FROM_SDK_REASON = {v: str(k) for k, v in _TO_SDK_REASON.items()}
_STRUCTURAL = frozenset({"text-start", "text-end", "start-step", "finish-step"})
_DONE_DATA = b"[DONE]"


def _dumps(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


class VercelAIEncoder:
    """Encodes typed events as UI message stream chunks."""

    __slots__ = (
        "_delta_head",
        "_finish_reason",
        "_ids",
        "_message_id",
        "_retry",
        "_started",
        "_text_open",
    )

    def __init__(self, options: EncoderOptions, *, finish_reason: bool = True) -> None:
        self._ids = options.ids
        self._retry = options.retry
        self._message_id = options.stream_id
        self._finish_reason = finish_reason
        self._started = False
        self._text_open = False
        self._delta_head = b'{"type":"text-delta","id":' + orjson.dumps(TEXT_ID) + b',"delta":'

    def preamble(self) -> bytes:
        """``retry: <ms>`` and a blank line, or nothing (the AI SDK ignores it)."""
        return b"" if self._retry is None else b"retry: %d\n\n" % self._retry

    def _blocks(self, payloads: list[bytes], seq: int) -> bytes:
        last = len(payloads) - 1
        return b"".join(
            frame(p, seq if self._ids and i == last else None) for i, p in enumerate(payloads)
        )

    def _start(self, start: Start | None, out: list[bytes]) -> None:
        if self._started:
            return
        self._started = True
        message_id = (start.stream if start is not None else None) or self._message_id
        part: dict[str, Any] = {"type": "start"}
        if message_id:
            part["messageId"] = message_id
        out.append(_dumps(part))

    def encode(self, event: Event, seq: int) -> bytes:
        """The chunks of one event; ``b""`` for unknown events."""
        if type(event) is Text:
            return self.encode_text(event.text, seq)
        out: list[bytes] = []
        if isinstance(event, Start):
            self._start(event, out)
        elif isinstance(event, Status):
            self._start(None, out)
            out.append(
                _dumps(
                    {"type": "data-status", "data": {"message": event.message}, "transient": True}
                )
            )
        elif isinstance(event, Data):
            self._start(None, out)
            out.append(_dumps({"type": "data-" + (event.name or "data"), "data": event.data}))
        elif isinstance(event, Done):
            self._start(None, out)
            if self._text_open:
                self._text_open = False
                out.append(_dumps({"type": "text-end", "id": TEXT_ID}))
            if event.finish_reason == FinishReason.CANCELLED:
                out.append(b'{"type":"abort"}')
            elif self._finish_reason:
                reason = _TO_SDK_REASON.get(event.finish_reason, "other")
                out.append(_dumps({"type": "finish", "finishReason": reason}))
            else:
                out.append(b'{"type":"finish"}')
            out.append(_DONE_DATA)
        elif isinstance(event, Error):
            self._start(None, out)
            out.append(_dumps({"type": "error", "errorText": event.message or event.code}))
            out.append(_DONE_DATA)
        return self._blocks(out, seq) if out else b""

    def encode_text(self, text: str, seq: int) -> bytes:
        """One ``text-delta`` chunk (after ``start`` / ``text-start`` when not yet written)."""
        delta = self._delta_head + orjson.dumps(text) + b"}"
        if self._text_open:
            if self._ids:
                return b"id: %d\ndata: %b\n\n" % (seq, delta)
            return b"data: " + delta + b"\n\n"
        out: list[bytes] = []
        self._start(None, out)
        self._text_open = True
        out.append(_dumps({"type": "text-start", "id": TEXT_ID}))
        out.append(delta)
        return self._blocks(out, seq)


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
        if data == "[DONE]":
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
        if kind == "start":
            message_id = part.get("messageId")
            return [Start(message_id if isinstance(message_id, str) else None)]
        if isinstance(kind, str) and kind.startswith("data-"):
            return [self._data(kind[5:], part)]
        if kind == "finish":
            self._finished = True
            reason = part.get("finishReason")
            if reason is None:
                return [Done(FinishReason.STOP)]
            if not isinstance(reason, str):
                raise RemoteProtocolError(
                    "UI message chunk 'finish': finishReason must be a string"
                )
            return [Done(_FROM_SDK_REASON.get(reason, reason.replace("-", "_")))]
        if kind == "abort":
            self._finished = True
            return [Done(FinishReason.CANCELLED)]
        if kind == "error":
            self._finished = True
            return [Error(str(ErrorCode.UPSTREAM_ERROR), _string(part, "errorText"), False)]
        return [Unknown(kind if isinstance(kind, str) else "", part)]

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
    headers: Mapping[str, str] = {HEADER: PROTOCOL_VERSION}

    def __init__(self, *, finish_reason: bool = True) -> None:
        self._finish_reason = finish_reason

    def encoder(self, options: EncoderOptions) -> VercelAIEncoder:
        """A new encoder for one outgoing stream."""
        return VercelAIEncoder(options, finish_reason=self._finish_reason)

    def decoder(self) -> VercelAIDecoder:
        """A new decoder for one incoming stream."""
        return VercelAIDecoder()
