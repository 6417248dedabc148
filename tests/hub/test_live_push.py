"""A live reader on the MemoryStore gets each event pushed by the task that journals it.

The store's follower hands new events to a sink (``push_to``) while its reader is caught up;
``EventStreamResponse`` over a hub ``Subscription`` uses that to send each token from the
producer's task: one task wakes per token instead of two. The guarantees stay: journal order,
each event once, one terminal, a slow client never holds the producer back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from surestream.events import Done, Event, Start, Text
from surestream.hub import Hub
from surestream.server import EventStreamResponse
from surestream.server import _run as response_run
from surestream.server._handover import start
from surestream.store import MemoryStore
from tests.server._helpers import RawClient, assert_verdict, decode
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio


async def test_a_caught_up_reader_gets_each_append_pushed_in_the_appending_call() -> None:
    store = MemoryStore()
    await store.create("s1")
    await store.append("s1", Start("s1", None))
    reader: Any = await store.read("s1", None)
    pushed: list[tuple[int, Event]] = []
    refuse = {3}

    def sink(seq: int, event: Event) -> bool:
        if seq in refuse:
            refuse.discard(seq)
            return False
        pushed.append((seq, event))
        return True

    assert reader.push_to(sink)
    assert await anext(reader) == (0, Start("s1", None))  # replayed, not pushed
    waiting = asyncio.create_task(anext(reader))
    await asyncio.sleep(0)  # one step: the reader is caught up and follows
    store.append_now("s1", (Text("a"),))
    store.append_now("s1", (Text("b"),))
    assert pushed == [(1, Text("a")), (2, Text("b"))]  # in the append call, no task switch
    assert not waiting.done()
    store.append_now("s1", (Text("c"),))  # refused: the reader's own task returns it
    assert await waiting == (3, Text("c"))
    waiting = asyncio.create_task(anext(reader))
    await asyncio.sleep(0)
    await store.append("s1", Done())
    assert pushed[2:] == [(4, Done())]
    with pytest.raises(StopAsyncIteration):
        await waiting
    assert reader.pushed == 3


async def test_several_live_readers_each_get_every_event_once() -> None:
    store = MemoryStore()
    await store.create("s1")
    await store.append("s1", Start("s1", None))
    got: dict[str, list[int]] = {"a": [], "b": []}

    def sink_of(name: str) -> Any:
        def sink(seq: int, event: Event) -> bool:
            if name == "b" and seq == 2:
                return False
            got[name].append(seq)
            return True

        return sink

    waiting = {}
    for name in got:
        reader: Any = await store.read("s1", 0)
        reader.push_to(sink_of(name))
        waiting[name] = asyncio.create_task(anext(reader))
    await asyncio.sleep(0)
    store.append_now("s1", (Text("x"),))
    assert got == {"a": [1], "b": [1]}
    store.append_now("s1", (Text("y"),))  # b refuses it: b's own task returns it
    assert got == {"a": [1, 2], "b": [1]}
    assert await waiting["b"] == (2, Text("y"))
    await store.append("s1", Done())
    assert got == {"a": [1, 2, 3], "b": [1]}
    with pytest.raises(StopAsyncIteration):
        await waiting["a"]


async def test_a_reader_closed_while_it_follows_is_pushed_nothing_more() -> None:
    store = MemoryStore()
    await store.create("s1")
    await store.append("s1", Start("s1", None))
    reader: Any = await store.read("s1", 0)
    pushed: list[int] = []
    reader.push_to(lambda seq, event: pushed.append(seq) is None)
    waiting = asyncio.create_task(anext(reader))
    await asyncio.sleep(0)
    await reader.aclose()
    with pytest.raises(StopAsyncIteration):
        await waiting
    store.append_now("s1", (Text("a"),))
    assert pushed == []


async def test_a_lost_producer_verdict_is_read_not_pushed() -> None:
    clock = [0.0]
    store = MemoryStore(lease_check=0.01, clock=lambda: clock[0])
    await store.create("s1", lease="token", lease_ttl=1.0)
    await store.append("s1", Start("s1", None))
    reader: Any = await store.read("s1", 0)
    pushed: list[int] = []
    reader.push_to(lambda seq, event: pushed.append(seq) is None)
    clock[0] = 5.0  # the lease ran out: the next lease check ends the journal
    seq, verdict = await anext(reader)
    assert (seq, getattr(verdict, "code", None)) == (1, "producer_lost")
    assert pushed == []


async def test_a_send_that_must_wait_is_finished_by_another_task() -> None:
    async def quick() -> str:
        return "sent"

    assert start(quick()) is None
    gate = asyncio.Event()
    closed = asyncio.Event()

    async def slow() -> str:
        try:
            await gate.wait()
            return "sent"
        finally:
            closed.set()

    rest = start(slow())
    assert rest is not None

    async def finish() -> Any:
        return await rest

    finisher = asyncio.create_task(finish())
    gate.set()
    assert await finisher == "sent"
    rest = start(slow())  # the gate is open, but Event.wait still yields once
    assert rest is None or await asyncio.create_task(finish()) == "sent"
    gate.clear()
    rest = start(slow())
    assert rest is not None
    closed.clear()
    finisher = asyncio.create_task(finish())
    await asyncio.sleep(0)
    finisher.cancel()  # a cancellation goes into the coroutine: its finally runs
    with pytest.raises(asyncio.CancelledError):
        await finisher
    assert closed.is_set()


class Client:
    """The ASGI side of one response: records each body with the task that sent it; a send
    waits while ``gate`` is closed (a client that reads nothing, flow control)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.senders: list[asyncio.Task[Any] | None] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.blocked = asyncio.Event()
        self.arrived = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] != "http.response.body":
            return
        if not self.gate.is_set():
            self.blocked.set()
            await self.gate.wait()
        self.bodies.append(message["body"])
        self.senders.append(asyncio.current_task())
        self.arrived.set()

    async def until(self, bodies: int) -> None:
        """Return once ``bodies`` bodies were sent."""
        while len(self.bodies) < bodies:
            self.arrived.clear()
            await self.arrived.wait()

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def events(self) -> list[Event]:
        return decode(b"".join(self.bodies))[1]


async def paced(tokens: int, pace: asyncio.Queue[None]) -> AsyncIterator[str]:
    for index in range(tokens):
        await pace.get()
        yield f"t{index}"


async def stream_through(
    hub: Hub, client: Client, source: AsyncIterator[str], **limits: Any
) -> tuple[str, asyncio.Task[None]]:
    stream_id = await hub.start(source)
    subscription = await hub.subscribe(stream_id)
    response = EventStreamResponse(subscription, journal=True, **limits)
    scope = {"type": "http", "method": "GET"}
    task = asyncio.create_task(response(scope, client.receive, client.send))
    return stream_id, task


async def test_a_live_reader_is_sent_each_token_from_the_producers_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(response_run, "BATCH_GAP", 0.0)  # no batching: each token sent alone
    store = MemoryStore()
    hub = Hub(store)
    client = Client()
    pace: asyncio.Queue[None] = asyncio.Queue()
    stream_id, response = await stream_through(hub, client, paced(20, pace))
    producer = hub._producers[stream_id].task
    for _ in range(20):
        sent = len(client.bodies)
        pace.put_nowait(None)
        await client.until(sent + 1)
    await hub.wait(stream_id)
    await response
    events = client.events()
    assert events[1:-1] == [Text(f"t{index}") for index in range(20)]
    assert assert_verdict(events) == Done()
    # From the second token on (the first may come before the reader has caught up), each
    # token is sent alone by the producer's task; the verdict goes out with the writer.
    later_tokens = client.senders[-20:-1]
    assert all(sender is producer for sender in later_tokens), later_tokens
    assert all(b"t" in body and b"done" not in body for body in client.bodies[-20:-1])
    await hub.aclose()


async def test_a_client_that_reads_nothing_holds_back_neither_the_producer_nor_the_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(response_run, "BATCH_GAP", 0.0)
    store = MemoryStore()
    hub = Hub(store)
    client = Client()
    pace: asyncio.Queue[None] = asyncio.Queue()
    stream_id, response = await stream_through(hub, client, paced(200, pace), max_buffer=256)
    pace.put_nowait(None)
    while b"t0" not in b"".join(client.bodies):
        await client.until(len(client.bodies) + 1)
    client.gate.clear()  # the client stops reading: sends wait from now on
    for _ in range(199):
        pace.put_nowait(None)
    await hub.wait(stream_id)  # the producer finished while the client read nothing
    assert client.blocked.is_set()
    info = await hub.info(stream_id)
    assert info.length == 202 and info.terminal
    client.gate.set()
    await response
    events = client.events()
    assert events[1:-1] == [Text(f"t{index}") for index in range(200)]
    assert assert_verdict(events) == Done()
    await hub.aclose()


async def test_a_reader_that_goes_away_leaves_the_producer_running() -> None:
    store = MemoryStore()
    hub = Hub(store, orphan_grace=60)
    client = Client()
    pace: asyncio.Queue[None] = asyncio.Queue()
    stream_id, response = await stream_through(hub, client, paced(5, pace))
    pace.put_nowait(None)
    while b"t0" not in b"".join(client.bodies):
        await client.until(len(client.bodies) + 1)
    response.cancel()  # the connection's task ends
    with pytest.raises(asyncio.CancelledError):
        await response
    assert hub.subscribers(stream_id) == 0
    for _ in range(4):
        pace.put_nowait(None)
    await hub.wait(stream_id)
    info = await hub.info(stream_id)
    assert info.length == 7 and info.terminal  # Start, 5 tokens, done: all journaled
    await hub.aclose()


def test_a_slow_client_under_uvicorn_gets_every_event_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real flow control: the client reads nothing until the producer is done, so the sends
    the producer's task begins must wait (the writer finishes them) and the reader falls
    back to the journal once ``max_buffer`` bytes wait; then it reads everything."""
    monkeypatch.setattr(response_run, "BATCH_GAP", 0.0)
    tokens, size = 2000, 2048
    produced = threading.Event()
    hubs: list[Hub] = []

    async def source() -> AsyncIterator[str]:
        try:
            for index in range(tokens):
                yield f"{index:06d}" + "x" * size
                await asyncio.sleep(0)
        finally:
            produced.set()

    async def endpoint(request: Request) -> Response:
        hub = Hub(MemoryStore(max_bytes=64 * 1024 * 1024))
        hubs.append(hub)
        stream_id = await hub.start(source())
        subscription = await hub.subscribe(stream_id)
        return EventStreamResponse(subscription, journal=True, max_buffer=16 * 1024)

    app = Starlette(routes=[Route("/s", endpoint)])
    with serve_in_thread(app) as server:
        client = RawClient(server.port, rcvbuf=4096)
        assert produced.wait(30)  # the producer finished while the client read nothing
        raw = bytearray()
        while not raw.endswith(b"\r\n0\r\n\r\n"):  # the chunked body's end
            chunk = client.sock.recv(1 << 20)
            assert chunk, "the server closed the connection before the body's end"
            raw += chunk
        client.hang_up()
    body = bytes(raw).split(b"\r\n\r\n", 1)[1]
    events = decode(dechunked(body))[1]
    assert [e.text[:6] for e in events[1:-1] if isinstance(e, Text)] == [
        f"{index:06d}" for index in range(tokens)
    ]
    assert len(events) == tokens + 2
    assert assert_verdict(events) == Done()


def dechunked(body: bytes) -> bytes:
    """An HTTP/1.1 chunked body's content."""
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)
