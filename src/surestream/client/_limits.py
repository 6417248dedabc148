"""``Limits``: what one stream may make the client hold, read and do, whatever the server sends.

Strategy: a hostile or broken server must not exhaust the client, so each resource a stream
consumes has a bound, a named default and one place where it is checked (``EventStream``).
A stream that breaks one ends as interrupted, at once, without reconnecting (coming back
would bring the same bytes again), and ``interruption`` names the limit:

- ``max_event_size``: characters in one SSE event (a bigger one breaks the ``sse.Decoder``);
- ``max_bytes``: body bytes of the stream, across all its connections, counted *after*
  ``Content-Encoding`` decoding (a 454 KB gzip body can hold 671 MB of events);
- ``max_events``: SSE events of the stream, across all its connections (replays included);
- ``max_reconnects``: reconnections in all, however much each one brought (the count in a row
  without progress is ``aconnect``'s ``max_retries``).
"""

from __future__ import annotations

from dataclasses import dataclass

from surestream.sse import DEFAULT_MAX_EVENT_SIZE

__all__ = [
    "DEFAULT_CLIENT_MAX_BYTES",
    "DEFAULT_CLIENT_MAX_EVENTS",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_RECONNECTS",
    "Limits",
]

DEFAULT_CLIENT_MAX_BYTES = 256 * 1024 * 1024
"""Body bytes one stream may bring, decompressed, across its connections (256 MiB)."""

DEFAULT_CLIENT_MAX_EVENTS = 1_000_000
"""SSE events one stream may bring across its connections (a server journal holds 100,000)."""

DEFAULT_MAX_RECONNECTS = 100
"""Reconnections one stream may make in all."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one stream (see the module docstring); every field has its default."""

    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    max_bytes: int = DEFAULT_CLIENT_MAX_BYTES
    max_events: int = DEFAULT_CLIENT_MAX_EVENTS
    max_reconnects: int = DEFAULT_MAX_RECONNECTS

    def __post_init__(self) -> None:
        for name in ("max_event_size", "max_bytes", "max_events"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_reconnects < 0:
            raise ValueError("max_reconnects must be >= 0")
