"""``Producer``: the task that drains one stream's source into its journal.

Strategy: a *pump* reads the source, hands each event on as ``surestream.lifecycle`` says
(``Start`` skipped, ``str`` as ``Text``, nothing after the terminal) and ends with the one
verdict. Where it hands events depends on the store, and in all three cases a source faster
than the store is batched and a slow one is written event by event without delay:

- a store whose appends never wait (``synchronous_appends``, the MemoryStore) is appended
  to by the pump itself, in the producer's one task, as the source yields (letting the
  subscribers run every ``max_pending`` events, should the source never wait);
- a store that pipelines the appends of all streams (``pipelined_appends``, the RedisStore)
  too, through a ``PipedWriter`` (``_piped``): one append in flight, the events that come
  meanwhile sent as the next batch when its reply comes;
- any other store: the pump fills a bounded queue and a *writer* task appends whatever has
  queued up in one ``append_many``.

An append the store fails is retried every ``store_retry`` s while the lease lasts (it
names its seq, so a retry never writes twice); the pump meanwhile reads ahead up to
``max_pending`` events and then holds the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from surestream._closing import aclose_if_any
from surestream.errors import SourceFailed
from surestream.events import Event, Text, is_terminal
from surestream.hub._piped import PipedWriter
from surestream.lifecycle import Ending, ProducerState, failure_verdict, verdict
from surestream.store.base import (
    JournalClosed,
    JournalFull,
    StoreUnavailable,
    StreamExpired,
    StreamNotFound,
)

if TYPE_CHECKING:
    from surestream.hub._hub import Hub

__all__ = ["REFUSALS", "Producer"]

log = logging.getLogger("surestream.hub")

REFUSALS = (JournalFull, JournalClosed, StreamNotFound, StreamExpired, StoreUnavailable)
"""What an append may raise that ends the producer (``Producer._refused``)."""


class Producer:
    """One stream's producer task: a pump (source -> store), with a ``PipedWriter`` when the
    store pipelines appends, or with a queue and a writer task when its appends wait."""

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
            store = self.hub.store
            if store.synchronous_appends:
                await self._pump(self._append_now)
            elif store.pipelined_appends:
                await self._run_piped()
            else:
                await self._run_batched()
        finally:
            self.hub._producers.pop(self.stream_id, None)

    async def _run_piped(self) -> None:
        writer = PipedWriter(self)
        try:
            await self._pump(writer.put)
            await writer.drain()
        except asyncio.CancelledError:
            if not writer.cancelled_here():
                raise
        finally:
            writer.close()
        if writer.failure is not None:
            await self._refused(writer.failure)

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
            await aclose_if_any(iterator)
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
        except REFUSALS as exc:
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
            except REFUSALS as exc:
                return await self._refused(exc)
            return not is_terminal(batch[-1])

    async def _refused(self, exc: Exception) -> bool:
        """Act on an append the store refused; False: the producer is done."""
        store, stream_id = self.hub.store, self.stream_id
        if not isinstance(exc, REFUSALS):
            log.error("stream %s: the store refused an append: %r", stream_id, exc)
        elif isinstance(exc, JournalFull):
            full = verdict(Ending.JOURNAL_FULL)
            self.life.conclude(full)
            await store.finish(stream_id, full)
        elif isinstance(exc, StoreUnavailable):
            log.debug("stream %s: store unavailable past the lease, producer stops", stream_id)
            with contextlib.suppress(StoreUnavailable):
                await store.release(stream_id, self.token)
        return False
