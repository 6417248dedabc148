"""One ``EventStreamResponse`` while it streams: the producer, the writer and the listener.

Strategy: three small asyncio tasks per response, no task group.

- The *producer* pulls the source, encodes each item at once with the dialect's encoder and
  appends the bytes to a pending list. It stops pulling while ``max_buffer`` bytes wait, so a
  slow client holds the source back instead of growing memory.
- The *writer* (the ASGI task itself) sends everything pending in one ``http.response.body``
  message, so a source faster than the socket costs one ``send`` per batch, not per event. When
  nothing is pending it sleeps on one future that the producer, the disconnect listener, the
  shutdown watcher or a single timer (the nearest of heartbeat, idle, first-event and
  max-duration deadlines) resolves. While it sleeps, the producer sends an event itself
  instead of waking it when the last send is at least ``BATCH_GAP`` old, so a slow source
  costs one task switch per event, not two; the writer waits for such a send to end before it
  sends anything. A faster source does not wake the writer per event either: ``gather`` looks
  once per turn of the loop and wakes it when a turn brought no new event (or ``BATCH_GAP``
  after the last send), so a source that yields to the loop between events is batched too.
- No timer runs per event: the pump's timer stays armed while the deadline only moves later
  (it then wakes the pump once, early, and is re-armed), and ``send_timeout`` is a
  ``Watchdog``, one timer per response that cancels a send that has waited that long.
- A journal source that can push (``push_to``: a hub ``Subscription`` on the MemoryStore)
  hands each event to ``push`` in the task that journaled it while the producer is caught
  up, so a live token costs no wake-up of the producer task: ``push`` encodes it and, while
  the writer sleeps, starts the send there (``_handover``); a send that has to wait (flow
  control) is finished by the writer, and past ``max_buffer`` the source yields the events
  to the producer again, which waits for room as above.
- The *listener* waits for ``http.disconnect``, so a client that goes away is noticed while the
  source is silent, not only at the next write.

Every rule about what is written -- the seqs, which item is skipped, the one terminal event
and the id it carries, the verdict for each failure, what is due when -- is the stream's
``surestream.lifecycle.ProducerState``; this module only moves bytes and time. Whoever ends
the stream concludes the lifecycle with its verdict and queues it; after that nothing else is
queued. The source is cancelled (or, after its own terminal, left to finish) and closed with
``aclose()``, so its ``finally`` blocks run, within ``close_timeout``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Send

from surestream._watchdog import Watchdog
from surestream.dialects import StreamEncoder
from surestream.errors import SourceFailed
from surestream.events import Done, Error, Event, Text
from surestream.lifecycle import Ending, ProducerState, failure_verdict, verdict
from surestream.server import _shutdown
from surestream.server._handover import Resumed, start

if TYPE_CHECKING:
    from surestream.server._response import EventStreamResponse

__all__ = ["BATCH_GAP", "ResponseRun", "aclose_source"]

logger = logging.getLogger("surestream.server")

BATCH_GAP = 0.001
"""Seconds since the last send under which an event waits for the writer's next batch."""


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ResponseRun:
    """The state of one response while it streams (see the module strategy)."""

    __slots__ = (
        "disconnected",
        "encoder",
        "gathering",
        "handover",
        "last_write",
        "life",
        "loop",
        "max_buffer",
        "pending",
        "pending_size",
        "produced",
        "resp",
        "send",
        "shutting_down",
        "source_done",
        "space",
        "stamped",
        "timer",
        "timer_at",
        "wake",
        "wake_after_write",
        "watchdog",
        "writing",
    )

    def __init__(self, resp: EventStreamResponse, send: Send) -> None:
        self.resp = resp
        self.send = send
        self.loop = asyncio.get_running_loop()
        self.encoder: StreamEncoder = resp.dialect.encoder(resp.options)
        if resp.history:
            self.encoder.prime(resp.history)
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.max_buffer = resp.limits.max_buffer
        self.last_write = now = self.loop.time()
        self.life = ProducerState(
            now, timeouts=resp.limits.timeouts, first_seq=resp.first_seq, journal=resp.journal
        )
        self.produced = self.stamped = 0
        """Items pulled from the source, and how many of them the lifecycle's activity has
        seen: the pump stamps the time, so the producer reads no clock per event."""
        self.writing = False
        self.gathering = False
        """A ``gather`` callback is scheduled."""
        self.wake_after_write = False
        self.source_done = False
        self.disconnected = False
        self.shutting_down = False
        self.wake: asyncio.Future[None] | None = None
        self.handover: Resumed | None = None
        """A send ``push`` began that has to wait: the writer finishes it."""
        self.space: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.watchdog = Watchdog(resp.limits.send_timeout)
        """``send_timeout`` on every write."""

    # -- signals from the producer, the listener and the shutdown watcher ---------------------

    def notify(self) -> None:
        wake = self.wake
        if wake is not None:
            self.wake = None
            _resolve(wake)

    def on_shutdown(self) -> None:
        self.shutting_down = True
        self.notify()

    def queue(self, chunk: bytes) -> None:
        if chunk:
            self.pending.append(chunk)
            self.pending_size += len(chunk)

    def finish(self, event: Done | Error) -> None:
        """Queue ``event`` as the terminal event, unless the stream has one already; it
        carries the id the lifecycle gives a verdict made up here (or none)."""
        life = self.life
        if not life.conclude(event):
            return
        seq = life.verdict_id()
        if seq is not None:
            chunk = self.encoder.encode(event, seq)
        else:
            options = dataclasses.replace(self.resp.options, ids=False)
            chunk = self.resp.dialect.encoder(options).encode(event, 0)
        self.queue(chunk)
        self.notify()

    # -- the three tasks -----------------------------------------------------------------------

    async def run(self, receive: Receive) -> Done | Error | None:
        try:
            return await self.stream(receive)
        finally:
            self.watchdog.close()
            if self.timer is not None:
                self.timer.cancel()
            if self.handover is not None:
                self.handover.close()

    async def stream(self, receive: Receive) -> Done | Error | None:
        resp = self.resp
        if not await self.write(
            {"type": "http.response.start", "status": resp.status_code, "headers": resp.raw_headers}
        ):
            await aclose_source(resp.source)
            return None
        self.queue(self.encoder.preamble())
        if resp.start:
            options = resp.options
            seq, start = self.life.opening(options.stream_id or None, options.model or None)
            self.queue(self.encoder.encode(start, seq))
        producer = self.loop.create_task(self.produce())
        listener = self.loop.create_task(self.listen(receive))
        _shutdown.register(self)
        delivered = False
        try:
            delivered = await self.pump()
        finally:
            _shutdown.unregister(self)
            listener.cancel()
            await self.close_source(producer)
        return self.life.terminal if delivered else None

    async def listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        self.notify()

    async def produce(self) -> None:
        encoder = self.encoder
        encode_text = encoder.encode_text
        pending = self.pending
        max_buffer = self.resp.limits.max_buffer
        life = self.life
        accept = life.accept
        source = aiter(self.resp.source)
        loop = self.loop
        task = asyncio.current_task()
        push_to = getattr(source, "push_to", None) if life.journal else None
        if push_to is not None:
            push_to(self.push)
        try:
            async for item in source:
                self.produced += 1
                if life.terminal is not None:
                    break
                if type(item) is str:
                    # life.next_text(), inlined: a call per token costs ~8% of throughput.
                    seq = life.next_seq
                    life.next_seq = seq + 1
                    chunk = encode_text(item, seq)
                else:
                    accepted = accept(item)
                    if accepted is None:
                        continue
                    seq, event = accepted
                    if type(event) is Text:
                        chunk = encode_text(event.text, seq)
                    else:
                        chunk = encoder.encode(event, seq)
                        if life.terminal is not None:
                            self.queue(chunk)
                            return
                if chunk:
                    pending.append(chunk)
                    self.pending_size += len(chunk)
                    # The hand-over: while the writer sleeps (and is not mid-send), the
                    # producer sends itself; a writer woken meanwhile waits for that send.
                    if self.wake is not None and not self.writing:
                        now = loop.time()
                        life.activity(now)
                        self.stamped = self.produced
                        if now - self.last_write >= BATCH_GAP:
                            if not await self.flush(now, task):
                                break
                            continue
                        if not self.gathering:
                            self.gathering = True
                            loop.call_soon(self.gather, -1)
                    if self.pending_size >= max_buffer:
                        self.notify()
                        self.space = space = self.loop.create_future()
                        await space
                        if life.terminal is not None:
                            break
            else:
                self.finish(verdict(Ending.SOURCE_ENDED))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, SourceFailed):
                logger.error(
                    "event source raised; the stream ends with internal_error", exc_info=exc
                )
            self.finish(failure_verdict(exc))
        finally:
            self.source_done = True
            self.notify()
            await aclose_source(source)

    def gather(self, size: int) -> None:
        """Wake the sleeping writer once the source has stopped adding to what is pending.

        Called back once per turn of the loop while a source that yields to the loop between
        events (awaiting its upstream, say) keeps producing, so those events leave in one
        ``send``; it wakes the writer as soon as a turn passed without a new event, when the
        last send is ``BATCH_GAP`` old, or at once when the writer is up already.
        """
        if self.wake is None or not self.pending:
            self.gathering = False
        elif self.pending_size > size and self.loop.time() - self.last_write < BATCH_GAP:
            self.loop.call_soon(self.gather, self.pending_size)
        else:
            self.gathering = False
            self.notify()

    def push(self, seq: int, event: Event) -> bool:
        """Take one event of a journal source from the task that journaled it (the source's
        ``push_to``), without waking the producer: encode it and, while the writer sleeps,
        send it at once if the send need not wait (else the writer finishes the send). False:
        not taken, the source yields it to the producer instead (the stream has its terminal
        or lost its client, or ``max_buffer`` bytes wait). Never raises."""
        life = self.life
        if life.terminal is not None or self.disconnected or self.pending_size >= self.max_buffer:
            return False
        try:
            self.produced += 1
            if type(event) is Text:
                life.next_seq = seq + 1
                chunk = self.encoder.encode_text(event.text, seq)
            else:
                accepted = life.accept((seq, event))
                if accepted is None:
                    return True
                chunk = self.encoder.encode(event, seq)
                if life.terminal is not None:
                    self.queue(chunk)
                    self.notify()
                    return True
        except Exception as exc:
            logger.error("encoding a journal event failed; the stream ends", exc_info=exc)
            self.finish(failure_verdict(exc))
            return True
        if not chunk:
            return True
        self.pending.append(chunk)
        self.pending_size += len(chunk)
        if self.wake is None or self.writing:
            return True  # the writer is up, or will look once the send under way is over
        now = self.loop.time()
        life.activity(now)
        self.stamped = self.produced
        if now - self.last_write < BATCH_GAP:
            if not self.gathering:
                self.gathering = True
                self.loop.call_soon(self.gather, -1)
            return True
        self.send_now(now)
        return True

    def send_now(self, now: float) -> None:
        """Send what is pending as far as it goes without waiting; the writer sleeps."""
        pending = self.pending
        body = b"".join(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        self.pending_size = 0
        try:
            rest = start(self.send({"type": "http.response.body", "body": body, "more_body": True}))
        except Exception as exc:
            if not isinstance(exc, OSError):
                logger.error("sending an event failed; the client is dropped", exc_info=exc)
            self.disconnected = True
            self.notify()
            return
        if rest is None:
            self.last_write = now
            return
        self.handover = rest
        self.writing = True
        self.notify()

    async def flush(self, now: float, task: asyncio.Task[Any] | None) -> bool:
        """Send what is pending from the producer's ``task`` at ``now`` while the writer sleeps."""
        pending = self.pending
        body = b"".join(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        self.pending_size = 0
        self.writing = True
        try:
            message = {"type": "http.response.body", "body": body, "more_body": True}
            sent = await self.write(message, now, task)
        finally:
            self.writing = False
        if sent:
            self.last_write = self.loop.time()
        if not sent or self.wake_after_write:
            self.wake_after_write = False
            self.notify()
        return sent

    async def pump(self) -> bool:
        """Write until the terminal event is out (True) or the client is gone (False)."""
        loop = self.loop
        pending = self.pending
        life = self.life
        while True:
            handover = self.handover
            if handover is not None:
                self.handover = None
                sent = await self.write(None, resumed=handover)
                self.writing = False
                if not sent:
                    return False
                self.last_write = loop.time()
                continue
            if self.disconnected:
                return False
            if self.writing:
                self.wake_after_write = True
                await self.sleep(None)
                continue
            now = loop.time()
            if self.produced != self.stamped:
                self.stamped = self.produced
                life.activity(now)
            if life.terminal is None:
                due = life.due(
                    now, shutting_down=self.shutting_down, source_stopped=self.source_done
                )
                if due is not None:
                    self.finish(due)
            if pending:
                body = b"".join(pending) if len(pending) > 1 else pending[0]
                pending.clear()
                self.pending_size = 0
                space = self.space
                if space is not None:
                    self.space = None
                    _resolve(space)
                final = life.terminal is not None
                message = {"type": "http.response.body", "body": body, "more_body": not final}
                if not await self.write(message):
                    return False
                if final:
                    return True
                self.last_write = loop.time()
                continue
            if life.terminal is not None:
                return await self.write({"type": "http.response.body", "body": b""})
            if life.heartbeat_due(now, self.last_write):
                pending.append(self.resp.dialect.heartbeat)
                continue
            await self.sleep(life.next_deadline(self.last_write))

    async def sleep(self, deadline: float | None) -> None:
        """Wait for ``notify``; a timer wakes the pump at ``deadline`` or earlier."""
        self.wake = waiter = self.loop.create_future()
        if deadline is not None and (self.timer is None or deadline < self.timer_at):
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = deadline
            self.timer = self.loop.call_at(deadline, self.on_timer)
        try:
            await waiter
        finally:
            self.wake = None

    def on_timer(self) -> None:
        self.timer = None
        self.notify()

    async def write(
        self,
        message: dict[str, Any] | None,
        now: float | None = None,
        task: asyncio.Task[Any] | None = None,
        resumed: Resumed | None = None,
    ) -> bool:
        """Send one ASGI message (or finish the send ``push`` began, ``resumed``); False when
        the client is gone or was dropped as too slow.

        ``now`` and ``task``, when the caller has them: the loop's time and the current task."""
        watchdog = self.watchdog
        watchdog.begin(now, task)
        try:
            if resumed is None:
                assert message is not None
                await self.send(message)
            else:
                await resumed
        except OSError:
            self.disconnected = True
            return False
        except asyncio.CancelledError:
            if not watchdog.expired():
                raise
            logger.warning(
                "dropping an event stream client that accepted nothing for %g s",
                self.resp.limits.send_timeout,
            )
            self.disconnected = True
            return False
        finally:
            watchdog.end()
        return True

    async def close_source(self, producer: asyncio.Task[None]) -> None:
        close_timeout = self.resp.limits.close_timeout
        if not self.source_done:
            producer.cancel()
        done, _ = await asyncio.wait([producer], timeout=close_timeout)
        if not done:
            logger.warning("event source did not close within %g s; cancelling it", close_timeout)
            producer.cancel()
        elif not producer.cancelled() and producer.exception() is not None:
            logger.error("event source failed while closing", exc_info=producer.exception())


async def aclose_source(iterator: object) -> None:
    """``iterator.aclose()`` if it has one (an async generator's ``finally`` runs)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
