"""The numbers of a stream: its time limits with their defaults, and the grammar of its ids.

Strategy: every default that more than one layer uses is defined here once (the server, the
hub, the client and the gateway's settings import them), so no two public constants share a
name with different values. Time is an argument everywhere in ``surestream.lifecycle``; the
I/O layers take a ``Clock`` to be testable. Sans-IO.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "DEFAULT_CLIENT_IDLE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_IDLE_TIMEOUT",
    "MAX_SEQ_DIGITS",
    "NO_TIMEOUTS",
    "Clock",
    "Timeouts",
    "parse_seq",
]

Clock: TypeAlias = Callable[[], float]
"""A monotonic clock in seconds (``time.monotonic``); the I/O layers take one to be testable."""

DEFAULT_HEARTBEAT = 15.0
"""Seconds without a write after which a ``: ping`` comment is sent (proxies keep the line)."""

DEFAULT_IDLE_TIMEOUT = 300.0
"""Seconds a stream's source may go without any event before the stream ends with ``error``
``idle_timeout``. Every event counts, ``Reasoning`` and ``ToolCallDelta`` included."""

DEFAULT_CLIENT_IDLE_TIMEOUT = DEFAULT_IDLE_TIMEOUT + 30.0
"""Seconds a client waits on the network without a complete event (heartbeats do not count)
before it ends the stream as interrupted: longer than ``DEFAULT_IDLE_TIMEOUT``, so the
server's own ``idle_timeout`` verdict arrives first."""

MAX_SEQ_DIGITS = 18
"""Digits of the largest seq an id may name (below 2**63, so every store can hold it)."""


def parse_seq(event_id: str | None) -> int | None:
    """The seq an SSE ``id`` (or ``Last-Event-ID``) names, or None when it names none.

    A seq is 1 to ``MAX_SEQ_DIGITS`` ASCII digits: ``"³"``, ``"٣"`` (digits to ``isdigit``),
    ``"-1"``, ``" 7"``, ``"1e3"`` and ``""`` are not seqs.
    """
    if (
        event_id is None
        or not 0 < len(event_id) <= MAX_SEQ_DIGITS
        or not event_id.isascii()
        or not event_id.isdigit()
    ):
        return None
    return int(event_id)


def _check_timeout(name: str, value: float | None) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number or None")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The time limits of one stream, in seconds; None disables one.

    ``heartbeat``: a ``: ping`` after that long without a write. ``idle_timeout``: ``error``
    ``idle_timeout`` after that long without an event from the source. ``first_event_timeout``:
    ``error`` ``first_event_timeout`` when the source yields nothing but ``Start`` for that long
    (until then it replaces ``idle_timeout``, so a slow first token may take longer than later
    silences). ``max_duration``: ``error`` ``max_duration`` once the stream is that old.
    """

    heartbeat: float | None = DEFAULT_HEARTBEAT
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    first_event_timeout: float | None = None
    max_duration: float | None = None

    def __post_init__(self) -> None:
        for name in ("heartbeat", "idle_timeout", "first_event_timeout", "max_duration"):
            _check_timeout(name, getattr(self, name))


NO_TIMEOUTS = Timeouts(heartbeat=None, idle_timeout=None)
"""No time limit at all (the hub's producers: the gateway bounds its sources itself)."""
