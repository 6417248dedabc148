"""``MemoryStore``: the embedded journal store, one process, one event loop.

Strategy: a journal is a Python list of event objects (events are immutable, so readers
share them; nothing is encoded), except that a ``Text`` is held as its ``str`` and made
again for each reader: a string is not tracked by the cyclic garbage collector, so long
journals of tokens do not make every full collection longer and more frequent. Readers
(``Follower``, in ``_memory_follow``) keep an index into the list and, once caught up, wait
on a future of their own in the journal's list of waiters, which each append resolves and
empties, so one append wakes every waiting reader once; a reader given a sink (``push_to``:
a response over a subscription) is instead handed each new event by the append itself, in
the appending task, so its own task does not wake per event. No timer runs per wait: one
timer per store looks every ``lease_check`` seconds at the journals that readers wait on and
ends each whose producer stopped renewing its lease with ``producer_lost`` (which wakes its
readers). Expiry is lazy: deadlines sit in a heap that every call sweeps, so no background
task is needed; an expired journal leaves a tombstone (its id and a deadline) for
``tombstone_ttl`` seconds. Times come from ``clock`` (``time.monotonic`` unless a test
passes its own).
"""

from __future__ import annotations

import asyncio
import heapq
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence

from surestream.events import Event, Text
from surestream.lifecycle import Clock
from surestream.store._memory_follow import Follower
from surestream.store.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_TOMBSTONES,
    DEFAULT_RETENTION,
    DEFAULT_TOMBSTONE_TTL,
    JournalClosed,
    JournalFull,
    LeaseState,
    Store,
    StreamExists,
    StreamExpired,
    StreamInfo,
    StreamNotFound,
    TooManySubscribers,
    check_batch,
    check_resume_point,
    event_size,
    producer_lost,
)

__all__ = ["DEFAULT_LEASE_CHECK", "MemoryStore"]

DEFAULT_LEASE_CHECK = 1.0
"""Seconds a caught-up reader waits before it checks the producer lease again."""


_GONE = LeaseState(False, False, 0)


class _Journal:
    __slots__ = (
        "created_at",
        "events",
        "followers",
        "lease",
        "lease_until",
        "model",
        "owner",
        "readers",
        "size",
        "terminal",
        "waiters",
        "watchers",
    )

    def __init__(self, owner: str | None, model: str | None) -> None:
        self.owner = owner
        self.model = model
        self.created_at = time.time()
        self.events: list[Event | str] = []
        self.size = 0
        """Bytes toward ``max_bytes`` (``event_size``)."""
        self.terminal = False
        self.lease: str | None = None
        self.lease_until = 0.0
        self.watchers: dict[str, float] = {}
        """Process -> until when its watch lives (monotonic)."""
        self.readers: dict[str, int] = {}
        """Process -> its subscribers of this journal."""
        self.waiters: list[asyncio.Future[None]] = []
        self.followers: list[Follower] = []
        """Caught-up readers with a sink: each append hands them the new events."""

    def notify(self, appended: Event | None = None) -> None:
        """Hand the new events to the followers (``appended``: the one just appended, as the
        caller has it), then wake the waiting readers."""
        followers = self.followers
        if len(followers) == 1:
            followers[0].feed(appended)
        elif followers:
            for index in range(len(followers) - 1, -1, -1):  # a follower may leave: back to front
                followers[index].feed(appended)
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def watcher_count(self, now: float) -> int:
        watchers = self.watchers
        if watchers and min(watchers.values()) <= now:
            for member in [m for m, until in watchers.items() if until <= now]:
                del watchers[member]
                self.readers.pop(member, None)
        return len(watchers)


class MemoryStore(Store):
    """Journals in this process's memory; the default store of the gateway.

    ``retention``: seconds a journal stays after its terminal event; ``max_events``: events
    per journal, terminal included; ``max_bytes``: bytes per journal (``event_size``, the
    terminal event exempt); ``tombstone_ttl``: seconds an expired id is remembered, at most
    ``max_tombstones`` of them (the oldest forgotten first)
    (``StreamExpired`` rather than ``StreamNotFound``); ``lease_check``: seconds between two
    producer-lease checks of the journals that readers wait on; ``clock``: the monotonic
    clock of retention, tombstones, leases and watches.
    """

    synchronous_appends = True
    """Appends never wait (no I/O): the Hub appends each event as it comes (``append_now``)."""

    def __init__(
        self,
        *,
        retention: float = DEFAULT_RETENTION,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        tombstone_ttl: float = DEFAULT_TOMBSTONE_TTL,
        max_tombstones: int = DEFAULT_MAX_TOMBSTONES,
        lease_check: float = DEFAULT_LEASE_CHECK,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_events < 2:
            raise ValueError("max_events must leave room for one event and the terminal one")
        self.retention = retention
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.tombstone_ttl = tombstone_ttl
        self.max_tombstones = max_tombstones
        self.lease_check = lease_check
        self.clock = clock
        self._journals: dict[str, _Journal] = {}
        self._secret = b""
        self._expiry: list[tuple[float, str]] = []
        self._tombstones: dict[str, float] = {}
        self._tombstone_expiry: list[tuple[float, str]] = []
        self._waited_on: dict[str, _Journal] = {}
        self._lease_states: tuple[dict[int, LeaseState], dict[int, LeaseState]] = ({}, {})
        self._lease_timer: asyncio.TimerHandle | None = None
        self._lease_loop: asyncio.AbstractEventLoop | None = None
        self._links: dict[str, tuple[str, float]] = {}

    def __len__(self) -> int:
        """Journals currently held (live or within their retention)."""
        self._sweep()
        return len(self._journals)

    @property
    def tombstones(self) -> int:
        """Tombstones held now (at most ``max_tombstones``)."""
        self._sweep()
        return len(self._tombstones)

    def _sweep(self) -> None:
        now = self.clock()
        while self._expiry and self._expiry[0][0] <= now:
            deadline, stream_id = heapq.heappop(self._expiry)
            if self._journals.pop(stream_id, None) is not None:
                gone_until = deadline + self.tombstone_ttl
                self._tombstones[stream_id] = gone_until
                heapq.heappush(self._tombstone_expiry, (gone_until, stream_id))
        while self._tombstone_expiry and (
            self._tombstone_expiry[0][0] <= now or len(self._tombstones) > self.max_tombstones
        ):
            _, stream_id = heapq.heappop(self._tombstone_expiry)
            self._tombstones.pop(stream_id, None)

    def _get(self, stream_id: str) -> _Journal:
        self._sweep()
        journal = self._journals.get(stream_id)
        if journal is not None:
            return journal
        if stream_id in self._tombstones:
            raise StreamExpired(f"stream {stream_id} has expired")
        raise StreamNotFound(f"no stream {stream_id}")

    async def create(
        self,
        stream_id: str,
        *,
        owner: str | None = None,
        model: str | None = None,
        lease: str | None = None,
        lease_ttl: float = 10.0,
    ) -> None:
        """Create an empty journal (see ``Store.create``)."""
        self._sweep()
        if stream_id in self._journals or stream_id in self._tombstones:
            raise StreamExists(f"stream {stream_id} already exists")
        journal = _Journal(owner, model)
        if lease is not None:
            journal.lease = lease
            journal.lease_until = self.clock() + lease_ttl
        self._journals[stream_id] = journal

    async def info(self, stream_id: str) -> StreamInfo:
        """The stream's metadata (see ``Store.info``)."""
        journal = self._get(stream_id)
        return StreamInfo(
            stream_id,
            journal.owner,
            journal.model,
            journal.created_at,
            len(journal.events),
            journal.terminal,
        )

    def _append(
        self,
        stream_id: str,
        journal: _Journal,
        events: Sequence[Event],
        expect: int | None = None,
    ) -> int:
        size = len(journal.events)
        if (
            len(events) == 1
            and type(text := events[0]) is Text
            and not journal.terminal
            and (expect is None or expect == size)
            and size < self.max_events - 1
            and journal.size + (bytes_ := event_size(text)) <= self.max_bytes
        ):
            journal.events.append(text.text)
            journal.size += bytes_
            journal.notify(text)
            return size
        terminal = check_batch(events)
        if expect is not None and expect != size and self._went_in(journal, events, expect):
            if expect + len(events) == size:
                return size - 1  # a retry of an append whose reply was lost
            raise JournalFull(f"stream {stream_id} reached its cap")
        if journal.terminal:
            raise JournalClosed(f"stream {stream_id} has ended")
        if expect is not None and expect != len(journal.events):
            raise ValueError(f"append at seq {expect}, but {stream_id} is at {len(journal.events)}")
        body = events[:-1] if terminal else events
        fits = 0
        for event in body[: max(self.max_events - 1 - len(journal.events), 0)]:
            bytes_ = event_size(event)
            if journal.size + bytes_ > self.max_bytes:
                break
            journal.events.append(event.text if type(event) is Text else event)
            journal.size += bytes_
            fits += 1
        if fits < len(body):
            journal.notify()
            raise JournalFull(
                f"stream {stream_id} reached {self.max_events} events or {self.max_bytes} bytes"
            )
        if terminal:
            journal.events.append(events[-1])
            journal.terminal = True
            journal.lease = None
            heapq.heappush(self._expiry, (self.clock() + self.retention, stream_id))
        journal.notify()
        return len(journal.events) - 1

    @staticmethod
    def _went_in(journal: _Journal, events: Sequence[Event], expect: int) -> bool:
        """Whether the journal's last event is the one of ``events`` with its seq (an earlier
        attempt of this append went in, whole or up to the cap)."""
        last = len(journal.events) - 1
        if not expect <= last < expect + len(events):
            return False
        ours, held = events[last - expect], journal.events[last]
        return held == ours.text if type(ours) is Text and isinstance(held, str) else held == ours

    async def append_many(
        self, stream_id: str, events: Sequence[Event], *, expect: int | None = None
    ) -> int:
        """Append events (see ``Store.append_many``)."""
        return self.append_now(stream_id, events, expect=expect)

    def append_now(
        self, stream_id: str, events: Sequence[Event], *, expect: int | None = None
    ) -> int:
        """``append_many`` as a plain call: the Hub's producer appends each token with it."""
        journal = self._journals.get(stream_id)
        if journal is None or journal.terminal:  # a live journal cannot have expired
            journal = self._get(stream_id)
        return self._append(stream_id, journal, events, expect)

    async def read(
        self, stream_id: str, after: int | None = None
    ) -> AsyncIterator[tuple[int, Event]]:
        """Validate, then replay and follow (see ``Store.read``); the iterator can also push
        (``Follower.push_to``)."""
        journal = self._get(stream_id)
        start = check_resume_point(after, len(journal.events))
        return Follower(self, stream_id, journal, start)

    def _looked_after(self, stream_id: str, journal: _Journal) -> asyncio.AbstractEventLoop:
        """Check the producer lease of ``journal`` while readers wait on it; the loop."""
        loop = asyncio.get_running_loop()
        self._waited_on[stream_id] = journal
        if self._lease_timer is None or self._lease_loop is not loop:
            self._lease_loop = loop
            self._lease_timer = loop.call_later(self.lease_check, self._check_leases)
        return loop

    def _check_leases(self) -> None:
        """End the waited-on journals whose producer lease ran out with ``producer_lost``."""
        now = self.clock()
        waited_on = self._waited_on
        done: list[str] = []
        lost: list[tuple[str, _Journal]] = []
        for stream_id, journal in waited_on.items():
            if journal.terminal or not (journal.waiters or journal.followers):
                done.append(stream_id)
            elif journal.lease is not None and journal.lease_until <= now:
                lost.append((stream_id, journal))
        for stream_id in done:
            del waited_on[stream_id]
        for stream_id, journal in lost:
            del waited_on[stream_id]
            for follower in list(journal.followers):
                follower.unpark()  # sinks are fed from tasks only: these read the verdict
            self._append(stream_id, journal, (producer_lost(),))
        loop = self._lease_loop
        if waited_on and loop is not None and not loop.is_closed():
            self._lease_timer = loop.call_later(self.lease_check, self._check_leases)
        else:
            self._lease_timer = None

    async def heartbeat(self, leases: Mapping[str, str], lease_ttl: float) -> dict[str, LeaseState]:
        """Renew leases and report (see ``Store.heartbeat``)."""
        self._sweep()
        now = self.clock()
        out: dict[str, LeaseState] = {}
        for stream_id, token in leases.items():
            journal = self._journals.get(stream_id)
            if journal is None:
                out[stream_id] = _GONE
                continue
            if not journal.terminal:
                journal.lease = token
                journal.lease_until = now + lease_ttl
            out[stream_id] = self._lease_state(journal.terminal, journal.watcher_count(now))
        return out

    def _lease_state(self, terminal: bool, watchers: int) -> LeaseState:
        """A shared ``LeaseState``: a heartbeat of thousands of streams allocates none, so
        it does not set off the garbage collector."""
        states = self._lease_states[terminal]
        state = states.get(watchers)
        if state is None:
            state = states[watchers] = LeaseState(True, terminal, watchers)
        return state

    async def release(self, stream_id: str, token: str) -> None:
        """Drop the lease (see ``Store.release``)."""
        journal = self._journals.get(stream_id)
        if journal is not None and journal.lease == token:
            journal.lease_until = 0.0

    async def watch(self, readers: Mapping[str, int], member: str, ttl: float) -> None:
        """Refresh ``member``'s watch and reader count on each stream (see ``Store.watch``)."""
        until = self.clock() + ttl
        for stream_id, count in readers.items():
            journal = self._journals.get(stream_id)
            if journal is not None:
                journal.watchers[member] = until
                journal.readers[member] = count

    async def join(
        self, stream_id: str, member: str, ttl: float, *, limit: int | None = None
    ) -> None:
        """One more subscriber in ``member``, within ``limit`` (see ``Store.join``)."""
        journal = self._journals.get(stream_id)
        if journal is None:
            return
        now = self.clock()
        journal.watcher_count(now)
        if limit is not None and sum(journal.readers.values()) >= limit:
            raise TooManySubscribers(f"stream {stream_id} has {limit} readers")
        journal.readers[member] = journal.readers.get(member, 0) + 1
        journal.watchers[member] = now + ttl

    async def leave(self, stream_id: str, member: str) -> None:
        """One subscriber fewer in ``member`` (see ``Store.leave``)."""
        journal = self._journals.get(stream_id)
        if journal is None or member not in journal.readers:
            return
        left = journal.readers[member] - 1
        if left > 0:
            journal.readers[member] = left
        else:
            del journal.readers[member]
            journal.watchers.pop(member, None)

    async def link(self, name: str, stream_id: str, ttl: float) -> None:
        """Point ``name`` at ``stream_id`` for ``ttl`` seconds (see ``Store.link``)."""
        now = time.monotonic()
        if len(self._links) >= len(self._journals) + 1024:
            self._links = {k: v for k, v in self._links.items() if v[1] > now}
        self._links[name] = (stream_id, now + ttl)

    async def resolve(self, name: str) -> str | None:
        """The stream ``name`` points at (see ``Store.resolve``)."""
        target = self._links.get(name)
        if target is None or target[1] <= time.monotonic():
            self._links.pop(name, None)
            return None
        return target[0]

    async def shared_secret(self) -> bytes:
        """This store's random secret (see ``Store.shared_secret``)."""
        if not self._secret:
            self._secret = secrets.token_bytes(32)
        return self._secret

    async def aclose(self) -> None:
        """Drop every journal."""
        if self._lease_timer is not None:
            self._lease_timer.cancel()
            self._lease_timer = None
        self._waited_on.clear()
        self._journals.clear()
        self._expiry.clear()
