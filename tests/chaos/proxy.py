"""A TCP proxy between the campaign's clients and nginx that breaks chosen connections.

Unlike ``tests.support.proxy.Proxy`` (one fault for every open connection), this proxy
decides per connection: it reads the request line a client sends first, takes the stream id
out of ``/v1/streams/<id>/events`` and applies the next ``Fault`` planned for that stream
(``plan(stream_id, [...])``), so the first connection of a stream can be cut, its resume
stalled and the next one slowed, while hundreds of other streams pass through untouched.
Byte counts start after the response head (the first ``\\r\\n\\r\\n``), so a fault lands inside
the event stream. ``fired`` records the faults that really happened, per stream (a cut
planned past the end of a short stream never fires). asyncio only.
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
from typing import Any, Literal

_READ_SIZE = 65536
_EVENTS_PATH = re.compile(rb"^GET /v1/streams/([A-Za-z0-9_-]+)/events[ ?]")
_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Fault:
    """What happens to one connection once ``after`` body bytes went to the client.

    ``cut``: both sides see a reset. ``stall``: nothing more is forwarded to the client, the
    connection stays open (the client's read timeout must notice). ``slow``: the rest is
    forwarded ``piece`` bytes at a time with ``pause`` seconds between pieces.
    """

    kind: Literal["cut", "stall", "slow"]
    after: int = 0
    piece: int = 16
    pause: float = 0.004


class _Link:
    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server

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


class ChaosProxy:
    """A per-stream breakable proxy to ``127.0.0.1:upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.url = ""
        self.connections = 0
        self.fired: dict[str, list[str]] = defaultdict(list)
        self._plans: dict[str, list[Fault]] = {}
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def plan(self, stream_id: str, faults: list[Fault]) -> None:
        """The faults of the next connections that read ``stream_id``, one per connection."""
        self._plans[stream_id] = list(faults)

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
        fault = None
        stream_key = ""
        match = _EVENTS_PATH.match(first)
        if match is not None:
            stream_id = match.group(1).decode()
            planned = self._plans.get(stream_id)
            if planned:
                fault = planned.pop(0)
                stream_key = stream_id
        link = _Link(writer, up_writer)
        self._links.add(link)
        up_writer.write(first)
        self._spawn(self._upstream(reader, link))
        self._spawn(self._downstream(up_reader, link, fault, stream_key))

    async def _upstream(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            await link.server.drain()
            while data := await reader.read(_READ_SIZE):
                link.server.write(data)
                await link.server.drain()
        link.close()
        self._links.discard(link)

    async def _downstream(
        self, reader: asyncio.StreamReader, link: _Link, fault: Fault | None, stream_id: str
    ) -> None:
        head = b""
        in_body = False
        sent = 0
        slow = False
        cut = False
        with contextlib.suppress(OSError):
            while data := await reader.read(_READ_SIZE):
                if fault is not None and not in_body:
                    head += data
                    end = head.find(_HEAD_END)
                    if end < 0:
                        link.client.write(data)
                        await link.client.drain()
                        continue
                    in_body = True
                    body = head[end + len(_HEAD_END) :]
                    data = data[: len(data) - len(body)]
                    link.client.write(data)
                    data = body
                if fault is not None and in_body and not slow:
                    room = fault.after - sent
                    if len(data) < room:
                        sent += len(data)
                    else:
                        link.client.write(data[:room])
                        await link.client.drain()
                        data = data[room:]
                        self.fired[stream_id].append(fault.kind)
                        if fault.kind == "cut":
                            cut = True
                            break
                        if fault.kind == "stall":
                            await asyncio.Event().wait()
                        slow = True
                if slow and fault is not None:
                    for start in range(0, len(data), fault.piece):
                        link.client.write(data[start : start + fault.piece])
                        await link.client.drain()
                        await asyncio.sleep(fault.pause)
                    continue
                link.client.write(data)
                await link.client.drain()
        if cut:
            link.abort()
        else:
            link.close()
        self._links.discard(link)
