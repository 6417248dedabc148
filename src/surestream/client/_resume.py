"""The resume rules of the client: when to reconnect, how long to wait, which events to drop.

Strategy: two small sans-IO pieces that ``EventStream`` drives. ``Backoff`` turns "the n-th
consecutive failed attempt" and the server's ``retry:`` into a delay: exponential from the
server's reconnection time (``retry_delay`` when it sent none), capped at ``max_retry_delay``,
plus up to ``jitter`` of itself at random so that clients cut off together do not come back
together. ``ReplayFilter`` makes delivery exactly-once across a reconnection: the server
replays from ``Last-Event-ID`` + 1, but one that replays more (or everything) must not make
the caller see an event twice. After a reconnection it holds the SSE events that carry no id
of their own (a dialect may spread one event over several SSE blocks and put the id on the
last one) until an id arrives: a numeric id at or below the resume point drops the held
group as a replay; any other id releases it and ends the filtering. Only numeric ids can be
ordered, so a server with other ids is trusted to replay from the right place.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from surestream.sse import ServerSentEvent

__all__ = [
    "DEFAULT_JITTER",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_DELAY",
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
    """Delays between reconnection attempts: exponential, capped, jittered."""

    retry_delay: float = DEFAULT_RETRY_DELAY
    max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY
    jitter: float = DEFAULT_JITTER
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, failures: int, server_retry_ms: int | None = None) -> float:
        """Seconds to wait before attempt number ``failures`` (1 for the first) of a series."""
        base = self.retry_delay if server_retry_ms is None else server_retry_ms / 1000
        delay = min(self.max_retry_delay, base * 2.0 ** max(0, failures - 1))
        return delay * (1 + self.jitter * self.random())


class ReplayFilter:
    """Drops events a server replays twice after a reconnection with ``Last-Event-ID``."""

    __slots__ = ("_held", "_previous_id", "_resume_seq", "active")

    def __init__(self) -> None:
        self.active = False
        """True while events of the current connection still need checking."""
        self._resume_seq: int | None = None
        self._previous_id: str | None = None
        self._held: list[ServerSentEvent] = []

    def reconnected(self, last_event_id: str | None) -> None:
        """A new connection resumes after ``last_event_id``; filter until a new id shows."""
        self._held = []
        self._previous_id = None
        self._resume_seq = _seq(last_event_id)
        self.active = self._resume_seq is not None

    def accept(self, sse: ServerSentEvent) -> list[ServerSentEvent]:
        """The events to deliver now, given the next received one (called while ``active``)."""
        own_id = sse.id if sse.id != self._previous_id else None
        self._previous_id = sse.id
        if own_id is None:
            self._held.append(sse)
            return []
        held, self._held = self._held, []
        seq = _seq(own_id)
        if (
            seq is not None
            and self._resume_seq is not None
            and seq <= self._resume_seq
            and not _is_verdict(sse)
        ):
            return []
        self.active = False
        held.append(sse)
        return held

    def flush(self) -> list[ServerSentEvent]:
        """The connection ended while filtering: release what was held (its ids are unknown)."""
        held, self._held = self._held, []
        self.active = False
        return held


def _is_verdict(sse: ServerSentEvent) -> bool:
    """A terminal event the server made up at the resume point (a shutdown, a timeout).

    Such a verdict is not in the journal and carries the id of the last event before it, so
    it must not be taken for a replayed duplicate; a replayed *journal* terminal never has an
    id at or before the resume point (the client would not have resumed after it).
    """
    try:
        obj = orjson.loads(sse.data)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(obj, dict):
        return False
    return obj.get("type") in ("done", "error") or obj.get("done") is True or "error" in obj


def _seq(event_id: str | None) -> int | None:
    if event_id is None or not event_id.isascii() or not event_id.isdigit():
        return None
    return int(event_id)
