"""What every wire dialect provides: an encoder of typed events and a decoder back to them.

Strategy: a ``Dialect`` is a stateless description (name, extra response headers) that makes
one ``StreamEncoder`` per outgoing stream and one ``StreamDecoder`` per incoming stream.
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from surestream.events import Event
from surestream.sse import ServerSentEvent

__all__ = ["Dialect", "EncoderOptions", "StreamDecoder", "StreamEncoder", "frame"]


@dataclass(frozen=True, slots=True)
class EncoderOptions:
    """Per-stream settings an encoder may use.

    ``stream_id`` and ``model`` name the stream (the OpenAI dialect puts them in each chunk);
    ``ids`` writes ``id: <seq>`` lines for resume; ``named`` (native only) adds
    ``event: <type>``; ``include_usage`` (OpenAI only) adds the usage chunk; ``retry`` is
    the reconnection time in ms written in the preamble (None: none written); ``created``
    (OpenAI only) is the Unix time in seconds that every chunk carries.
    """

    stream_id: str = ""
    model: str = ""
    ids: bool = True
    named: bool = False
    include_usage: bool = False
    retry: int | None = 3000
    created: int = 0


def frame(data: bytes, seq: int | None = None) -> bytes:
    """One SSE block: ``id: <seq>`` when ``seq`` is given, then one ``data`` line.

    ``data`` must be a single line (compact JSON from orjson always is).
    """
    if seq is None:
        return b"data: " + data + b"\n\n"
    return b"id: %d\ndata: %b\n\n" % (seq, data)


class StreamEncoder(Protocol):
    """Turns the typed events of one outgoing stream into bytes."""

    def preamble(self) -> bytes:
        """Bytes written once, before the first event (e.g. ``retry: 3000``)."""
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

    def encoder(self, options: EncoderOptions) -> StreamEncoder:
        """A new encoder for one outgoing stream."""
        ...

    def decoder(self) -> StreamDecoder:
        """A new decoder for one incoming stream."""
        ...
