"""The native dialect (protocol version 1): unnamed events, one JSON object each, ids for resume.

Strategy: each typed event is one SSE block ``id: <seq>`` + ``data: <native JSON>``; no
``event:`` line unless ``named`` mode is asked for, so ``EventSource.onmessage`` and every
SSE client see every event. The terminal event is ``done`` or ``error``; nothing follows it.
See docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from surestream.dialects._base import EncoderOptions, json_object
from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events import (
    TERMINAL_TYPES,
    TYPE_NAMES,
    Done,
    Error,
    Event,
    Unknown,
    dumps,
    from_json,
)
from surestream.sse import HEARTBEAT, ID_DATA_BLOCK, ServerSentEvent, frame, retry_field

__all__ = ["PROTOCOL_VERSION", "NativeDecoder", "NativeDialect", "NativeEncoder"]

PROTOCOL_VERSION = "1"
_TERMINAL_TYPES = frozenset({Done.type, Error.type})


class NativeEncoder:
    """Encodes typed events as native SSE blocks."""

    __slots__ = ("_ids", "_named", "_plain", "_retry")

    def __init__(self, options: EncoderOptions, *, named: bool = False) -> None:
        self._ids = options.ids
        self._named = named
        self._retry = options.retry
        self._plain = options.ids and not named
        """Blocks of ``id`` and ``data`` only: the per-token path needs no ``frame`` call."""

    def preamble(self) -> bytes:
        """``retry: <ms>`` leading the first event's block, or nothing."""
        return b"" if self._retry is None else retry_field(self._retry)

    def encode(self, event: Event, seq: int) -> bytes:
        """One block per event: ``id``, optional ``event`` name, one ``data`` line of JSON."""
        name = None
        if self._named:
            if "\n" in event.type or "\r" in event.type:
                raise LocalProtocolError(f"event type {event.type!r} cannot be an SSE event name")
            name = event.type.encode()
        # orjson escapes every control character, so the JSON is always a single line.
        return frame(dumps(event), seq if self._ids else None, name)

    def encode_text(self, text: str, seq: int) -> bytes:
        """The bytes of ``Text(text)`` without building the event object."""
        data = b'{"type":"text","text":' + orjson.dumps(text) + b"}"
        if self._plain:
            return ID_DATA_BLOCK % (seq, data)
        return frame(data, seq if self._ids else None, b"text" if self._named else None)

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
        if isinstance(event, TERMINAL_TYPES):
            self._finished = True
        return [event]


class NativeDialect:
    """``native``: the default dialect of surestream.

    ``named`` adds ``event: <type>`` to every event, for front ends that listen with
    ``addEventListener`` (then ``onmessage`` gets nothing: docs/protocol.md, named mode).
    """

    name = "native"
    headers: Mapping[str, str] = {"Surestream-Protocol": PROTOCOL_VERSION}
    resume_needs_history = False
    """Each event stands alone: a resumed stream needs nothing from before it."""
    header: str | None = "surestream-protocol"
    end_marker: str | None = None
    """None: the terminal event itself is the end."""
    heartbeat: bytes = HEARTBEAT

    def claims(self, payload: object) -> bool:
        """An object whose ``type`` is one of the native event types."""
        return isinstance(payload, dict) and payload.get("type") in TYPE_NAMES

    def ends(self, data: str) -> bool:
        """A ``done`` or ``error`` event."""
        obj = json_object(data)
        return obj is not None and obj.get("type") in _TERMINAL_TYPES

    def __init__(self, *, named: bool = False) -> None:
        self.named = named

    def encoder(self, options: EncoderOptions) -> NativeEncoder:
        """A new native encoder."""
        return NativeEncoder(options, named=self.named)

    def decoder(self) -> NativeDecoder:
        """A new native decoder."""
        return NativeDecoder()
