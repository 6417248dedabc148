"""RedisStore when things break: a producer process killed, Redis stopped and restarted."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from surestream.events import Done, Error, Event, Start, Text
from surestream.hub import Hub
from surestream.store import StoreUnavailable
from surestream.store.redis import RedisStore
from tests.support.servers import ServerProcess, free_port, redis_process

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).with_name("producer_child.py")


def spawn_producer(url: str, prefix: str) -> subprocess.Popen[str]:
    """Run ``producer_child.py``; it prints the id of the stream it produces."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, prefix], stdout=subprocess.PIPE, text=True
    )


async def test_killed_producer_process_gives_producer_lost_everywhere(
    redis_server: ServerProcess,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    child = spawn_producer(redis_server.url, prefix)
    try:
        assert child.stdout is not None
        stream_id = (await anyio.to_thread.run_sync(child.stdout.readline)).strip()
        assert stream_id.startswith("st_"), stream_id
        store = RedisStore(redis_server.url, prefix=prefix, read_block=0.1)
        async with Hub(store) as hub:
            sub = await hub.subscribe(stream_id)
            got: list[tuple[int, Event]] = [await anext(sub) for _ in range(4)]
            assert got[0] == (0, Start(stream=stream_id, model="child"))
            child.send_signal(signal.SIGKILL)
            got += [item async for item in sub]
            seqs = [seq for seq, _ in got]
            assert seqs == list(range(len(got)))
            assert all(isinstance(event, Text) for _, event in got[1:-1])
            last = got[-1][1]
            assert isinstance(last, Error)
            assert (last.code, last.retryable) == ("producer_lost", True)
            later = [item async for item in await hub.subscribe(stream_id)]
            assert later == got
            assert (await hub.info(stream_id)).terminal
        await store.aclose()
    finally:
        child.kill()
        child.wait()


async def slow(finished: asyncio.Event | None = None) -> AsyncIterator[str]:
    try:
        for index in range(10_000):
            yield f"{index} "
            await asyncio.sleep(0.02)
    finally:
        if finished is not None:
            finished.set()


async def test_redis_restart_gives_store_unavailable_then_recovers() -> None:
    port = free_port()
    with redis_process(port) as first:
        store = RedisStore(first.url, read_block=0.1, timeout=1.0, connect_timeout=0.5)
        hub = Hub(store, lease_ttl=1.0)
        finished = asyncio.Event()
        stream_id = await hub.start(slow(finished))
        sub = await hub.subscribe(stream_id)
        got = [await anext(sub) for _ in range(3)]
        await anyio.to_thread.run_sync(first.stop)
        rest = [item async for item in sub]
        assert rest, "the subscriber must get a verdict"
        seq, last = rest[-1]
        assert last == Error("store_unavailable", "the stream store is unavailable", True)
        assert seq == (rest[-2][0] if len(rest) > 1 else got[-1][0])
        assert all(isinstance(event, Text) for _, event in rest[:-1])
        await hub.wait(stream_id)
        assert finished.is_set()
        with pytest.raises(StoreUnavailable):
            await hub.start(slow())
        with pytest.raises(StoreUnavailable):
            await hub.subscribe(stream_id)
    with redis_process(port):
        new_id = await hub.start(slow_short())
        async with await hub.subscribe(new_id) as again:
            events = [event async for _, event in again]
        assert events == [Start(stream=new_id), Text("a"), Text("b"), Done()]
        await hub.aclose()
        await store.aclose()


async def slow_short() -> AsyncIterator[str]:
    for piece in ("a", "b"):
        await asyncio.sleep(0.01)
        yield piece


async def paced(count: int) -> AsyncIterator[str]:
    for index in range(count):
        await asyncio.sleep(0.02)
        yield f"{index} "


async def test_producer_rides_out_a_short_redis_restart(tmp_path: Path) -> None:
    """Redis stops (writing its append-only file) and is back within the producer's lease:
    the stream goes on where it was and ends with ``done``, every event once, in order."""
    port = free_port()
    with redis_process(port, append_only_dir=str(tmp_path)) as first:
        store = RedisStore(first.url, read_block=0.1, timeout=1.0, connect_timeout=0.5)
        hub = Hub(store, lease_ttl=10.0, store_retry=0.05)
        stream_id = await hub.start(paced(60))
        sub = await hub.subscribe(stream_id)
        got = [await anext(sub) for _ in range(5)]
        await anyio.to_thread.run_sync(first.stop)
        got += [item async for item in sub]
    assert got[-1][1] == Error("store_unavailable", "the stream store is unavailable", True)
    with redis_process(port, append_only_dir=str(tmp_path)):
        with anyio.fail_after(30):
            await hub.wait(stream_id)
            async with await hub.subscribe(stream_id, got[-1][0]) as again:
                resumed = [item async for item in again]
            async with await hub.subscribe(stream_id) as whole_sub:
                whole = [item async for item in whole_sub]
        await hub.aclose()
        await store.aclose()
    assert [seq for seq, _ in whole] == list(range(62))
    assert [event for _, event in whole] == [
        Start(stream=stream_id),
        *(Text(f"{index} ") for index in range(60)),
        Done(),
    ]
    assert got[:-1] + resumed == whole
