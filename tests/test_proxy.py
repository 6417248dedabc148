"""The test proxy breaks connections at the byte it is told to, globally or per stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.support.proxy import HEAD_END, Fault, Proxy

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
BODY = b"".join(b"data: %d\n\n" % i for i in range(100))


@pytest.fixture
async def server() -> AsyncIterator[int]:
    """A server that answers any request with HEAD (in two writes, split inside its end) and
    BODY in small writes, then closes."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = (HEAD[:-3], HEAD[-3:], *(BODY[i : i + 50] for i in range(0, len(BODY), 50)))
        with contextlib.suppress(ConnectionError):  # a cut resets this side too
            await reader.read(65536)
            for part in parts:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.001)
        writer.close()

    listening = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()


async def fetch(proxy: Proxy, path: str) -> tuple[bytes, bool]:
    """What a client reading ``path`` through ``proxy`` receives; True if it was reset."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = b""
    try:
        while data := await asyncio.wait_for(reader.read(65536), 5):
            received += data
    except ConnectionResetError:
        return received, True
    finally:
        writer.close()
    return received, False


async def test_cut_after_counts_from_the_head_end_split_over_two_reads(server: int) -> None:
    async with Proxy(server) as proxy:
        proxy.cut_after(123, after=HEAD_END)
        received, reset = await fetch(proxy, "/anything")
        assert received == HEAD + BODY[:123] and reset and proxy.broken.is_set()
        assert await fetch(proxy, "/again") == (HEAD + BODY, False)
        assert proxy.connections == 2


async def test_planned_faults_hit_their_stream_one_connection_each(server: int) -> None:
    async with Proxy(server) as proxy:
        proxy.plan("st_a", [Fault("cut", 40), Fault("slow", 0, piece=64, pause=0)])
        received, reset = await fetch(proxy, "/v1/streams/st_b/events")
        assert (received, reset) == (HEAD + BODY, False)
        received, reset = await fetch(proxy, "/v1/streams/st_a/events")
        assert received == HEAD + BODY[:40] and reset
        assert await fetch(proxy, "/v1/streams/st_a/events?token=t") == (HEAD + BODY, False)
        assert await fetch(proxy, "/v1/streams/st_a/events") == (HEAD + BODY, False)
        assert proxy.fired == {"st_a": ["cut", "slow"]}


async def test_a_stall_keeps_the_connection_open_and_sends_nothing_more(server: int) -> None:
    async with Proxy(server) as proxy:
        proxy.plan("st_s", [Fault("stall", 10)])
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET /v1/streams/st_s/events HTTP/1.1\r\n\r\n")
        received = b""
        with pytest.raises(TimeoutError):
            while data := await asyncio.wait_for(reader.read(65536), 0.5):
                received += data
        assert received == HEAD + BODY[:10] and proxy.fired == {"st_s": ["stall"]}
        writer.close()


def test_only_the_head_end_can_start_the_count() -> None:
    with pytest.raises(ValueError, match="HEAD_END"):
        Proxy(1).cut_after(1, after=b"\n\n")
