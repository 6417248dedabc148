"""``EventStreamResponse``: typed events to SSE, and every stream ends with a verdict.

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
  costs one task switch per event, not two, and a fast one is still batched; the writer waits
  for such a send to end before it sends anything.
- No timer runs per event: the pump's timer stays armed while the deadline only moves later
  (it then wakes the pump once, early, and is re-armed), and ``send_timeout`` is a
  ``Watchdog``, one timer per response that cancels a send that has waited that long.
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
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from surestream._watchdog import Watchdog
from surestream.dialects import Dialect, EncoderOptions, StreamEncoder, get_dialect
from surestream.errors import SourceFailed
from surestream.events import Done, Error, Event, Text
from surestream.lifecycle import (
    DEFAULT_HEARTBEAT,
    DEFAULT_IDLE_TIMEOUT,
    Ending,
    ProducerState,
    Timeouts,
    failure_verdict,
    verdict,
)
from surestream.server import _shutdown
from surestream.server._detach import DETACH_SCOPE_KEY
from surestream.sse import HEARTBEAT

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_RETRY",
    "DEFAULT_SEND_TIMEOUT",
    "HEARTBEAT",
    "EventStreamResponse",
    "OnClose",
    "ResponseLimits",
    "SourceItem",
]

logger = logging.getLogger("surestream.server")

DEFAULT_SEND_TIMEOUT = 30.0
"""Seconds one write may wait for a client that stopped reading before it is dropped."""
DEFAULT_MAX_BUFFER = 64 * 1024
"""Bytes of encoded events held for the client before the source is no longer pulled."""
DEFAULT_CLOSE_TIMEOUT = 5.0
"""Seconds the source's ``finally`` / ``aclose()`` may take once the stream has ended."""
DEFAULT_RETRY = 3000
"""Reconnection time in ms, written in the first event's block (``retry:``)."""
BATCH_GAP = 0.001
"""Seconds since the last send under which an event waits for the writer's next batch."""

SourceItem: TypeAlias = Event | str | tuple[int, Event]
"""What a source yields: a typed event or a ``str`` (taken as ``Text``); a journal source
(``journal=True``) yields ``(seq, event)`` pairs."""
OnClose: TypeAlias = Callable[[Done | Error | None], Awaitable[None] | None]
"""Called once the stream is over with the terminal event the client got, or None if none."""


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """Every limit of one ``EventStreamResponse`` (see there), checked once.

    ``timeouts`` are the stream's time rules (``surestream.lifecycle.Timeouts``); the rest
    bound the I/O: ``send_timeout`` one write, ``max_buffer`` the bytes waiting for the
    client, ``close_timeout`` the source's ``aclose()``.
    """

    timeouts: Timeouts = field(default_factory=Timeouts)
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT
    max_buffer: int = DEFAULT_MAX_BUFFER
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT

    def __post_init__(self) -> None:
        if self.send_timeout is not None and not self.send_timeout > 0:
            raise ValueError("send_timeout must be a positive number or None")
        if self.close_timeout is None or not self.close_timeout > 0:
            raise ValueError("close_timeout must be a positive number")
        if self.max_buffer < 1:
            raise ValueError("max_buffer must be >= 1")


@functools.lru_cache(maxsize=64)
def _limits(
    heartbeat: float | None,
    idle_timeout: float | None,
    first_event_timeout: float | None,
    max_duration: float | None,
    send_timeout: float | None,
    max_buffer: int,
    close_timeout: float,
) -> ResponseLimits:
    """The limits of a response, one shared object per combination in use."""
    timeouts = Timeouts(heartbeat, idle_timeout, first_event_timeout, max_duration)
    return ResponseLimits(timeouts, send_timeout, max_buffer, close_timeout)


class EventStreamResponse(Response):
    """A Starlette response streaming ``source`` as SSE in ``dialect``, ending with a verdict.

    ``source`` is an async iterable of typed events or ``str`` (taken as ``Text``). Its events
    get ids from ``first_seq`` on; with ``start`` (default, but for a journal) the response writes
    ``Start(stream_id, model)`` itself as the first event at once (a ``Start`` from the source
    is then skipped). With ``journal=True`` the source is a *journal*: it yields ``(seq,
    event)`` pairs, written with their own seqs (and its own ``Start``), and an error the
    response makes up itself (timeout, shutdown) carries the id of the last journal event
    written (``first_seq - 1`` before any), so a client resuming from it loses nothing.
    A resumed journal in a dialect whose ``resume_needs_history`` is true needs ``history``,
    the events 0..``first_seq - 1`` the client already has: they prime the encoder (nothing
    of them is written), so what follows is valid on its own.

    Exactly one terminal event ends every stream, and it is the last: the source's own
    ``Done`` / ``Error`` (nothing after it is read); ``Done()`` when the source ends without
    one; ``Error`` with the code of a ``SourceFailed`` it raises, or ``internal_error`` for any
    other exception (the traceback goes to the ``surestream.server`` log, never to the client).

    Limits, all per response (None disables, module defaults in brackets; the first four are
    ``surestream.lifecycle`` rules, all seven are kept in one ``ResponseLimits``):

    - ``heartbeat`` [``DEFAULT_HEARTBEAT``]: a ``: ping`` comment whenever nothing was written
      for that many seconds.
    - ``idle_timeout`` [``DEFAULT_IDLE_TIMEOUT``]: ``error`` ``idle_timeout`` after that many
      seconds without an item from the source.
    - ``first_event_timeout`` [None]: ``error`` ``first_event_timeout`` if the source yields
      nothing but ``Start`` for that long; until its first such event it replaces
      ``idle_timeout``, so a slow first token may take longer than later silences.
    - ``max_duration`` [None]: ``error`` ``max_duration`` once the stream is that old.
    - ``send_timeout`` [``DEFAULT_SEND_TIMEOUT``]: a client that takes longer than this to
      accept one write is dropped (the connection is closed without a terminal event, which
      clients read as an interruption) and the source cancelled.
    - ``max_buffer`` [``DEFAULT_MAX_BUFFER``]: bytes of encoded events waiting for the client
      before the source is no longer pulled (one event may overshoot it).
    - ``close_timeout`` [``DEFAULT_CLOSE_TIMEOUT``]: how long the source may take to close.

    A client that disconnects gets the source cancelled at once: its ``finally`` runs. When the
    server shuts down, the stream ends with ``error`` ``server_shutdown`` (retryable), see
    ``request_shutdown``. ``on_close`` (sync or async) is called last with the terminal event
    the client was sent, or None when it went away first. ``retry``, ``stream_id`` and ``model``
    go to the dialect's encoder (``EncoderOptions``); a dialect's own options are on the
    dialect object (``dialect=NativeDialect(named=True)``).

    Headers: ``text/event-stream; charset=utf-8``, ``Cache-Control: no-cache, no-transform``,
    ``X-Accel-Buffering: no`` and the dialect's own (``Surestream-Protocol: 1``); ``headers``
    adds to or overrides them. ``GZipMiddleware`` leaves ``text/event-stream`` alone. A HEAD
    request gets the headers only and the source is closed unstarted. Below ``DetachStreams``
    the response streams once the endpoint and the middlewares under it have returned.
    Needs an asyncio loop.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        source: AsyncIterable[SourceItem],
        *,
        dialect: str | Dialect = "native",
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        heartbeat: float | None = DEFAULT_HEARTBEAT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        first_event_timeout: float | None = None,
        max_duration: float | None = None,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        retry: int | None = DEFAULT_RETRY,
        stream_id: str | None = None,
        model: str | None = None,
        start: bool | None = None,
        journal: bool = False,
        first_seq: int = 0,
        history: Sequence[Event] = (),
        on_close: OnClose | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.limits = _limits(
            heartbeat,
            idle_timeout,
            first_event_timeout,
            max_duration,
            send_timeout,
            max_buffer,
            close_timeout,
        )
        if journal and start:
            raise ValueError("a journal source has its own Start: start must be False")
        if first_seq < 0:
            raise ValueError("first_seq must be >= 0")
        self.dialect = get_dialect(dialect) if isinstance(dialect, str) else dialect
        self.source = source
        self.options = EncoderOptions(
            stream_id=stream_id or "",
            model=model or "",
            retry=retry,
            created=int(time.time()),
        )
        self.start = not journal if start is None else start
        self.journal = journal
        self.first_seq = first_seq
        self.history = history
        self.on_close = on_close
        self.status_code = status_code
        self.background = background
        self.raw_headers = _raw_headers(self.dialect, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the stream as the ASGI app of one request (or leave it to ``DetachStreams``)."""
        detach = scope.get(DETACH_SCOPE_KEY)
        if detach is not None and not detach:
            detach.append(self)
            return
        terminal: Done | Error | None = None
        try:
            if scope.get("method") == "HEAD":
                start = {"type": "http.response.start", "status": self.status_code}
                await send({**start, "headers": self.raw_headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                await _aclose(self.source)
            else:
                terminal = await _Run(self, send).run(receive)
        finally:
            await self._closed(terminal)
        if self.background is not None:
            await self.background()

    async def discard(self) -> None:
        """Give up a response that will not be sent: close the source, call ``on_close(None)``."""
        try:
            await _aclose(self.source)
        finally:
            await self._closed(None)

    async def _closed(self, terminal: Done | Error | None) -> None:
        if self.on_close is None:
            return
        try:
            result = self.on_close(terminal)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_close callback of an event stream failed")


_HEADERS: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
"""A dialect's headers -> the default response headers, encoded once and shared."""


def _encoded(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def _raw_headers(dialect: Dialect, headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    """The response's headers: the defaults and the dialect's (the same objects for every
    response of a dialect: thousands of open streams hold one copy), then ``headers``."""
    key = tuple(dialect.headers.items())
    defaults = _HEADERS.get(key)
    if defaults is None:
        merged = {"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"}
        merged.update({name.lower(): value for name, value in key})
        merged["content-type"] = f"{EventStreamResponse.media_type}; charset=utf-8"
        defaults = _HEADERS[key] = _encoded(merged)
    if not headers:
        return list(defaults)
    extra = _encoded(headers)
    names = {name for name, _ in extra}
    return [header for header in defaults if header[0] not in names] + extra


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Run:
    """The state of one response while it streams (see the module strategy)."""

    __slots__ = (
        "disconnected",
        "encoder",
        "last_write",
        "life",
        "loop",
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
        self.last_write = now = self.loop.time()
        self.life = ProducerState(
            now, timeouts=resp.limits.timeouts, first_seq=resp.first_seq, journal=resp.journal
        )
        self.produced = self.stamped = 0
        """Items pulled from the source, and how many of them the lifecycle's activity has
        seen: the pump stamps the time, so the producer reads no clock per event."""
        self.writing = False
        self.wake_after_write = False
        self.source_done = False
        self.disconnected = False
        self.shutting_down = False
        self.wake: asyncio.Future[None] | None = None
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

    async def stream(self, receive: Receive) -> Done | Error | None:
        resp = self.resp
        if not await self.write(
            {"type": "http.response.start", "status": resp.status_code, "headers": resp.raw_headers}
        ):
            await _aclose(resp.source)
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
                            if not await self.flush():
                                break
                            continue
                    self.notify()
                    if self.pending_size >= max_buffer:
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
            await _aclose(source)

    async def flush(self) -> bool:
        """Send what is pending from the producer's task while the writer sleeps."""
        pending = self.pending
        body = b"".join(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        self.pending_size = 0
        self.writing = True
        try:
            sent = await self.write({"type": "http.response.body", "body": body, "more_body": True})
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
                pending.append(HEARTBEAT)
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

    async def write(self, message: dict[str, Any]) -> bool:
        """Send one ASGI message; False when the client is gone or was dropped as too slow."""
        watchdog = self.watchdog
        watchdog.begin()
        try:
            await self.send(message)
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


async def _aclose(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
