"""A TCP proxy on loopback that a test puts between a client and a server, and then breaks.

``async with Proxy(upstream_port) as proxy:`` (or ``await proxy.start()`` / ``stop()``)
listens on ``proxy.url`` and forwards every connection to ``127.0.0.1:upstream_port``.
Faults come two ways:

- for every open connection: ``cut()`` aborts them all, ``stall()`` stops forwarding to the
  clients while keeping the connections open; ``cut_after(n)`` / ``stall_after(n)`` do it
  once exactly ``n`` more bytes went from server to client, so a stream breaks at a chosen
  byte whatever the timing (``after=HEAD_END``: counted from the end of a response head);
- per stream, for the fault campaign: ``plan(stream_id, [Fault, ...])`` gives the next
  connections that read ``/v1/streams/<stream_id>/events`` one ``Fault`` each (cut, stall or
  slow, counted from the end of the response head), while hundreds of other streams pass
  untouched; ``fired`` records the planned faults that really happened, per stream.

A cut resets both sides (``SO_LINGER`` 0); new connections after a fault are forwarded
normally; ``broken`` is set once any fault happened. asyncio only.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

__all__ = ["HEAD_END", "Fault", "Proxy"]

HEAD_END = b"\r\n\r\n"
"""The end of an HTTP response head: faults counted ``after`` it land in the body."""

_READ_SIZE = 65536
_EVENTS_PATH = re.compile(rb"^GET /v1/streams/([A-Za-z0-9_-]+)/events[ ?]")


@dataclass(frozen=True)
class Fault:
    """What happens to a connection once ``after`` body bytes went to the client.

    ``cut``: both sides see a reset. ``stall``: nothing more is forwarded to the client, the
    connection stays open (the client's read timeout must notice). ``slow``: the rest is
    forwarded ``piece`` bytes at a time with ``pause`` seconds between pieces.
    """

    kind: Literal["cut", "stall", "slow"]
    after: int = 0
    piece: int = 16
    pause: float = 0.004


class _Link:
    def __init__(
        self, client: asyncio.StreamWriter, server: asyncio.StreamWriter, stream_id: str
    ) -> None:
        self.client = client
        self.server = server
        self.stream_id = stream_id
        self.stalled = asyncio.Event()
        self.planned: Fault | None = None
        self.planned_left = 0
        self.slow: Fault | None = None
        self.in_body = False
        self._tail = b""

    def body_start(self, data: bytes) -> int:
        """Where the response body starts in ``data`` (``len(data)``: not yet), with a head
        end split over two reads found too."""
        if self.in_body:
            return 0
        window = self._tail + data
        index = window.find(HEAD_END)
        if index < 0:
            self._tail = window[-(len(HEAD_END) - 1) :]
            return len(data)
        self.in_body = True
        return index + len(HEAD_END) - len(self._tail)

    def abort(self) -> None:
        """Close both sides now; pending bytes are dropped and the peers see a reset."""
        for writer in (self.client, self.server):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    def close(self) -> None:
        """Close both sides cleanly (what was written is delivered first)."""
        for writer in (self.client, self.server):
            writer.close()


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
        """Set once a fault happened."""
        self.fired: dict[str, list[str]] = defaultdict(list)
        """Stream id -> the kinds of the planned faults that happened, in order."""
        self._plans: dict[str, list[Fault]] = {}
        self._armed: tuple[Literal["cut", "stall"], bool] | None = None
        self._budget = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port (``port``, ``url``)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop listening, abort every connection and wait for the forwarding tasks."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
        self._links.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> Proxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

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
        self._arm("cut", n, after)

    def stall_after(self, n: int, *, after: bytes = b"") -> None:
        """``stall()`` once exactly ``n`` more bytes (past ``after``) went to the client."""
        self._arm("stall", n, after)

    def plan(self, stream_id: str, faults: list[Fault]) -> None:
        """The faults of the next connections that read ``stream_id``, one per connection."""
        self._plans[stream_id] = list(faults)

    def _arm(self, kind: Literal["cut", "stall"], n: int, after: bytes) -> None:
        if after not in (b"", HEAD_END):
            raise ValueError(f"after must be b'' or HEAD_END, not {after!r}")
        self._armed, self._budget = (kind, after == HEAD_END), n

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            first = await reader.read(_READ_SIZE)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        match = _EVENTS_PATH.match(first)
        stream_id = match.group(1).decode() if match is not None else ""
        link = _Link(writer, up_writer, stream_id)
        planned = self._plans.get(stream_id)
        if planned:
            link.planned = planned.pop(0)
            link.planned_left = link.planned.after
        self._links.add(link)
        up_writer.write(first)
        self._spawn(self._upstream(reader, link))
        self._spawn(self._downstream(up_reader, link))

    async def _upstream(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            await link.server.drain()
            while data := await reader.read(_READ_SIZE):
                link.server.write(data)
                await link.server.drain()
        link.close()
        self._links.discard(link)

    def _fault_in(self, link: _Link, data: bytes) -> tuple[int, Fault, bool] | None:
        """``(index, fault, for every connection)`` when a fault fires within ``data``."""
        body = link.body_start(data)
        hits = []
        if self._armed is not None:
            kind, past_head = self._armed
            start = body if past_head else 0
            if not past_head or link.in_body:
                if len(data) - start >= self._budget:
                    hits.append((start + self._budget, Fault(kind), True))
                    self._armed = None
                else:
                    self._budget -= len(data) - start
        if link.planned is not None and link.in_body:
            if len(data) - body >= link.planned_left:
                hits.append((body + link.planned_left, link.planned, False))
                link.planned = None
            else:
                link.planned_left -= len(data) - body
        return min(hits, key=lambda hit: hit[0]) if hits else None

    async def _send(self, link: _Link, data: bytes) -> None:
        self.downstream_bytes += len(data)
        link.client.write(data)
        await link.client.drain()

    async def _trickle(self, link: _Link, data: bytes, fault: Fault) -> None:
        for start in range(0, len(data), fault.piece):
            await self._send(link, data[start : start + fault.piece])
            await asyncio.sleep(fault.pause)

    async def _downstream(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while not link.stalled.is_set():
                data = await reader.read(_READ_SIZE)
                if not data or link.stalled.is_set():
                    break
                if link.slow is not None:
                    await self._trickle(link, data, link.slow)
                    continue
                hit = self._fault_in(link, data)
                if hit is None:
                    await self._send(link, data)
                    continue
                index, fault, everywhere = hit
                await self._send(link, data[:index])
                self.broken.set()
                if not everywhere:
                    self.fired[link.stream_id].append(fault.kind)
                if fault.kind == "cut":
                    link.abort()
                    if everywhere:
                        self.cut()
                    self._links.discard(link)
                    return
                if fault.kind == "stall":
                    link.stalled.set()
                    if everywhere:
                        self.stall()
                    break
                link.slow = fault
                await self._trickle(link, data[index:], fault)
            if link.stalled.is_set():
                await asyncio.Event().wait()
            link.close()
        self._links.discard(link)
