"""``PipedWriter``: a producer's appends to a store that pipelines them, from its own task.

Strategy: a store with ``pipelined_appends`` (the RedisStore) queues an append without
awaiting it (``submit_append``) and sends the appends of every stream in one pipeline per
round trip, so a producer needs no writer task: the pump hands each event to ``put``, which
sends it at once when no append of this stream is in flight and otherwise adds it to the
next batch; the reply of each append (a callback run by the store's task, not a task of
its own) sends the batch that collected meanwhile. One append per stream is in flight, so
the journal's order and each append's ``expect`` hold. ``put`` waits only while
``max_pending`` events wait (the source is then held), and the producer waits at the end
for its last append (``drain``).

A failed append is sent again every ``store_retry`` s while the lease lasts (the same
batch, the same ``expect``, so a retry never writes twice). A refusal, or a failure past
the lease, ends the producer: ``failure`` is set, then the producer task is woken if it
waits here, or cancelled if it waits on its source; ``cancelled_here`` tells that
cancellation from any other (``Task.uncancel``), and the producer then acts on ``failure``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from surestream.events import Event, is_terminal
from surestream.store.base import StoreUnavailable

if TYPE_CHECKING:
    from surestream.hub._producer import Producer

__all__ = ["PipedWriter"]

log = logging.getLogger("surestream.hub")


class PipedWriter:
    """The appends of one producer to a store with ``pipelined_appends``."""

    __slots__ = (
        "_batch",
        "_cancelled",
        "_cancelling",
        "_closed",
        "_flying",
        "_pending",
        "_retry",
        "_waiter",
        "failure",
        "producer",
    )

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.failure: Exception | None = None
        """Why the producer must stop (a refusal, or the store failing past the lease)."""
        self._pending: list[Event] = []
        self._batch: list[Event] = []
        self._flying = False
        """An append of ``_batch`` is in flight (or waits to be sent again)."""
        self._waiter: asyncio.Future[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        self._cancelled = False
        self._cancelling = 0

    async def put(self, event: Event) -> bool:
        """Send ``event`` now or with the next batch; False: stop reading the source."""
        if self.failure is not None:
            return False
        self._pending.append(event)
        if not self._flying:
            self._send()
        elif len(self._pending) >= self.producer.hub.max_pending:
            await self._until(lambda: len(self._pending) < self.producer.hub.max_pending)
        return self.failure is None and not is_terminal(event)

    async def drain(self) -> None:
        """Return once every event put is in the journal, or the writer failed."""
        await self._until(lambda: not self._flying and not self._pending)

    def cancelled_here(self) -> bool:
        """After a ``CancelledError`` in the producer task: True when this writer cancelled
        it (a failure while the task waited on its source) and nobody else did."""
        task = self.producer.task
        if not self._cancelled or task is None:
            return False
        self._cancelled = False
        return task.uncancel() <= self._cancelling

    def close(self) -> None:
        """Stop: a reply still to come is ignored, a retry not sent."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def _until(self, done: Any) -> None:
        while not done() and self.failure is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _send(self) -> None:
        size, pending = self.producer.hub.max_batch, self._pending
        if len(pending) <= size:
            self._batch, self._pending = pending, []
        else:
            self._batch, self._pending = pending[:size], pending[size:]
        self._flying = True
        self._submit()

    def _submit(self) -> None:
        self._retry = None
        if self._closed:
            return
        producer = self.producer
        producer.hub.store.submit_append(
            producer.stream_id, self._batch, expect=producer.next_seq, replied=self._replied
        )

    def _replied(self, outcome: int | Exception) -> None:
        # The hand-over: this runs in the store's task, between two steps of the producer
        # task, which waits either here (``_waiter``) or on its source; it is woken or
        # cancelled.
        if self._closed:
            return
        producer, hub = self.producer, self.producer.hub
        if not isinstance(outcome, Exception):
            producer.next_seq = outcome + 1
            self._flying = False
            if self._pending:
                self._send()
            self._wake()
            return
        exc = outcome
        if (
            isinstance(exc, StoreUnavailable)
            and hub.clock() + hub.store_retry < producer.lease_until
        ):
            log.debug("stream %s: store unavailable, retrying: %s", producer.stream_id, exc)
            self._retry = asyncio.get_running_loop().call_later(hub.store_retry, self._submit)
            return
        self.failure = exc
        self._flying = False
        if self._waiter is not None:
            self._wake()
        elif producer.task is not None and not producer.task.done() and not producer.stopping:
            self._cancelled = True
            self._cancelling = producer.task.cancelling()
            producer.task.cancel()
