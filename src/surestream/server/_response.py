"""``EventStreamResponse``: typed events to SSE, and every stream ends with a verdict.

The response is the public face: its arguments, its headers, HEAD requests, ``DetachStreams``
and ``on_close``. Its limits live in ``_limits`` (one frozen ``ResponseLimits``), the
streaming itself -- the producer, the writer and the listener tasks -- in ``_run``, and every
rule about what is written in ``surestream.lifecycle``.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from typing import TypeAlias

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from surestream.dialects import Dialect, EncoderOptions, get_dialect
from surestream.events import Done, Error, Event
from surestream.lifecycle import DEFAULT_HEARTBEAT, DEFAULT_IDLE_TIMEOUT
from surestream.server._detach import DETACH_SCOPE_KEY
from surestream.server._limits import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_BUFFER,
    DEFAULT_SEND_TIMEOUT,
    ResponseLimits,
    response_limits,
)
from surestream.server._run import ResponseRun, aclose_source
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

DEFAULT_RETRY = 3000
"""Reconnection time in ms, written in the first event's block (``retry:``)."""

SourceItem: TypeAlias = Event | str | tuple[int, Event]
"""What a source yields: a typed event or a ``str`` (taken as ``Text``); a journal source
(``journal=True``) yields ``(seq, event)`` pairs."""
OnClose: TypeAlias = Callable[[Done | Error | None], Awaitable[None] | None]
"""Called once the stream is over with the terminal event the client got, or None if none."""


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

    - ``heartbeat`` [``DEFAULT_HEARTBEAT``]: the dialect's heartbeat (a ``: ping`` comment,
      or the wire's own keep-alive event: ``Dialect.heartbeat``) whenever nothing was written
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
        self.limits = response_limits(
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
                await aclose_source(self.source)
            else:
                terminal = await ResponseRun(self, send).run(receive)
        finally:
            await self._closed(terminal)
        if self.background is not None:
            await self.background()

    async def discard(self) -> None:
        """Give up a response that will not be sent: close the source, call ``on_close(None)``."""
        try:
            await aclose_source(self.source)
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
