"""A TCP proxy on loopback that a test puts between a client and a server, and then breaks.

``async with Proxy(upstream_port) as proxy:`` listens on ``proxy.url`` and forwards every
connection to ``127.0.0.1:upstream_port``. The test can cut all connections (``cut()``), stop
forwarding on them while keeping them open (``stall()``), or arm either to happen after
exactly ``n`` more bytes went from server to client (``cut_after(n)``, ``stall_after(n)``),
so a stream breaks at a chosen byte whatever the timing; with ``after=b"\r\n\r\n"`` the
count starts after the first such marker on a connection (the end of an HTTP response head,
which must arrive in one read). New connections after a cut or a
stall are forwarded normally. ``broken`` is set when a cut or a stall happened. asyncio only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

_READ_SIZE = 65536


class _Link:
    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.stalled = asyncio.Event()
        self.marker_seen = False

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class Proxy:
    """A breakable TCP proxy to ``127.0.0.1:upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.url = ""
        self.connections = 0
        """Connections accepted so far."""
        self.downstream_bytes = 0
        """Bytes forwarded from server to client so far, over all connections."""
        self.broken = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._budget: int | None = None
        self._action = ""
        self._after = b""

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        await self._server.wait_closed()

    def cut(self) -> None:
        """Abort every open connection now (both sides see a reset)."""
        for link in list(self._links):
            link.abort()
        self._links.clear()
        self.broken.set()

    def stall(self) -> None:
        """Stop forwarding server-to-client bytes on every open connection; keep them open."""
        for link in self._links:
            link.stalled.set()
        self.broken.set()

    def cut_after(self, n: int, *, after: bytes = b"") -> None:
        """``cut()`` once exactly ``n`` more bytes (past ``after``) went to the client."""
        self._budget, self._action, self._after = n, "cut", after

    def stall_after(self, n: int, *, after: bytes = b"") -> None:
        """``stall()`` once exactly ``n`` more bytes (past ``after``) went to the client."""
        self._budget, self._action, self._after = n, "stall", after

    def _counted(self, link: _Link, data: bytes) -> int:
        """Where the bytes that count against the budget start in ``data``."""
        if not self._after or link.marker_seen:
            return 0
        index = data.find(self._after)
        if index < 0:
            return len(data)
        link.marker_seen = True
        return index + len(self._after)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        self._spawn(self._upstream(reader, link))
        self._spawn(self._downstream(up_reader, link))

    async def _upstream(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(_READ_SIZE):
                link.server.write(data)
                await link.server.drain()
        link.abort()
        self._links.discard(link)

    async def _downstream(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while not link.stalled.is_set():
                data = await reader.read(_READ_SIZE)
                if not data or link.stalled.is_set():
                    break
                action = ""
                if self._budget is not None:
                    start = self._counted(link, data)
                    if len(data) - start >= self._budget:
                        data, action = data[: start + self._budget], self._action
                        self._budget = None
                    else:
                        self._budget -= len(data) - start
                self.downstream_bytes += len(data)
                link.client.write(data)
                await link.client.drain()
                if action == "cut":
                    self.cut()
                elif action == "stall":
                    self.stall()
            if link.stalled.is_set():
                await asyncio.Event().wait()
            link.client.close()
            link.server.close()
        self._links.discard(link)
