"""One HTTP/1.1 request to an upstream on a connection of its own, its body pushed as it arrives.

Strategy: an upstream answer is one HTTP chunk per token, so what a chunk costs on its way in
bounds the gateway. httpx's stack (a task waiting on anyio's socket read, then httpcore, h11
and httpx's async generators, each chunk on its own) costs more than everything else the
gateway does with a token. ``UpstreamConnection`` is an ``asyncio.Protocol`` instead: h11
writes the request and parses the response head, then each socket read is de-chunked in one
call (``surestream._chunked``) and handed, in the event loop's callback, to the body's
``BodySink`` -- no task wakes up to read, and the sink decides whether anyone must be woken.

``open_connection`` connects (TCP, TLS for ``https``) within ``connect_timeout`` and sends the
request; ``UpstreamConnection.head`` resolves with the response head (or fails with
``ConnectionError`` when the connection ends first); ``attach(sink)`` starts the body's
delivery (what arrived before is handed over at once), ``read_all`` collects a bounded body.
A sink learns the end with ``end(complete)``: True when the body's framing said it was whole
(the last chunk, the Content-Length reached, or the close of a close-delimited body), False
when the connection broke first. Connections are not reused: the request says
``Connection: close`` and ``close()`` closes the socket whatever the state.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Protocol, cast

import h11

from surestream._chunked import ChunkedDecoder, ChunkedError

__all__ = ["BodySink", "UpstreamConnection", "open_connection"]


class BodySink(Protocol):
    """Where a response body goes, piece by piece, from the event loop's callbacks."""

    def feed(self, data: bytes) -> None:
        """Body bytes (framing removed), as they arrived."""

    def end(self, complete: bool) -> None:
        """No more bytes: the body was whole (True) or the connection broke (False)."""


class _Collected:
    """A ``BodySink`` keeping at most ``limit`` bytes (``overflow`` beyond)."""

    def __init__(self, limit: int, done: asyncio.Future[None]) -> None:
        self.limit = limit
        self.done = done
        self.data = bytearray()
        self.overflow = False
        self.complete = False

    def feed(self, data: bytes) -> None:
        self.data += data
        if len(self.data) > self.limit and not self.done.done():
            self.overflow = True
            self.done.set_result(None)

    def end(self, complete: bool) -> None:
        self.complete = complete
        if not self.done.done():
            self.done.set_result(None)


class UpstreamConnection(asyncio.Protocol):
    """One request's connection (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.head: asyncio.Future[h11.Response] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._h11 = h11.Connection(h11.CLIENT)
        self._framing = ""
        self._left = 0
        self._chunks = ChunkedDecoder()
        self._sink: BodySink | None = None
        self._held: list[bytes] = []
        self._ended: bool | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast(asyncio.Transport, transport)

    def send_request(self, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Write ``POST target`` with ``headers`` (Host included by the caller) and ``body``."""
        conn = self._h11
        headers = [*headers, (b"Content-Length", b"%d" % len(body)), (b"Connection", b"close")]
        out = conn.send(h11.Request(method=b"POST", target=target, headers=headers)) or b""
        out += conn.send(h11.Data(data=body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        self._write(out)

    def _write(self, data: bytes) -> None:
        if self.transport is None:
            raise ConnectionError("the upstream closed the connection")
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        """The head through h11, then the body (de-chunked per read) to the sink."""
        if not self._framing:
            data = self._receive_head(data)
            if not data:
                return
        framing = self._framing
        if framing == "chunked":
            try:
                payload = self._chunks.feed(data)
            except ChunkedError:
                self._finish(False)
                return
            if payload:
                self._deliver(payload)
            if self._chunks.done:
                self._finish(True)
        elif framing == "length":
            payload = data[: self._left]
            self._left -= len(payload)
            if payload:
                self._deliver(payload)
            if self._left <= 0:
                self._finish(True)
        else:
            self._deliver(data)

    def _receive_head(self, data: bytes) -> bytes:
        """Feed the head to h11; the body bytes after it once it is complete."""
        conn = self._h11
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                self._fail_head("the upstream sent a malformed response head")
                return b""
            if event is h11.NEED_DATA:
                return b""
            if isinstance(event, h11.Response):
                break
        self._framing, self._left = _framing(event)
        if not self.head.done():
            self.head.set_result(event)
        rest = conn.trailing_data[0]
        if self._framing == "length" and self._left <= 0:
            self._finish(True)
            return b""
        return rest or b""

    def _deliver(self, payload: bytes) -> None:
        sink = self._sink
        if sink is not None:
            sink.feed(payload)
        else:
            self._held.append(payload)

    def eof_received(self) -> bool | None:
        """The peer closed: the end of a close-delimited body, else a break."""
        self._finish(self._framing == "close")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone: fail the head if it never came; end the body if it had not ended."""
        self.transport = None
        self._fail_head("the upstream closed the connection without a response")
        self._finish(self._framing == "close")

    def _fail_head(self, message: str) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionError(message))
            self.head.exception()  # retrieved: nobody may be waiting any more
            self.close()

    def _finish(self, complete: bool) -> None:
        if self._ended is not None:
            return
        self._ended = complete
        if self._sink is not None:
            self._sink.end(complete)
        self.close()

    def attach(self, sink: BodySink) -> None:
        """Deliver the body to ``sink`` from now on (and what arrived before, at once)."""
        self._sink = sink
        held, self._held = self._held, []
        for payload in held:
            sink.feed(payload)
        if self._ended is not None:
            sink.end(self._ended)

    async def read_all(self, limit: int) -> bytes | None:
        """The whole body, or None when it exceeds ``limit`` bytes or the connection broke."""
        collected = _Collected(limit, self.loop.create_future())
        self.attach(collected)
        try:
            await collected.done
        finally:
            self.close()
        if collected.overflow or not collected.complete:
            return None
        return bytes(collected.data)

    def pause(self) -> None:
        """Stop reading the socket until ``resume`` (the consumer is behind)."""
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        """Read the socket again."""
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()


def _framing(response: h11.Response) -> tuple[str, int]:
    if response.status_code in (204, 304):
        return "length", 0
    headers = {name: value for name, value in response.headers}
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return "chunked", 0
    length = headers.get(b"content-length")
    if length is not None:
        return "length", int(length)
    return "close", 0


async def open_connection(
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    connect_timeout: float | None,
) -> UpstreamConnection:
    """A connected ``UpstreamConnection`` (TLS when ``ssl_context``); ``TimeoutError`` beyond
    ``connect_timeout``, ``OSError`` (``ssl.SSLError`` included) when it cannot connect."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(connect_timeout):
        _, protocol = await loop.create_connection(
            lambda: UpstreamConnection(loop),
            host,
            port,
            ssl=ssl_context,
            server_hostname=host if ssl_context is not None else None,
        )
    return protocol
