"""``Hub``: producers end every journal with one verdict; subscribers replay and follow.

Each test runs on MemoryStore and on RedisStore (the real redis-server).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from surestream.errors import SourceFailed
from surestream.events import Data, Done, Error, Event, Start, Status, Text
from surestream.hub import Hub, HubClosed, new_stream_id
from surestream.store import InvalidResumePoint, StreamNotFound, TooManySubscribers
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.anyio


async def words(
    items: Sequence[Event | str], finished: asyncio.Event | None = None
) -> AsyncIterator[Event | str]:
    try:
        for item in items:
            yield item
            await asyncio.sleep(0)
    finally:
        if finished is not None:
            finished.set()


async def endless(finished: asyncio.Event) -> AsyncIterator[str]:
    """Yields one text, then waits forever; records that its ``finally`` ran."""
    try:
        yield "first"
        await asyncio.Event().wait()
    finally:
        finished.set()


async def failing(exc: BaseException) -> AsyncIterator[str]:
    yield "partial"
    raise exc


async def read_all(hub: Hub, stream_id: str, after: int | None = None) -> list[tuple[int, Event]]:
    async with await hub.subscribe(stream_id, after) as sub:
        return [item async for item in sub]


def events(items: list[tuple[int, Event]]) -> list[Event]:
    assert [seq for seq, _ in items] == list(range(items[0][0], items[0][0] + len(items)))
    return [event for _, event in items]


async def test_start_journals_start_then_source_then_done(make_store: StoreFactory) -> None:
    async with Hub(make_store()) as hub:
        finished = asyncio.Event()
        body = ["Hel", Text("lo"), Status("thinking"), Data([1], name="n")]
        stream_id = await hub.start(words(body, finished), owner="k1", model="demo")
        assert stream_id.startswith("st_") and len(stream_id) == 33
        got = await read_all(hub, stream_id)
        assert events(got) == [
            Start(stream=stream_id, model="demo"),
            Text("Hel"),
            Text("lo"),
            Status("thinking"),
            Data([1], name="n"),
            Done("stop"),
        ]
        assert finished.is_set()
        info = await hub.info(stream_id)
        assert (info.owner, info.model, info.terminal) == ("k1", "demo", True)
        assert hub.subscribers(stream_id) == 0


async def test_max_subscribers_holds_across_hubs_sharing_the_store(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    async with Hub(store, max_subscribers=3) as one, Hub(store, max_subscribers=3) as two:
        stream_id = await one.start(endless(asyncio.Event()))
        subs = [await hub.subscribe(stream_id) for hub in (one, two, two)]
        for hub in (one, two):
            with pytest.raises(TooManySubscribers):
                await hub.subscribe(stream_id)
        assert (one.subscribers(stream_id), two.subscribers(stream_id)) == (1, 2)
        await subs.pop().aclose()
        subs.append(await one.subscribe(stream_id))
        with pytest.raises(TooManySubscribers):
            await two.subscribe(stream_id)
        for sub in subs:
            await sub.aclose()
        await one.cancel(stream_id)


async def test_stream_ids_are_unique_and_unguessable() -> None:
    ids = {new_stream_id() for _ in range(1000)}
    assert len(ids) == 1000


async def test_source_terminal_event_is_kept_and_ends_the_source(
    make_store: StoreFactory,
) -> None:
    async with Hub(make_store()) as hub:
        finished = asyncio.Event()
        ending = Done("length", usage={"completion_tokens": 2})
        stream_id = await hub.start(words(["a", ending, "never"], finished))
        assert events(await read_all(hub, stream_id))[1:] == [Text("a"), ending]
        assert finished.is_set()


async def test_source_failed_becomes_its_error(make_store: StoreFactory) -> None:
    async with Hub(make_store()) as hub:
        one = await hub.start(failing(SourceFailed("upstream_error", "provider said 500")))
        two = await hub.start(failing(SourceFailed("upstream_timeout")))
        three = await hub.start(failing(SourceFailed("upstream_error", "x", retryable=True)))
        assert events(await read_all(hub, one))[1:] == [
            Text("partial"),
            Error("upstream_error", "provider said 500", False),
        ]
        assert events(await read_all(hub, two))[-1] == Error(
            "upstream_timeout", "upstream timeout", True
        )
        assert events(await read_all(hub, three))[-1] == Error("upstream_error", "x", True)


async def test_unexpected_exception_is_internal_error_with_safe_message(
    make_store: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with Hub(make_store()) as hub:
        with caplog.at_level(logging.ERROR, logger="surestream.hub"):
            stream_id = await hub.start(failing(RuntimeError("secret detail")))
            last = events(await read_all(hub, stream_id))[-1]
        assert isinstance(last, Error)
        assert (last.code, last.retryable) == ("internal_error", False)
        assert "secret" not in last.message
        assert any(record.exc_info for record in caplog.records)


async def test_cancel_ends_with_done_cancelled_and_closes_source(
    make_store: StoreFactory,
) -> None:
    async with Hub(make_store()) as hub:
        finished = asyncio.Event()
        stream_id = await hub.start(endless(finished))
        async with await hub.subscribe(stream_id) as sub:
            assert [await anext(sub), await anext(sub)] == [
                (0, Start(stream=stream_id)),
                (1, Text("first")),
            ]
            assert await hub.cancel(stream_id)
            assert [item async for item in sub] == [(2, Done("cancelled"))]
        assert finished.is_set()
        assert hub.producing == 0
        assert not await hub.cancel(stream_id)
        with pytest.raises(StreamNotFound):
            await hub.cancel("st_unknown")


async def test_cancel_from_another_instance_stops_the_producer(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    async with Hub(store, lease_ttl=0.3) as producer_hub, Hub(store) as other_hub:
        finished = asyncio.Event()
        stream_id = await producer_hub.start(endless(finished))
        sub = await other_hub.subscribe(stream_id)
        assert await other_hub.cancel(stream_id)
        assert events([item async for item in sub])[-1] == Done("cancelled")
        await producer_hub.wait(stream_id)
        assert finished.is_set()


async def test_orphan_without_subscriber_is_cancelled(make_store: StoreFactory) -> None:
    async with Hub(make_store(), orphan_grace=0.15) as hub:
        finished = asyncio.Event()
        stream_id = await hub.start(endless(finished))
        await hub.wait(stream_id)
        assert finished.is_set()
        assert events(await read_all(hub, stream_id)) == [
            Start(stream=stream_id),
            Text("first"),
            Done("cancelled"),
        ]


async def test_orphan_after_last_subscriber_left_is_cancelled(make_store: StoreFactory) -> None:
    async with Hub(make_store(), orphan_grace=0.15) as hub:
        finished = asyncio.Event()
        stream_id = await hub.start(endless(finished))
        async with await hub.subscribe(stream_id) as sub:
            assert (await anext(sub))[0] == 0
        await hub.wait(stream_id)
        assert finished.is_set()
        assert events(await read_all(hub, stream_id))[-1] == Done("cancelled")


async def test_watched_stream_outlives_orphan_grace(make_store: StoreFactory) -> None:
    async def slow() -> AsyncIterator[str]:
        for i in range(16):
            await asyncio.sleep(0.02)
            yield f"{i} "

    async with Hub(make_store(), orphan_grace=0.15) as hub:
        stream_id = await hub.start(slow())
        got = events(await read_all(hub, stream_id))
        assert got[-1] == Done("stop")
        assert "".join(e.text for e in got if isinstance(e, Text)).split() == [
            str(i) for i in range(16)
        ]


async def test_shutdown_ends_streams_with_retryable_server_shutdown(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    hub = Hub(store)
    finished = asyncio.Event()
    stream_id = await hub.start(endless(finished))
    sub = await hub.subscribe(stream_id)
    await hub.aclose()
    last = events([item async for item in sub])[-1]
    assert last == Error("server_shutdown", "the server is shutting down", True)
    assert finished.is_set()
    refused = words(["x"])
    with pytest.raises(HubClosed):
        await hub.start(refused)
    with pytest.raises(StopAsyncIteration):
        await anext(refused)


async def test_cap_ends_with_done_length(make_store: StoreFactory) -> None:
    async with Hub(make_store(max_events=10)) as hub:
        finished = asyncio.Event()
        stream_id = await hub.start(words([f"{i}" for i in range(100)], finished))
        got = events(await read_all(hub, stream_id))
        assert len(got) == 10
        assert got[1:9] == [Text(str(i)) for i in range(8)]
        assert got[-1] == Done("length")
        await hub.wait(stream_id)
        assert finished.is_set()


async def test_byte_cap_ends_a_flood_with_done_length(make_store: StoreFactory) -> None:
    finished = asyncio.Event()

    async def flood() -> AsyncIterator[str]:
        try:
            while True:
                yield "x" * 300
                await asyncio.sleep(0)
        finally:
            finished.set()

    async with Hub(make_store(max_bytes=3000)) as hub:
        stream_id = await hub.start(flood())
        got = events(await read_all(hub, stream_id))
        await hub.wait(stream_id)
    assert got[-1] == Done("length")
    assert 2 < len(got) < 12
    assert all(event == Text("x" * 300) for event in got[1:-1])
    assert finished.is_set()


async def test_history_is_what_a_client_resuming_there_has(make_store: StoreFactory) -> None:
    gate = asyncio.Event()

    async def two_then_wait() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        await gate.wait()

    async with Hub(make_store()) as hub:
        stream_id = await hub.start(two_then_wait())
        async with await hub.subscribe(stream_id) as sub:
            live = [await anext(sub) for _ in range(3)]
            assert await hub.history(stream_id, 2) == events(live), "a live stream: no wait"
            assert await hub.history(stream_id, 0) == events(live[:1])
            for beyond in (3, -1):
                with pytest.raises(InvalidResumePoint):
                    await hub.history(stream_id, beyond)
            gate.set()
            whole = live + [item async for item in sub]
        assert await hub.history(stream_id, len(whole) - 1) == events(whole)
        with pytest.raises(StreamNotFound):
            await hub.history(new_stream_id(), 0)


async def test_resume_via_hub_exactly_once(make_store: StoreFactory) -> None:
    async with Hub(make_store()) as hub:
        stream_id = await hub.start(words([f"w{i}" for i in range(30)]))
        whole = await read_all(hub, stream_id)
        for after in (0, 5, 30, 31):
            assert await read_all(hub, stream_id, after) == whole[after + 1 :]
        with pytest.raises(InvalidResumePoint):
            await hub.subscribe(stream_id, 32)
        for bad in ("", "../x", "st_" + "a" * 80):
            with pytest.raises(StreamNotFound):
                await hub.subscribe(bad)


async def test_the_orphan_grace_runs_on_the_hubs_clock(make_store: StoreFactory) -> None:
    now = [0.0]
    hub = Hub(make_store(), orphan_grace=600.0, lease_ttl=0.3, watch_ttl=0.3, clock=lambda: now[0])
    async with hub:
        finished = asyncio.Event()
        stream_id = await hub.start(endless(finished))
        now[0] = 600.0
        await asyncio.wait_for(hub.wait(stream_id), 10)
        assert finished.is_set()
        assert events(await read_all(hub, stream_id))[-1] == Done("cancelled")


async def test_a_producer_appends_from_its_own_task(make_store: StoreFactory) -> None:
    """Neither store needs a writer task per stream: the MemoryStore's appends never wait,
    the RedisStore's are pipelined with every stream's; a source paced slower than the
    store and a burst faster than it both end up in the journal, in order, exactly once."""
    async with Hub(make_store()) as hub:
        loop = asyncio.get_running_loop()
        made: list[str] = []
        factory = loop.get_task_factory()

        def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
            made.append(getattr(coro, "__qualname__", ""))
            if factory is not None:
                return factory(loop, coro, **kwargs)
            return asyncio.Task(coro, loop=loop, **kwargs)

        async def paced_then_burst() -> AsyncIterator[str]:
            for n in range(20):
                yield f"p{n}"
                await asyncio.sleep(0.001)
            for n in range(2000):
                yield f"b{n}"

        loop.set_task_factory(counting)
        try:
            stream_id = await hub.start(paced_then_burst())
            await hub.wait(stream_id)
        finally:
            loop.set_task_factory(factory)
        texts = [e.text for e in events(await read_all(hub, stream_id)) if type(e) is Text]
    assert texts == [f"p{n}" for n in range(20)] + [f"b{n}" for n in range(2000)]
    assert [name for name in made if name.startswith("Producer.")] == ["Producer.run"]
