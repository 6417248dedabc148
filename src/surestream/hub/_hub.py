"""``Hub``: the producers and subscribers of journaled streams over one ``Store``.

Strategy: the hub starts a ``Producer`` per stream and hands out a ``Subscription`` per
reader, counting them per stream (``_watching``). Stopping writes the verdict first (the
store keeps the first terminal only) and then cancels the producer task, so the verdict is
right even when the producer is elsewhere: a producer learns at its next append or
heartbeat that its journal has ended and stops its source. One background *ticker* per
hub, every ``tick`` seconds, renews the leases of the local producers and refreshes this
process's watch on every stream it has subscribers for, in one batch each, and reads back
who is still watched: the orphan clock of a producer runs while no process watches its
stream. The package docstring (``surestream.hub``) has the table of verdicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterable
from typing import Any

from surestream._closing import AsyncClosing, aclose_if_any
from surestream.dialects import get_dialect
from surestream.errors import HubClosed
from surestream.events import Done, Error, Event
from surestream.hub._producer import Producer
from surestream.hub._subscription import Subscription
from surestream.lifecycle import Clock, Ending, ProducerState, verdict
from surestream.store.base import (
    InvalidResumePoint,
    Store,
    StoreUnavailable,
    StreamInfo,
    StreamNotFound,
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
    "new_stream_id",
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
"""Seconds ``aclose`` waits for each producer's source to close."""

DEFAULT_STORE_RETRY = 0.25
"""Seconds between two attempts of an append the store failed (a Redis restart or
failover); the producer keeps trying for as long as its lease lasts (``lease_ttl``)."""

_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_stream_id() -> str:
    """A fresh stream id: ``st_`` and 30 URL-safe characters (176 random bits)."""
    return "st_" + secrets.token_urlsafe(22)


def _check_id(stream_id: str) -> None:
    if not _STREAM_ID.fullmatch(stream_id):
        raise StreamNotFound("no such stream")


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
        self._producers: dict[str, Producer] = {}
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
            await aclose_if_any(source)
            raise
        producer = Producer(self, stream_id, token, source, life, lease_until)
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
            await aclose_if_any(inner)
            raise
        self._ensure_ticker()
        return Subscription(self, stream_id, inner)

    async def subscribe_in(
        self, dialect: str, stream_id: str, after: int | None = None
    ) -> tuple[Subscription, list[Event]]:
        """``subscribe``, with the events an encoder of ``dialect`` resuming after ``after``
        is primed with: events 0..``after`` when the dialect's ``resume_needs_history`` (a
        resumed vercel-ai stream's open blocks), else none. Raises as both."""
        history: list[Event] = []
        if after is not None and get_dialect(dialect).resume_needs_history:
            history = await self.history(stream_id, after)
        return await self.subscribe(stream_id, after), history

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
            await aclose_if_any(reader)
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
