"""Shared by the server tests: observable sources, real clients, raw bytes through our decoder."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from surestream.dialects import get_dialect
from surestream.events import Done, Error, Event, is_terminal
from surestream.sse import Decoder, ServerSentEvent
from tests.support.servers import ServerThread, serve_in_thread


class Gate:
    """Opened from the test thread, awaited by a source on the server's event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._opened = threading.Event()
        self.waiting = threading.Event()

    async def wait(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self._opened.is_set():
            return
        self.waiting.set()
        await self._event.wait()

    def open(self) -> None:
        self._opened.set()
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)


@dataclass
class Probe:
    """What a source did: started, how many items it yielded, whether its ``finally`` ran."""

    started: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    closed_at: float = 0.0
    yielded: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    outcomes: list[Done | Error | None] = field(default_factory=list)
    closed_outcome: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started.set()

    def close(self) -> None:
        self.closed_at = time.monotonic()
        self.closed.set()

    def on_close(self, terminal: Done | Error | None) -> None:
        self.outcomes.append(terminal)
        self.closed_outcome.set()


async def scripted(
    probe: Probe, items: list[Any], *, then: Gate | None = None
) -> AsyncIterator[Any]:
    """Yield ``items``; then wait on ``then`` (forever if it never opens); record the finally."""
    probe.start()
    try:
        for item in items:
            probe.yielded += 1
            yield item
        if then is not None:
            await then.wait()
    finally:
        probe.close()


def app_with(factory: Callable[[Request], Response]) -> Starlette:
    """A Starlette app answering ``GET /s`` (and HEAD) with ``factory(request)``."""

    async def endpoint(request: Request) -> Response:
        return factory(request)

    return Starlette(routes=[Route("/s", endpoint)])


@contextlib.contextmanager
def serving(factory: Callable[[Request], Response]) -> Iterator[ServerThread]:
    """A real uvicorn on loopback serving ``app_with(factory)``."""
    with serve_in_thread(app_with(factory)) as server:
        yield server


@dataclass
class Received:
    """One whole response: status, headers, the raw body and what our decoders made of it."""

    status: int
    headers: httpx.Headers
    raw: bytes
    sse: list[ServerSentEvent]
    events: list[Event]


def decode(raw: bytes, dialect: str = "native") -> tuple[list[ServerSentEvent], list[Event]]:
    """The raw body through ``surestream.sse.Decoder``, then the dialect's typed decoder."""
    decoder = Decoder()
    sse = decoder.feed(raw) + decoder.close()
    typed = get_dialect(dialect).decoder()
    events = [event for item in sse for event in typed.decode(item)]
    return sse, events


def fetch(url: str, *, dialect: str = "native", **headers: str) -> Received:
    """GET ``url`` with a real HTTP client, reading the body to its end as raw bytes."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        raw = b"".join(response.iter_raw())
    sse, events = decode(raw, dialect)
    return Received(response.status_code, response.headers, raw, sse, events)


def assert_verdict(events: list[Event]) -> Done | Error:
    """Exactly one terminal event, and it is the last one; returns it."""
    terminals = [e for e in events if is_terminal(e)]
    assert len(terminals) == 1, events
    assert events[-1] is terminals[0], events
    last = events[-1]
    assert isinstance(last, Done | Error)
    return last


def verdict_code(events: list[Event]) -> str:
    """The code of the ``error`` event that must end ``events``."""
    verdict = assert_verdict(events)
    assert isinstance(verdict, Error), verdict
    return verdict.code


class RawClient:
    """A bare TCP client: GET over a socket, read raw bytes, hang up whenever the test says."""

    def __init__(self, port: int, path: str = "/s", *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        self.sock.sendall(request.encode())
        self.data = b""

    def read_until(self, marker: bytes) -> bytes:
        """Read until ``marker`` has arrived (or the server closed); everything read so far."""
        while marker not in self.data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.data += chunk
        return self.data

    def hang_up(self) -> float:
        """Close the connection; the monotonic time just before."""
        at = time.monotonic()
        self.sock.close()
        return at
