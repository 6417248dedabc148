"""The limits of one ``EventStreamResponse``, checked once and kept in one frozen object.

The time rules (heartbeat, idle, first-event and duration deadlines) are the lifecycle's
``Timeouts``; the rest bound the I/O of a response: how long one write may wait, how many
encoded bytes may wait for the client, how long the source may take to close.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from surestream.lifecycle import Timeouts

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_SEND_TIMEOUT",
    "RETRY_AFTER",
    "ResponseLimits",
    "response_limits",
]

DEFAULT_SEND_TIMEOUT = 30.0
"""Seconds one write may wait for a client that stopped reading before it is dropped."""
DEFAULT_MAX_BUFFER = 64 * 1024
"""Bytes of encoded events held for the client before the source is no longer pulled."""
DEFAULT_CLOSE_TIMEOUT = 5.0
"""Seconds the source's ``finally`` / ``aclose()`` may take once the stream has ended."""
RETRY_AFTER = 1
"""Seconds in the ``Retry-After`` of every 429 and 503 a server decides itself (a full
server, a store that is down, a shutdown), before any stream starts."""


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """Every limit of one ``EventStreamResponse`` (see there), checked once.

    ``timeouts`` are the stream's time rules (``surestream.lifecycle.Timeouts``); the rest
    bound the I/O: ``send_timeout`` one write, ``max_buffer`` the bytes waiting for the
    client, ``close_timeout`` the source's ``aclose()``.
    """

    timeouts: Timeouts = field(default_factory=Timeouts)
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT
    max_buffer: int = DEFAULT_MAX_BUFFER
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT

    def __post_init__(self) -> None:
        if self.send_timeout is not None and not self.send_timeout > 0:
            raise ValueError("send_timeout must be a positive number or None")
        if self.close_timeout is None or not self.close_timeout > 0:
            raise ValueError("close_timeout must be a positive number")
        if self.max_buffer < 1:
            raise ValueError("max_buffer must be >= 1")


@functools.lru_cache(maxsize=64)
def response_limits(
    heartbeat: float | None,
    idle_timeout: float | None,
    first_event_timeout: float | None,
    max_duration: float | None,
    send_timeout: float | None,
    max_buffer: int,
    close_timeout: float,
) -> ResponseLimits:
    """The limits of a response, one shared object per combination in use."""
    timeouts = Timeouts(heartbeat, idle_timeout, first_event_timeout, max_duration)
    return ResponseLimits(timeouts, send_timeout, max_buffer, close_timeout)
