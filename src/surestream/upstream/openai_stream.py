"""``OpenAIStream``: the events of one accepted upstream request, as an async iterator.

Strategy: the stream is a plain async iterator (not a generator, so nothing straddles a
``yield``) over an ``AnswerReader`` (``openai_answer``: every rule of what the body means) and
a *body* that fills the reader:

- ``LiveBody``, the default: the body of an ``UpstreamConnection`` (``_http1``), pushed into
  the reader from the event loop's callbacks as it arrives. The consumer's task sleeps on one
  future only while the reader has nothing for it, and one timer per stream watches the
  reader's deadline: it is armed once and, when it fires early (activity moved the deadline),
  re-armed for the new deadline -- no timer is made or cancelled per token. A reader that
  runs ahead of its consumer by ``MAX_AHEAD`` events pauses the socket.
- ``HttpxBody``: an ``httpx`` response read chunk by chunk, for an upstream given its own
  ``http_client`` (HTTP/2, proxies, custom transports), each read under the reader's deadline.

``aclose()`` (idempotent) closes the connection when the body is still streaming; the
stream closes itself after its ``Done`` or its failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

import httpx

from surestream._closing import AsyncClosing
from surestream.events import Done, Event
from surestream.upstream._http1 import UpstreamConnection
from surestream.upstream.openai_answer import AnswerReader

__all__ = ["MAX_AHEAD", "BufferedStream", "HttpxBody", "LiveBody", "OpenAIStream"]

logger = logging.getLogger("surestream.upstream")

MAX_AHEAD = 4096
"""Events a live body decodes ahead of its consumer before it stops reading the socket."""


class Body(Protocol):
    """What fills an ``AnswerReader``."""

    async def fill(self, reader: AnswerReader) -> None:
        """Return once the reader has events, a failure or is over."""

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""


class LiveBody:
    """The body of an ``UpstreamConnection``, pushed into the reader (see the module
    docstring); a ``BodySink``."""

    __slots__ = ("_conn", "_loop", "_reader", "_timer", "_timer_at", "_waiter")

    def __init__(self, conn: UpstreamConnection, reader: AnswerReader) -> None:
        self._conn = conn
        self._reader = reader
        self._loop = conn.loop
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._arm()
        conn.attach(self)

    def feed(self, data: bytes) -> None:
        """Body bytes: into the reader; wake the consumer if it waits."""
        reader = self._reader
        reader.feed(data, self._loop.time())
        if reader.pending or reader.over:
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)
            if len(reader.pending) >= MAX_AHEAD:
                self._conn.pause()
        deadline = reader.deadline()
        if deadline is not None and (self._timer is None or deadline < self._timer_at):
            self._arm()  # a first deadline, or one earlier than the timer (after finish_reason)

    def end(self, complete: bool) -> None:
        """The body ended: the reader's verdict, and wake the consumer."""
        self._reader.end(complete)
        self._wake()

    async def fill(self, reader: AnswerReader) -> None:
        """Wait for the reader to have something (the socket is read meanwhile)."""
        self._conn.resume()
        waiter = self._waiter = self._loop.create_future()
        await waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._reader.deadline()
        if deadline is not None and not self._reader.over:
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._look)

    def _look(self) -> None:
        self._timer = None
        reader = self._reader
        if reader.over:
            return
        deadline = reader.deadline()
        if deadline is None:
            return
        if self._loop.time() >= deadline:
            reader.timed_out()
            self._conn.close()
            self._wake()
        else:
            self._arm()

    async def aclose(self) -> None:
        """Stop the timer and close the connection."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._conn.close()


class HttpxBody:
    """An httpx response's raw body, one read at a time under the reader's deadline."""

    __slots__ = ("_closed", "_raw", "_response")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._raw = response.aiter_raw()
        self._closed = False

    async def fill(self, reader: AnswerReader) -> None:
        """Read one chunk (or the end, a break, a timeout) into the reader."""
        loop = asyncio.get_running_loop()
        deadline = reader.deadline()
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await self._raw.__anext__()
        except StopAsyncIteration:
            reader.end(True)
            return
        except (TimeoutError, httpx.TimeoutException):
            reader.timed_out()
            return
        except httpx.HTTPError:
            reader.end(False)
            return
        reader.feed(chunk, loop.time())

    async def aclose(self) -> None:
        """Close the response (and its connection if still streaming)."""
        if not self._closed:
            self._closed = True
            await self._response.aclose()


class OpenAIStream(AsyncClosing):
    """The events of one accepted upstream request (see the module docstring).

    Iterate it once; ``aclose()`` (idempotent) closes the connection when the body is still
    streaming.
    """

    __slots__ = ("_body", "_closed", "_reader")

    def __init__(self, body: Body, reader: AnswerReader) -> None:
        self._body = body
        self._reader = reader
        self._closed = False

    def __aiter__(self) -> OpenAIStream:
        return self

    async def __anext__(self) -> Event:
        reader = self._reader
        pending = reader.pending
        while True:
            if pending:
                event = pending.popleft()
                if isinstance(event, Done):
                    await self.aclose()
                return event
            failure = reader.failure
            if failure is not None:
                reader.failure = None
                logger.warning("upstream stream failed: %s", failure.code)
                await self.aclose()
                raise failure
            if reader.over:
                await self.aclose()
                raise StopAsyncIteration
            await self._body.fill(reader)

    async def aclose(self) -> None:
        """Close the upstream connection (if still streaming)."""
        self._reader.over = True
        if not self._closed:
            self._closed = True
            await self._body.aclose()


class BufferedStream(AsyncClosing):
    """A whole non-streaming answer, replayed as events (for servers that ignore stream)."""

    def __init__(self, events: list[Event]) -> None:
        self._events = deque(events)

    def __aiter__(self) -> BufferedStream:
        return self

    async def __anext__(self) -> Event:
        if not self._events:
            raise StopAsyncIteration
        return self._events.popleft()

    async def aclose(self) -> None:
        """Forget the rest."""
        self._events.clear()
