"""What every wire dialect provides: an encoder of typed events and a decoder back to them.

Strategy: a ``Dialect`` is a stateless description of everything a wire shape means -- its
name and response headers, how to recognise it (a header, a payload's shape), its end marker
and its terminal events -- that makes one ``StreamEncoder`` per outgoing stream and one
``StreamDecoder`` per incoming stream. Nothing outside a dialect's module knows its shapes:
the client's detection, ``check`` and the resume rules ask the registry
(``surestream.dialects``).
Encoders and decoders are small sans-IO state machines: ``StreamEncoder.encode(event, seq)``
returns the bytes for one typed event (possibly several SSE blocks, possibly none) and
``StreamDecoder.decode(sse)`` turns one received ``ServerSentEvent`` into zero or more typed
events. ``seq`` is the event's sequence number in its stream; encoders that write ``id:``
put it on the *last* block an event produces, so ``Last-Event-ID: n`` always means "event n
arrived whole". An encoder whose output depends on earlier events (open blocks, started
calls) says so with ``Dialect.resume_needs_history``: a stream resumed after event n then
gets an encoder ``prime``d with events 0..n, so it continues validly where the client stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from surestream.events import Event
from surestream.sse import ServerSentEvent, frame

__all__ = [
    "Dialect",
    "EncoderOptions",
    "StreamDecoder",
    "StreamEncoder",
    "frames",
    "is_marker",
    "json_object",
]


@dataclass(frozen=True, slots=True)
class EncoderOptions:
    """Per-stream settings any encoder may use; a dialect's own options are on the dialect
    object (``NativeDialect(named=)``, ``OpenAIDialect(include_usage=)``, ...).

    ``stream_id`` and ``model`` name the stream (the OpenAI dialect puts them in each chunk);
    ``ids`` writes ``id: <seq>`` lines for resume; ``retry`` is the reconnection time in ms, a
    ``retry:`` line at the head of the first event's block (None: none written); ``created``
    is the Unix time in seconds of the stream (every OpenAI chunk carries it).
    """

    stream_id: str = ""
    model: str = ""
    ids: bool = True
    retry: int | None = 3000
    created: int = 0


def frames(payloads: Sequence[bytes], seq: int | None = None) -> bytes:
    """The SSE blocks of one event, one ``data`` line each, ``id: <seq>`` on the last one.

    So ``Last-Event-ID: n`` means that event n arrived whole. Each payload must be a single
    line (compact JSON from orjson always is).
    """
    last = len(payloads) - 1
    return b"".join([frame(p, seq if i == last else None) for i, p in enumerate(payloads)])


def is_marker(data: str, marker: str | None) -> bool:
    """True when ``data`` is the end ``marker`` (surrounding whitespace allowed)."""
    return marker is not None and data.strip() == marker


def json_object(data: str) -> dict[str, Any] | None:
    """``data`` parsed, when it is a JSON object; None otherwise."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class StreamEncoder(Protocol):
    """Turns the typed events of one outgoing stream into bytes."""

    def preamble(self) -> bytes:
        """Bytes written once, before the first event: lines that lead its block (``retry``)."""
        ...

    def encode(self, event: Event, seq: int) -> bytes:
        """The bytes of one event; ``b""`` when the dialect has nothing to say for it."""
        ...

    def encode_text(self, text: str, seq: int) -> bytes:
        """Fast path for ``encode(Text(text), seq)``, byte-for-byte the same."""
        ...

    def prime(self, history: Iterable[Event]) -> None:
        """Take in the events a resuming client already has, writing nothing for them."""
        ...


class StreamDecoder(Protocol):
    """Turns the received SSE events of one incoming stream into typed events."""

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by ``sse`` (none for keep-alives and markers)."""
        ...

    @property
    def finished(self) -> bool:
        """True once the dialect's own end of stream arrived (then nothing more follows)."""
        ...


class Dialect(Protocol):
    """A wire dialect: its name, its response headers, its encoder and its decoder."""

    @property
    def name(self) -> str:
        """The name used in ``?dialect=``."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers this dialect adds beside the SSE ones."""
        ...

    @property
    def resume_needs_history(self) -> bool:
        """True when a resumed stream's encoder must be ``prime``d with the events before it."""
        ...

    @property
    def header(self) -> str | None:
        """A response header (lower case) whose presence says a stream is in this dialect."""
        ...

    @property
    def heartbeat(self) -> bytes:
        """What the server writes when nothing was written for ``heartbeat`` seconds:
        ``sse.HEARTBEAT`` (a ``: ping`` comment), or the wire's own keep-alive event."""
        ...

    @property
    def end_marker(self) -> str | None:
        """The data of the event this dialect writes last (``[DONE]``), if it has one."""
        ...

    def claims(self, payload: object) -> bool:
        """True when ``payload`` (one event's data, parsed JSON) has this dialect's shape.

        Asked in ``DETECTION_ORDER``: a dialect need not rule out the shapes of the dialects
        asked before it.
        """
        ...

    def ends(self, data: str) -> bool:
        """True when an SSE event with ``data`` ends a stream in this dialect (its terminal
        event, or its end marker)."""
        ...

    def encoder(self, options: EncoderOptions) -> StreamEncoder:
        """A new encoder for one outgoing stream."""
        ...

    def decoder(self) -> StreamDecoder:
        """A new decoder for one incoming stream."""
        ...
