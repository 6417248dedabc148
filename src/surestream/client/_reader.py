"""One stream's bytes, connection after connection: body blocks -> SSE events, under limits.

Strategy: ``ConnectionReader`` holds the open response of an ``EventStream`` and everything
counted in bytes or time rather than in typed events: the connection's ``sse.Decoder``, the
stream's ``max_bytes`` and ``max_events`` (across all its connections), the ``retry:`` the
server asked for last, and the ``idle_timeout`` budget -- time spent inside ``read``, waiting
on the network without a complete event (heartbeats included; the caller's own time between
two events does not count). ``read`` returns the next SSE events, or None when the
connection ended; what stops it otherwise is raised: ``_ConnectionLost`` (a new connection
may continue the stream), ``_IdleTimeout`` and ``_Unreadable`` (the stream ends at once:
coming back would bring the same bytes). The typed events and every rule about the stream's
end belong to ``EventStream`` and ``surestream.lifecycle``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import httpx

from surestream.client._body import body_blocks
from surestream.client._limits import Limits
from surestream.sse import Decoder, ServerSentEvent, SSEProtocolError

__all__ = ["ConnectionReader", "is_event_stream"]


class _ConnectionLost(Exception):
    """The connection failed (reset, read timeout); its message says how."""


class _IdleTimeout(Exception):
    """No complete event within the idle budget."""


class _Unreadable(Exception):
    """The bytes cannot be read on (a broken body, an SSE limit, a stream over ``Limits``);
    its message says why."""


def is_event_stream(response: httpx.Response) -> bool:
    """True when ``response`` is ``text/event-stream`` (parameters aside)."""
    content_type = str(response.headers.get("content-type", ""))
    return content_type.partition(";")[0].strip().lower() == "text/event-stream"


class ConnectionReader:
    """Reads the SSE events of one stream from its current connection (see the module
    docstring); ``read_timeout`` is the byte timer of the HTTP client (httpx's ``read``)."""

    __slots__ = (
        "_blocks",
        "_bytes",
        "_events",
        "_idle_spent",
        "_idle_timeout",
        "_limits",
        "_read_timeout",
        "_response",
        "_sse",
        "retry_ms",
    )

    def __init__(
        self, limits: Limits, *, idle_timeout: float | None, read_timeout: float | None
    ) -> None:
        self._limits = limits
        self._idle_timeout = idle_timeout
        self._read_timeout = read_timeout
        self._response: httpx.Response | None = None
        self._blocks: AsyncIterator[bytes] | None = None
        self._sse = Decoder(limits.max_event_size)
        self._bytes = 0
        self._events = 0
        self._idle_spent = 0.0
        self.retry_ms: int | None = None
        """The last ``retry:`` of a closed connection (milliseconds), if any."""

    @property
    def is_open(self) -> bool:
        """True while a connection is being read."""
        return self._response is not None

    def open(self, response: httpx.Response) -> None:
        """Read ``response`` from now on (a new SSE decoder and a full idle budget)."""
        self._response = response
        self._blocks = body_blocks(response).__aiter__()
        self._sse = Decoder(self._limits.max_event_size)
        self._idle_spent = 0.0

    async def close(self) -> None:
        """Close the connection (shielded from cancellation), keeping its ``retry:``."""
        response, self._response, self._blocks = self._response, None, None
        if self._sse.retry is not None:
            self.retry_ms = self._sse.retry
        if response is not None:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    def end(self) -> None:
        """The connection's body ended: ``_Unreadable`` when it cut an event short in a way
        the SSE decoder refuses."""
        try:
            self._sse.close()
        except SSEProtocolError as exc:
            raise _Unreadable(str(exc)) from None

    async def read(self) -> list[ServerSentEvent] | None:
        """The SSE events the next body blocks complete; None when the connection ended
        (or none is open)."""
        limits = self._limits
        while True:
            try:
                block = await self._read_block()
            except httpx.TransportError as exc:
                raise _ConnectionLost(f"the connection was lost: {exc!r}") from None
            except httpx.HTTPError as exc:
                raise _Unreadable(f"the response body cannot be read: {exc}") from None
            if block is None:
                return None
            self._bytes += len(block)
            if self._bytes > limits.max_bytes:
                raise _Unreadable(f"the stream exceeded max_bytes ({limits.max_bytes} bytes)")
            try:
                events = self._sse.feed(block)
            except SSEProtocolError as exc:
                raise _Unreadable(str(exc)) from None
            if events:
                self._events += len(events)
                if self._events > limits.max_events:
                    raise _Unreadable(
                        f"the stream exceeded max_events ({limits.max_events} events)"
                    )
                self._idle_spent = 0.0
                return events

    async def _read_block(self) -> bytes | None:
        blocks = self._blocks
        if blocks is None:
            return None
        idle_timeout = self._idle_timeout
        if idle_timeout is None:
            return await anext(blocks, None)
        remaining = idle_timeout - self._idle_spent
        start = time.monotonic()
        read_timeout = self._read_timeout
        if read_timeout is not None and remaining > read_timeout:
            # The byte timer ends this read before the idle budget runs out: no timer needed
            # here (arming one costs more than parsing an event).
            block = await anext(blocks, None)
        else:
            with anyio.move_on_after(remaining) as scope:
                block = await anext(blocks, None)
            if scope.cancelled_caught:
                raise _IdleTimeout
        self._idle_spent += time.monotonic() - start
        return block
