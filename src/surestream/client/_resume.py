"""The resume rules of the client: when to reconnect, how long to wait, which events to drop.

Strategy: two small sans-IO pieces that ``EventStream`` drives (the rules about outcomes,
held errors and resume ids are ``surestream.lifecycle``'s). ``Backoff`` turns "the n-th
consecutive failed attempt" and the server's ``retry:`` into a delay: exponential from the
server's reconnection time (``retry_delay`` when it sent none), never below
``min_retry_delay`` (a server that says ``retry: 0`` does not get a reconnection storm),
capped at ``max_retry_delay``, plus up to ``jitter`` of itself at random so that clients cut
off together do not come back together.

``ReplayFilter`` makes delivery exactly-once across a reconnection: the server replays from
``Last-Event-ID`` + 1, but one that replays more (or everything) must not make the caller see
an event twice. After a reconnection it holds the SSE events that carry no id of their own (a
dialect may spread one event over several SSE blocks and put the id on the last one) until an
id arrives, which decides for the held group:

- the resume id is a seq (``lifecycle.parse_seq``): an id naming a seq at or below it is a
  replay, dropped; any other id releases the group and ends the filtering;
- the resume id is opaque (not a seq): ids cannot be ordered, but a replay can still be seen.
  When the connection's first id is the stream's first id or the resume id itself, the server
  is replaying: everything up to and including the resume id is dropped, and the next id
  releases. Any other first id is trusted to follow the resume point.

Either way a terminal event at the resume point is released, not dropped: a verdict the server
made up when the client came back carries the id of the last event before it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from surestream.lifecycle import parse_seq
from surestream.sse import ServerSentEvent

__all__ = [
    "DEFAULT_JITTER",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_DELAY",
    "DEFAULT_MIN_RETRY_DELAY",
    "DEFAULT_RETRY_DELAY",
    "Backoff",
    "ReplayFilter",
    "fatal_status",
]

DEFAULT_MAX_RETRIES = 5
"""Reconnection attempts in a row without a new event before the client gives up."""

DEFAULT_RETRY_DELAY = 1.0
"""Seconds before the first reconnection when the server sent no ``retry:``."""

DEFAULT_MAX_RETRY_DELAY = 30.0
"""Cap on the delay between two reconnection attempts, in seconds (before jitter)."""

DEFAULT_MIN_RETRY_DELAY = 0.1
"""Floor on the delay before any reconnection, in seconds, whatever ``retry:`` says."""

DEFAULT_JITTER = 0.5
"""Random extra delay, as a fraction of the delay (0.5: up to 50 % longer)."""


def fatal_status(status: int) -> bool:
    """True when a reconnection answered with ``status`` must not be retried.

    404 and 410 say the stream is gone; other 4xx (bad credentials, bad request) will not get
    better by waiting, except 408 and 429.
    """
    return 400 <= status < 500 and status not in (408, 429)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: exponential, floored, capped, jittered.

    ``max_retry_delay`` wins over ``min_retry_delay`` when a caller sets it lower.
    """

    retry_delay: float = DEFAULT_RETRY_DELAY
    max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY
    jitter: float = DEFAULT_JITTER
    random: Callable[[], float] = field(default=random.random, compare=False)
    min_retry_delay: float = DEFAULT_MIN_RETRY_DELAY

    def __post_init__(self) -> None:
        for name in ("retry_delay", "max_retry_delay", "jitter", "min_retry_delay"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")

    def delay(self, failures: int, server_retry_ms: int | None = None) -> float:
        """Seconds to wait before attempt number ``failures`` (1 for the first) of a series.

        ``server_retry_ms`` is the server's ``retry:``, which may be any number of digits.
        """
        cap = self.max_retry_delay
        if server_retry_ms is None:
            base = self.retry_delay
        elif server_retry_ms >= cap * 1000:
            base = cap
        else:
            base = server_retry_ms / 1000
        base = max(base, self.min_retry_delay)
        delay = min(cap, base * 2.0 ** min(max(0, failures - 1), 64))
        return delay * (1 + self.jitter * self.random())


class ReplayFilter:
    """Drops events a server replays twice after a reconnection with ``Last-Event-ID``."""

    __slots__ = (
        "_first_id",
        "_held",
        "_previous_id",
        "_replaying",
        "_resume_id",
        "_resume_seq",
        "active",
    )

    def __init__(self) -> None:
        self.active = False
        """True while events of the current connection still need checking."""
        self._resume_id: str | None = None
        self._resume_seq: int | None = None
        self._first_id: str | None = None
        self._replaying: bool | None = None
        self._previous_id: str | None = None
        self._held: list[ServerSentEvent] = []

    def reconnected(self, last_event_id: str | None, first_id: str | None) -> None:
        """A new connection resumes after ``last_event_id``; ``first_id`` is the first id the
        stream ever showed. Filter until an event proves new."""
        self._held = []
        self._previous_id = None
        self._resume_id = last_event_id
        self._resume_seq = parse_seq(last_event_id)
        self._first_id = first_id
        self._replaying = None
        self.active = last_event_id is not None

    def accept(self, sse: ServerSentEvent, *, terminal: bool) -> list[ServerSentEvent]:
        """The events to deliver now, given the next received one (called while ``active``);
        ``terminal`` says ``sse`` carries a terminal event."""
        own_id = sse.id if sse.id != self._previous_id else None
        self._previous_id = sse.id
        if own_id is None:
            self._held.append(sse)
            return []
        held, self._held = self._held, []
        if self._replayed(own_id) and not terminal:
            return []
        self.active = False
        held.append(sse)
        return held

    def _replayed(self, own_id: str) -> bool:
        resume_seq = self._resume_seq
        if resume_seq is not None:
            seq = parse_seq(own_id)
            return seq is not None and seq <= resume_seq
        if self._replaying is None:
            self._replaying = own_id in (self._first_id, self._resume_id)
        if not self._replaying:
            return False
        if own_id == self._resume_id:
            self._replaying = False
        return True

    def flush(self) -> list[ServerSentEvent]:
        """The connection ended while filtering: release what was held (its ids are unknown)."""
        held, self._held = self._held, []
        self.active = False
        return held
