"""The native dialect (protocol version 1): unnamed events, one JSON object each, ids for resume.

Strategy: each typed event is one SSE block ``id: <seq>`` + ``data: <native JSON>``; no
``event:`` line unless ``named`` mode is asked for, so ``EventSource.onmessage`` and every
SSE client see every event. The terminal event is ``done`` or ``error``; nothing follows it.
See docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from surestream.dialects._base import EncoderOptions
from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events import Done, Error, Event, Unknown, dumps, from_json
from surestream.sse import ServerSentEvent

__all__ = ["PROTOCOL_VERSION", "NativeDecoder", "NativeDialect", "NativeEncoder"]

PROTOCOL_VERSION = "1"


class NativeEncoder:
    """Encodes typed events as native SSE blocks."""

    __slots__ = ("_ids", "_named", "_retry")

    def __init__(self, options: EncoderOptions) -> None:
        self._ids = options.ids
        self._named = options.named
        self._retry = options.retry

    def preamble(self) -> bytes:
        """``retry: <ms>`` and a blank line, or nothing."""
        return b"" if self._retry is None else b"retry: %d\n\n" % self._retry

    def encode(self, event: Event, seq: int) -> bytes:
        """One block per event: ``id``, optional ``event`` name, one ``data`` line of JSON."""
        head = b"id: %d\n" % seq if self._ids else b""
        if self._named:
            name = event.type
            if "\n" in name or "\r" in name:
                raise LocalProtocolError(f"event type {name!r} cannot be an SSE event name")
            head += b"event: " + name.encode() + b"\n"
        # orjson escapes every control character, so the JSON is always a single line.
        return head + b"data: " + dumps(event) + b"\n\n"

    def encode_text(self, text: str, seq: int) -> bytes:
        """The bytes of ``Text(text)`` without building the event object."""
        head = b"id: %d\n" % seq if self._ids else b""
        if self._named:
            head += b"event: text\n"
        return head + b'data: {"type":"text","text":' + orjson.dumps(text) + b"}\n\n"

    def prime(self, history: Iterable[Event]) -> None:
        """Nothing to do: each native event stands alone."""


class NativeDecoder:
    """Reads native SSE events back into typed events; non-JSON data raises."""

    __slots__ = ("_finished",)

    def __init__(self) -> None:
        self._finished = False

    @property
    def finished(self) -> bool:
        """True once ``done`` or ``error`` arrived."""
        return self._finished

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """The one typed event in ``sse.data``."""
        try:
            obj = orjson.loads(sse.data)
        except orjson.JSONDecodeError:
            raise RemoteProtocolError(f"native event data is not JSON: {sse.data[:80]!r}") from None
        if not isinstance(obj, dict):
            return [Unknown("", {"data": obj})]
        event = from_json(obj)
        if isinstance(event, Done | Error):
            self._finished = True
        return [event]


class NativeDialect:
    """``native``: the default dialect of surestream."""

    name = "native"
    headers: Mapping[str, str] = {"Surestream-Protocol": PROTOCOL_VERSION}
    resume_needs_history = False
    """Each event stands alone: a resumed stream needs nothing from before it."""

    def encoder(self, options: EncoderOptions) -> NativeEncoder:
        """A new native encoder."""
        return NativeEncoder(options)

    def decoder(self) -> NativeDecoder:
        """A new native decoder."""
        return NativeDecoder()
