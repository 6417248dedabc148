"""``Hub``: runs the producers of journaled streams and serves their subscribers.

Strategy: generation is decoupled from delivery. ``start`` creates a journal (with the
producer lease), appends ``Start`` and returns the stream id at once; a producer task then
drains the source into the journal. Inside it a *pump* reads the source into a bounded
queue and a *writer* appends whatever has queued up in one ``append_many``, so a source
faster than the store is batched (one Redis round trip per batch) and a slow one is written
event by event without delay. A store whose appends never wait (``synchronous_appends``,
the MemoryStore) needs neither queue nor writer: the pump appends each event itself, in
the producer's one task, as the source yields it (and lets the subscribers run every
``max_pending`` events, should the source never wait). Every journal ends with exactly one
terminal event, whatever happens:

=====================================  =================================================
source ends                            ``done`` (``stop``), or the source's own terminal
source raises ``SourceFailed``         ``error`` with its code (retryable by the code's
                                       documented default unless given)
source raises anything else            ``error`` ``internal_error``, traceback in the log
journal reaches ``max_events``         ``done`` ``length``
``cancel`` (from any instance)         ``done`` ``cancelled``
no subscriber for ``orphan_grace``     ``done`` ``cancelled``
``aclose`` (server shutdown)           ``error`` ``server_shutdown`` (retryable)
this process dies                      ``error`` ``producer_lost``, appended by a reader
                                       once the lease (``lease_ttl``) runs out
the store fails                        readers get ``store_unavailable``; the producer
                                       holds its source (the queue fills) and retries
                                       the append every ``store_retry`` s while its lease
                                       lasts, then stops its source (readers append
                                       ``producer_lost`` once the store is back)
=====================================  =================================================

The grammar of what the pump hands on (``Start`` skipped, ``str`` as ``Text``, nothing after
the terminal) and every verdict in the table are ``surestream.lifecycle``'s; the hub is its
I/O driver. Stopping writes the verdict first (the store keeps the first terminal only) and then
cancels the producer task, so the verdict is right even when the producer is elsewhere: a
producer learns at its next append or heartbeat that its journal has ended and stops its
source. One background *ticker* per hub, every ``tick`` seconds, renews the leases of the
local producers and refreshes this process's watch on every stream it has subscribers for,
in one batch each, and reads back who is still watched: the orphan clock of a producer runs
while no process watches its stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from surestream._closing import AsyncClosing
from surestream.errors import HubClosed, SourceFailed
from surestream.events import Done, Error, Event, Text, is_terminal
from surestream.lifecycle import Clock, Ending, ProducerState, failure_verdict, verdict
from surestream.store.base import (
    InvalidResumePoint,
    JournalClosed,
    JournalFull,
    Store,
    StoreUnavailable,
    StreamExpired,
    StreamInfo,
    StreamNotFound,
    TooManySubscribers,
    parse_last_event_id,
)

__all__ = [
    "DEFAULT_LEASE_TTL",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_ORPHAN_GRACE",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_STORE_RETRY",
    "DEFAULT_WATCH_TTL",
    "Hub",
    "HubClosed",
    "InvalidResumePoint",
    "StoreUnavailable",
    "StreamExpired",
    "StreamNotFound",
    "Subscription",
    "TooManySubscribers",
    "new_stream_id",
    "parse_last_event_id",
]

log = logging.getLogger("surestream.hub")

DEFAULT_ORPHAN_GRACE = 30.0
"""Seconds a producer runs with no subscriber anywhere before it is cancelled."""

DEFAULT_LEASE_TTL = 10.0
"""Seconds the producer lease lives unrenewed: how soon readers learn a producer died."""

DEFAULT_WATCH_TTL = 10.0
"""Seconds a process's watch on a stream lives unrenewed (if the process dies, its
subscribers stop counting after this long, then ``orphan_grace`` runs)."""

DEFAULT_MAX_PENDING = 1024
"""Events a producer reads ahead of the store before the source is paused."""

DEFAULT_MAX_BATCH = 512
"""Events one append carries at most."""

DEFAULT_SHUTDOWN_TIMEOUT = 5.0

DEFAULT_STORE_RETRY = 0.25
"""Seconds between two attempts of an append the store failed (a Redis restart or
failover); the producer keeps trying for as long as its lease lasts (``lease_ttl``)."""
"""Seconds ``aclose`` waits for each producer's source to close."""

_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_stream_id() -> str:
    """A fresh stream id: ``st_`` and 30 URL-safe characters (176 random bits)."""
    return "st_" + secrets.token_urlsafe(22)


def _check_id(stream_id: str) -> None:
    if not _STREAM_ID.fullmatch(stream_id):
        raise StreamNotFound("no such stream")


async def _aclose(obj: object) -> None:
    close = getattr(obj, "aclose", None)
    if close is not None:
        await close()


_REFUSALS = (JournalFull, JournalClosed, StreamNotFound, StreamExpired, StoreUnavailable)
"""What an append may raise that ends the producer (``_Producer._refused``)."""


class _Producer:
    """One stream's producer task: a pump (source -> queue) and a writer (queue -> store),
    or the pump alone (source -> store) when the store's appends never wait."""

    __slots__ = (
        "hub",
        "lease_until",
        "life",
        "next_seq",
        "orphan_since",
        "source",
        "stopping",
        "stream_id",
        "task",
        "token",
    )

    def __init__(
        self,
        hub: Hub,
        stream_id: str,
        token: str,
        source: AsyncIterable[Any],
        life: ProducerState,
        lease_until: float,
    ) -> None:
        self.hub = hub
        self.lease_until = lease_until
        """When the lease runs out unless renewed (``hub.clock`` time): how long a failing
        store is waited for."""
        self.stream_id = stream_id
        self.token = token
        self.source = source
        self.life = life
        """The stream's lifecycle: what to hand on, and the one verdict."""
        self.orphan_since: float | None = hub.clock()
        self.stopping = False
        self.next_seq = life.next_seq
        """The seq the store gives the next append (its idempotency key)."""
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            if self.hub.store.synchronous_appends:
                await self._pump(self._append_now)
            else:
                await self._run_batched()
        finally:
            self.hub._producers.pop(self.stream_id, None)

    async def _run_batched(self) -> None:
        queue: asyncio.Queue[Event] = asyncio.Queue(self.hub.max_pending)

        async def enqueue(event: Event) -> bool:
            await queue.put(event)
            return True

        pump = asyncio.create_task(self._pump(enqueue))
        try:
            await self._write(queue)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    async def _pump(self, put: Callable[[Event], Awaitable[bool]]) -> None:
        """Hand each event of the source to ``put``, then the verdict (False from ``put``:
        stop reading)."""
        life = self.life
        accept = life.accept
        iterator = aiter(self.source)
        try:
            async for item in iterator:
                if type(item) is Text:
                    # life.accept(item), inlined: a Text only takes the next seq.
                    life.next_seq += 1
                    if not await put(item):
                        return
                    continue
                accepted = accept(item)
                if accepted is None:
                    continue
                if life.terminal is not None:
                    break
                if not await put(accepted[1]):
                    return
            else:
                life.conclude(verdict(Ending.SOURCE_ENDED))
        except Exception as exc:
            if not isinstance(exc, SourceFailed):
                log.exception("stream %s: the event source failed", self.stream_id)
            life.conclude(failure_verdict(exc))
        finally:
            await _aclose(iterator)
        if life.terminal is not None:
            await put(life.terminal)

    async def _write(self, queue: asyncio.Queue[Event]) -> None:
        # The hand-over: the pump puts the verdict last and nothing after it, so the batch
        # that ends with it is the writer's last; run() then cancels the pump (its source is
        # already closed). A refused append also ends the writer, and the pump with it.
        while True:
            batch = [await queue.get()]
            while len(batch) < self.hub.max_batch and not is_terminal(batch[-1]):
                try:
                    batch.append(queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            if not await self._append(batch):
                return

    async def _append_now(self, event: Event) -> bool:
        """``_append`` of one event through the store's synchronous ``append_now``."""
        if self.next_seq % self.hub.max_pending == 0:
            await asyncio.sleep(0)
        try:
            store = self.hub.store
            self.next_seq = store.append_now(self.stream_id, (event,), expect=self.next_seq) + 1
        except _REFUSALS as exc:
            return await self._refused(exc)
        return not is_terminal(event)

    async def _append(self, batch: Sequence[Event]) -> bool:
        """Append ``batch``; False when the producer is done (terminal written, or the
        journal refuses more). A store that fails is retried while the lease lasts: the
        append names its seq (``expect``), so a retry never writes it twice; meanwhile the
        pump fills the queue and then holds the source."""
        hub = self.hub
        while True:
            try:
                self.next_seq = (
                    await hub.store.append_many(self.stream_id, batch, expect=self.next_seq) + 1
                )
            except StoreUnavailable as exc:
                if hub.clock() + hub.store_retry >= self.lease_until:
                    return await self._refused(exc)
                log.debug("stream %s: store unavailable, retrying: %s", self.stream_id, exc)
                await asyncio.sleep(hub.store_retry)
                continue
            except _REFUSALS as exc:
                return await self._refused(exc)
            return not is_terminal(batch[-1])

    async def _refused(self, exc: Exception) -> bool:
        """Act on an append the store refused; False: the producer is done."""
        store, stream_id = self.hub.store, self.stream_id
        if isinstance(exc, JournalFull):
            full = verdict(Ending.JOURNAL_FULL)
            self.life.conclude(full)
            await store.finish(stream_id, full)
        elif isinstance(exc, StoreUnavailable):
            log.debug("stream %s: store unavailable past the lease, producer stops", stream_id)
            with contextlib.suppress(StoreUnavailable):
                await store.release(stream_id, self.token)
        return False


class Subscription(AsyncClosing):
    """One subscriber of a stream: an async iterator of ``(seq, event)``.

    Replays the journal after the resume point, then follows live, and stops after the
    terminal event. Close it (``aclose`` or ``async with``) when the connection goes away;
    while it is open it counts as a subscriber for orphan detection.
    """

    __slots__ = ("_closed", "_hub", "_inner", "delivered", "stream_id")

    def __init__(self, hub: Hub, stream_id: str, inner: AsyncIterator[tuple[int, Event]]) -> None:
        self.stream_id = stream_id
        self.delivered = 0
        """Events this subscription has returned so far."""
        self._hub = hub
        self._inner = inner
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[int, Event]:
        if self._closed:
            raise StopAsyncIteration
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        self.delivered += 1
        return item

    async def aclose(self) -> None:
        """Stop reading; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await _aclose(self._inner)
        finally:
            await self._hub._unwatch(self.stream_id)


class Hub(AsyncClosing):
    """Producers and subscribers of journaled streams over one ``Store``.

    ``orphan_grace``: seconds without any subscriber before a producer is cancelled;
    ``lease_ttl``: seconds the producer lease lives unrenewed; ``watch_ttl``: seconds a
    process's subscriber watch lives unrenewed; ``max_pending``: events read ahead of the
    store; ``max_batch``: events per append; ``shutdown_timeout``: seconds ``aclose`` waits
    per producer; ``store_retry``: seconds between two attempts of an append the store
    failed; ``clock``: the monotonic clock of the orphan grace; ``max_subscribers``:
    readers of one stream across every process sharing the store (None: no limit). The
    ticker runs every third of the shortest of ``lease_ttl``, ``watch_ttl`` and
    ``orphan_grace``. The hub does not own the store: close it yourself.
    """

    def __init__(
        self,
        store: Store,
        *,
        orphan_grace: float = DEFAULT_ORPHAN_GRACE,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        watch_ttl: float = DEFAULT_WATCH_TTL,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_batch: int = DEFAULT_MAX_BATCH,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        clock: Clock = time.monotonic,
        max_subscribers: int | None = None,
        store_retry: float = DEFAULT_STORE_RETRY,
    ) -> None:
        self.store_retry = store_retry
        self.store = store
        self.clock = clock
        self.max_subscribers = max_subscribers
        self.orphan_grace = orphan_grace
        self.lease_ttl = lease_ttl
        self.watch_ttl = watch_ttl
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.shutdown_timeout = shutdown_timeout
        self.tick = min(lease_ttl, watch_ttl, orphan_grace) / 3
        self.instance = secrets.token_hex(8)
        """This process's member name in the stores' watch sets."""
        self._producers: dict[str, _Producer] = {}
        self._watching: dict[str, int] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def producing(self) -> int:
        """Producers running in this process."""
        return len(self._producers)

    def subscribers(self, stream_id: str) -> int:
        """Open subscriptions of ``stream_id`` in this process."""
        return self._watching.get(stream_id, 0)

    async def start(
        self,
        source: AsyncIterable[Event | str],
        *,
        owner: str | None = None,
        model: str | None = None,
    ) -> str:
        """Create a stream, append ``Start``, run ``source`` into it; return the stream id.

        ``source`` yields events or ``str`` (text). Raises ``HubClosed`` after ``aclose`` and
        ``StoreUnavailable`` when the journal cannot be created (the source is then closed).
        """
        try:
            if self._closed:
                raise HubClosed("the hub is shutting down")
            stream_id = new_stream_id()
            token = secrets.token_hex(16)
            lease_until = self.clock() + self.lease_ttl
            await self.store.create(
                stream_id, owner=owner, model=model, lease=token, lease_ttl=self.lease_ttl
            )
            life = ProducerState(self.clock())
            seq, opening = life.opening(stream_id, model)
            await self.store.append(stream_id, opening, expect=seq)
        except BaseException:
            await _aclose(source)
            raise
        producer = _Producer(self, stream_id, token, source, life, lease_until)
        self._producers[stream_id] = producer
        producer.task = asyncio.create_task(producer.run(), name=f"surestream-producer-{stream_id}")
        self._ensure_ticker()
        return stream_id

    async def info(self, stream_id: str) -> StreamInfo:
        """Owner, model, length and state of a stream (for authorisation checks).

        Raises ``StreamNotFound``, ``StreamExpired`` or ``StoreUnavailable``.
        """
        _check_id(stream_id)
        return await self.store.info(stream_id)

    async def subscribe(self, stream_id: str, after: int | None = None) -> Subscription:
        """Open a subscription: events after seq ``after`` (None: from the start), then live.

        Validates before returning, so the caller can answer with an HTTP status: raises
        ``StreamNotFound`` (404), ``StreamExpired`` (410), ``InvalidResumePoint`` (400),
        ``TooManySubscribers`` (429: ``max_subscribers`` across every process sharing the
        store) or ``StoreUnavailable`` (503).
        """
        _check_id(stream_id)
        inner = await self.store.read(stream_id, after)
        self._watching[stream_id] = self._watching.get(stream_id, 0) + 1
        try:
            await self.store.join(
                stream_id, self.instance, self.watch_ttl, limit=self.max_subscribers
            )
        except StoreUnavailable as exc:
            log.debug("stream %s: cannot register subscriber: %s", stream_id, exc)
        except BaseException:
            self._forget(stream_id)
            await _aclose(inner)
            raise
        self._ensure_ticker()
        return Subscription(self, stream_id, inner)

    async def history(self, stream_id: str, through: int) -> list[Event]:
        """Events 0..``through`` of a stream: what a client resuming after ``through`` has.

        For dialects whose encoder must be primed on resume. Raises ``StreamNotFound``,
        ``StreamExpired``, ``InvalidResumePoint`` (``through`` is not in the journal) or
        ``StoreUnavailable`` (also when the store fails mid-read).
        """
        _check_id(stream_id)
        if not 0 <= through < (await self.store.info(stream_id)).length:
            raise InvalidResumePoint(f"event {through} is not in the journal of {stream_id}")
        events: list[Event] = []
        reader = await self.store.read(stream_id, None)
        try:
            async for seq, event in reader:
                if seq != len(events):  # the error a failing read makes up repeats a seq
                    raise StoreUnavailable(f"reading the history of {stream_id} failed")
                events.append(event)
                if seq == through:
                    break
        finally:
            await _aclose(reader)
        return events

    def _forget(self, stream_id: str) -> None:
        count = self._watching.get(stream_id, 0) - 1
        if count > 0:
            self._watching[stream_id] = count
        else:
            self._watching.pop(stream_id, None)

    async def _unwatch(self, stream_id: str) -> None:
        self._forget(stream_id)
        with contextlib.suppress(StoreUnavailable):
            await self.store.leave(stream_id, self.instance)

    async def cancel(self, stream_id: str) -> bool:
        """End the stream with ``done`` ``cancelled`` and stop its producer, wherever it runs.

        True if this call ended it, False if it had already ended. Raises
        ``StreamNotFound``, ``StreamExpired`` or ``StoreUnavailable``.
        """
        _check_id(stream_id)
        return await self._stop(stream_id, verdict(Ending.CANCELLED))

    async def _stop(self, stream_id: str, terminal: Done | Error) -> bool:
        producer = self._producers.get(stream_id)
        if producer is not None:
            producer.stopping = True
        try:
            ended = await self.store.finish(stream_id, terminal)
        finally:
            if producer is not None and producer.task is not None:
                producer.task.cancel()
                await asyncio.wait({producer.task}, timeout=self.shutdown_timeout)
        return ended

    async def wait(self, stream_id: str) -> None:
        """Return when this process's producer of ``stream_id`` has finished (at once if none)."""
        producer = self._producers.get(stream_id)
        if producer is not None and producer.task is not None:
            await asyncio.wait({producer.task})

    def _ensure_ticker(self) -> None:
        if self._ticker is None and not self._closed:
            self._ticker = asyncio.create_task(self._tick_forever(), name="surestream-hub-ticker")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self._tick()
            except StoreUnavailable as exc:  # the store logs the incident once
                log.debug("hub heartbeat failed: %s", exc)
            except Exception:
                log.exception("hub heartbeat failed")

    async def _tick(self) -> None:
        if self._watching:
            await self.store.watch(dict(self._watching), self.instance, self.watch_ttl)
        leases = {sid: p.token for sid, p in self._producers.items() if not p.stopping}
        renewed = self.clock()
        states = await self.store.heartbeat(leases, self.lease_ttl)
        now = self.clock()
        for stream_id, state in states.items():
            producer = self._producers.get(stream_id)
            if producer is None or producer.stopping or producer.task is None:
                continue
            if not state.exists or state.terminal:
                producer.stopping = True
                producer.task.cancel()
                continue
            producer.lease_until = renewed + self.lease_ttl
            if state.watchers or self._watching.get(stream_id):
                producer.orphan_since = None
            elif producer.orphan_since is None:
                producer.orphan_since = now
            elif now - producer.orphan_since >= self.orphan_grace:
                log.info(
                    "stream %s: no subscriber for %.1f s, cancelled",
                    stream_id,
                    now - producer.orphan_since,
                )
                self._spawn(self._stop(stream_id, verdict(Ending.ORPHANED)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Shut down: end every local stream with ``error`` ``server_shutdown`` (retryable).

        Waits up to ``shutdown_timeout`` for the producers; the store stays open.
        """
        self._closed = True
        shutdown = verdict(Ending.SHUTDOWN)
        results = await asyncio.gather(
            *(self._stop(stream_id, shutdown) for stream_id in list(self._producers)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                log.warning("shutdown: could not end a stream: %s", result)
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
