"""The journal store contract: what ``MemoryStore`` and ``RedisStore`` both promise.

Strategy: a *journal* is the append-only list of one stream's events, numbered from 0 (the
``seq``, which is also the SSE ``id:``). One producer appends; any number of readers replay
from a seq onward and then follow live, each event exactly once and in order, until the
terminal event (``Done`` or ``Error``), which is always last and appended at most once: the
first terminal wins, so a producer, an explicit cancel and a reader that finds the producer
dead can race without ever writing two verdicts.

Every store method is a coroutine; ``read`` validates eagerly (so a caller can answer 404 /
410 / 400 before it starts a response) and then returns the live iterator. Around the events:

- *owner metadata* (``StreamInfo``): who may read the stream, which model answers;
- *retention*: a journal lives ``retention`` seconds after its terminal event, then a small
  tombstone remains for ``tombstone_ttl`` seconds so an expired stream (410) can be told
  from one that never existed (404);
- *caps*: ``max_events`` events and ``max_bytes`` bytes per journal (``event_size``); the
  terminal event is exempt, so a full journal refuses ordinary events (``JournalFull``) but
  can still be ended;
- *the producer lease*: a token with a short TTL that the producer renews (``heartbeat``); a
  reader that waits on a journal without a terminal event and finds the lease gone appends
  ``error`` ``producer_lost`` itself, so every later reader sees that verdict too;
- *watchers*: each process with subscribers on a stream keeps a membership with a TTL
  fresh, and its number of readers with it; the producer's ``heartbeat`` counts the
  processes to find orphans, and ``join`` sums the readers of every live process to hold a
  per-stream cap on readers across all the processes that share the store;
- *links*: a name that points at a stream for a while (``link`` / ``resolve``), such as a
  chat's latest stream for ``GET /v1/ui/chat/{id}/stream``.

The exceptions (defined in ``surestream.errors``, re-exported here), by whose fault::

    SurestreamError
    ├── StreamNotFound        no journal by that id ever existed here (HTTP 404)
    ├── StreamExpired         the journal existed but its retention ran out (HTTP 410)
    ├── InvalidResumePoint    a Last-Event-ID that is not a number or lies in the future (400);
    │                         also a ValueError
    ├── StreamExists          ``create`` with an id already used
    ├── JournalClosed         ``append`` after the terminal event
    ├── JournalFull           ``append`` past ``max_events`` or ``max_bytes``; the journal
    │                         can still be ended
    ├── TooManySubscribers    ``join`` of a stream that has its ``limit`` of readers (429)
    └── StoreUnavailable      the backing store (Redis) could not be reached in time, or
                              refused the command (full, read-only replica) (503)
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Self, TypeAlias

from surestream.errors import (
    InvalidResumePoint,
    JournalClosed,
    JournalFull,
    StoreUnavailable,
    StreamExists,
    StreamExpired,
    StreamNotFound,
    TooManySubscribers,
)
from surestream.events import Done, Error, ErrorCode, Event, Text, dumps, is_terminal
from surestream.lifecycle import parse_seq

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_MAX_TOMBSTONES",
    "DEFAULT_RETENTION",
    "DEFAULT_TOMBSTONE_TTL",
    "InvalidResumePoint",
    "JournalClosed",
    "JournalFull",
    "LeaseState",
    "PushSink",
    "PushingReader",
    "Store",
    "StoreUnavailable",
    "StreamExists",
    "StreamExpired",
    "StreamInfo",
    "StreamNotFound",
    "TooManySubscribers",
    "parse_last_event_id",
]

PushSink: TypeAlias = Callable[[int, Event], bool]
"""Takes one journaled event (its seq, the event) in the task that has it (the appending
task on the MemoryStore; on the RedisStore the task that got the append's reply or read the
entry; always in a task, never in a bare callback), without awaiting; False: not taken (the
reader's iterator returns it instead). A reader iterator that can push has
``push_to(sink) -> bool`` (``PushingReader``, both stores'); a sink must not raise."""


class PushingReader:
    """The part the stores' reader iterators share: an async iterator of ``(seq, event)``
    that, given a sink (``push_to``), hands it each event it gets while caught up."""

    __slots__ = ("pushed", "sink")

    def __init__(self) -> None:
        self.sink: PushSink | None = None
        self.pushed = 0
        """Events the sink took."""

    def __aiter__(self) -> Self:
        return self

    def push_to(self, sink: PushSink) -> bool:
        """Hand each event added while this reader is caught up to ``sink`` (True)."""
        self.sink = sink
        return True


DEFAULT_RETENTION = 600.0
"""Seconds a journal stays readable after its terminal event (10 minutes)."""

DEFAULT_TOMBSTONE_TTL = 3_600.0
"""Seconds a tombstone outlives its journal, so ``StreamExpired`` can be told from
``StreamNotFound`` for an hour after expiry; after that an id reads as never seen. A
tombstone is small but one is left per stream: ``docs/reliability.md`` has its measured
size (about 0.2 KiB in Redis), so the bound is streams per second x this x that."""

DEFAULT_MAX_TOMBSTONES = 100_000
"""Tombstones a ``MemoryStore`` keeps at most (the oldest go first beyond)."""

DEFAULT_MAX_EVENTS = 100_000
"""Events per journal, the terminal included: above the longest answers reasoning models
stream token by token (100k output tokens), and the gateway's ``max_events_per_stream``."""

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
"""Bytes per journal (``event_size`` of each event but the terminal one): what one stream
may make a store hold, 16 MiB, some hundred times a long answer."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a store knows about one stream, for authorisation and status."""

    stream_id: str
    owner: str | None
    model: str | None
    created_at: float
    """Unix time of ``create``."""
    length: int
    """Events appended so far; the next event gets this seq."""
    terminal: bool
    """True once the terminal event is in the journal."""


@dataclass(frozen=True, slots=True)
class LeaseState:
    """The answer to a producer's ``heartbeat`` for one stream."""

    exists: bool
    """False when the journal is gone (expired, or lost with a Redis restart)."""
    terminal: bool
    """True when someone ended the journal (cancel from any instance, ``producer_lost``)."""
    watchers: int
    """Processes with at least one live subscriber on the stream."""


def parse_last_event_id(header: str | None, query: str | None = None) -> int | None:
    """The seq a subscriber already has, from ``Last-Event-ID`` or ``?last_event_id=``.

    The header wins when it is present and not blank (``EventSource`` sends it by itself);
    ``None`` means "from the start". ``-1`` is accepted and also means "from the start" (a
    subscriber that got an error before any event is told id ``-1``). Anything that is not a
    seq (``surestream.lifecycle.parse_seq``: ASCII digits) raises ``InvalidResumePoint``;
    whether the id lies in the future is checked by ``Store.read`` against the journal.
    """
    raw = header if header is not None and header.strip() else query
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text == "-1":
        return None
    seq = parse_seq(text)
    if seq is None:
        raise InvalidResumePoint(f"Last-Event-ID must be a decimal event number, got {raw[:40]!r}")
    return seq


def check_resume_point(after: int | None, length: int) -> int:
    """The first seq to deliver for ``after`` in a journal of ``length`` events."""
    if after is None or after == -1:
        return 0
    if after < -1:
        raise InvalidResumePoint(f"resume point {after} is negative")
    if after >= length:
        raise InvalidResumePoint(
            f"resume point {after} is in the future: the stream has {length} events"
        )
    return after + 1


def producer_lost() -> Error:
    """The verdict a reader appends when the producer's lease ran out."""
    return Error.of(ErrorCode.PRODUCER_LOST, "the process generating this stream stopped")


def event_size(event: Event) -> int:
    """What ``event`` counts toward ``max_bytes``: the UTF-8 bytes of a text's text, the JSON
    of any other event (``RedisStore`` counts the JSON of every event, a few bytes more)."""
    if type(event) is Text:
        text = event.text
        return len(text) if text.isascii() else len(text.encode())
    return len(dumps(event))


def check_batch(events: Sequence[Event]) -> bool:
    """Whether ``events`` ends with a terminal event; a terminal anywhere else is a bug."""
    if not events:
        raise ValueError("append needs at least one event")
    for event in events[:-1]:
        if is_terminal(event):
            raise ValueError("a terminal event must be the last event of a journal")
    return is_terminal(events[-1])


class Store(abc.ABC):
    """A journal per stream. Implementations: ``MemoryStore``, ``RedisStore``.

    ``retention``, ``max_events``, ``max_bytes`` and ``tombstone_ttl`` are attributes every
    store has.
    """

    retention: float
    max_events: int
    max_bytes: int
    tombstone_ttl: float
    synchronous_appends = False
    """True when appends never wait (no I/O): ``append_now`` works, and the Hub uses it."""
    pipelined_appends = False
    """True when ``submit_append`` works: an append is queued without awaiting it and sent
    with those of other streams; the Hub's producer then appends from its own task."""

    @abc.abstractmethod
    async def create(
        self,
        stream_id: str,
        *,
        owner: str | None = None,
        model: str | None = None,
        lease: str | None = None,
        lease_ttl: float = 10.0,
    ) -> None:
        """Create an empty journal; ``lease`` (a token) starts the producer lease with it.

        Without a lease nobody watches the producer's liveness. Raises ``StreamExists``.
        """

    @abc.abstractmethod
    async def info(self, stream_id: str) -> StreamInfo:
        """The stream's metadata; raises ``StreamNotFound`` or ``StreamExpired``."""

    @abc.abstractmethod
    async def append_many(
        self, stream_id: str, events: Sequence[Event], *, expect: int | None = None
    ) -> int:
        """Append ``events`` (only the last may be terminal); return the last one's seq.

        Raises ``JournalClosed`` after the terminal event and ``JournalFull`` when the cap
        leaves room only for a terminal event (the events before that point are appended).
        ``expect``, the seq the first event must get, makes the append idempotent (a store
        may then retry it when a reply is lost, and so may the caller): an append whose
        events are already in (the journal is at ``expect + len(events)``) returns their
        last seq again; a journal at another seq that has not ended raises ``ValueError``
        (two producers on one stream).
        """

    def append_now(
        self, stream_id: str, events: Sequence[Event], *, expect: int | None = None
    ) -> int:
        """``append_many`` as a plain call, for a store with ``synchronous_appends``."""
        raise NotImplementedError(f"{type(self).__name__} appends with I/O: use append_many")

    def submit_append(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        expect: int,
        replied: Callable[[int | Exception], None],
    ) -> None:
        """``append_many`` queued at once, for a store with ``pipelined_appends``: ``replied``
        is called once, from the store's own task, with the last seq or the exception
        ``append_many`` would raise (a journal gone is ``StreamNotFound`` even when it
        expired); it must not raise."""
        raise NotImplementedError(f"{type(self).__name__} does not pipeline appends")

    async def append(self, stream_id: str, event: Event, *, expect: int | None = None) -> int:
        """Append one event and return its seq (see ``append_many``)."""
        return await self.append_many(stream_id, (event,), expect=expect)

    async def finish(self, stream_id: str, terminal: Done | Error) -> bool:
        """Append ``terminal`` unless the journal already ended; True if this call ended it."""
        try:
            await self.append_many(stream_id, (terminal,))
        except JournalClosed:
            return False
        return True

    @abc.abstractmethod
    async def read(
        self, stream_id: str, after: int | None = None
    ) -> AsyncIterator[tuple[int, Event]]:
        """Validate, then return an iterator of ``(seq, event)`` from ``after + 1`` onward.

        Raises at once ``StreamNotFound``, ``StreamExpired``, ``InvalidResumePoint`` (``after``
        beyond the last event) or ``StoreUnavailable``. The iterator replays, then follows
        live, and stops after the terminal event. When the producer's lease is gone it
        appends ``producer_lost`` and delivers it. When the store fails mid-read it yields a
        synthesized ``error`` ``store_unavailable`` (not journaled) carrying the seq of the
        last event delivered (``after``, or ``-1`` when none), so resuming from it loses
        nothing, and stops.
        """

    @abc.abstractmethod
    async def heartbeat(self, leases: Mapping[str, str], lease_ttl: float) -> dict[str, LeaseState]:
        """Renew the producer lease of each ``stream_id -> token``; report each stream's state."""

    @abc.abstractmethod
    async def release(self, stream_id: str, token: str) -> None:
        """Drop the producer lease if ``token`` still holds it."""

    @abc.abstractmethod
    async def watch(self, readers: Mapping[str, int], member: str, ttl: float) -> None:
        """Mark ``member`` (one process) as having ``readers[stream_id]`` subscribers on each
        stream, for ``ttl`` s (refreshed by the hub's ticker; a missing stream is skipped)."""

    @abc.abstractmethod
    async def join(
        self, stream_id: str, member: str, ttl: float, *, limit: int | None = None
    ) -> None:
        """One more subscriber of ``stream_id`` in ``member``, whose watch lives ``ttl`` s.

        Raises ``TooManySubscribers`` when the processes whose watch is alive already have
        ``limit`` subscribers of the stream in all; None: no limit.
        """

    @abc.abstractmethod
    async def leave(self, stream_id: str, member: str) -> None:
        """One subscriber fewer of ``stream_id`` in ``member``; its last ends the watch."""

    @abc.abstractmethod
    async def shared_secret(self) -> bytes:
        """A random secret, the same for every process sharing this store (made on first
        use); the gateway signs owner ids and read tokens with it unless configured with
        its own. Raises ``StoreUnavailable``."""

    async def ready(self, *, fresh: bool = False) -> None:
        """Raise ``StoreUnavailable`` unless the store takes writes now (for readiness checks,
        and before a caller pays for work it could not journal). Without ``fresh`` a store
        may answer from what its last calls said; with it, it asks its backend."""
        return None

    @abc.abstractmethod
    async def link(self, name: str, stream_id: str, ttl: float) -> None:
        """Make ``name`` point at ``stream_id`` for ``ttl`` seconds (replacing any earlier
        link): e.g. a chat's latest stream, for every instance that shares the store."""

    @abc.abstractmethod
    async def resolve(self, name: str) -> str | None:
        """The stream ``name`` points at, or None when it points nowhere (or expired)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections; the store is unusable afterwards."""
