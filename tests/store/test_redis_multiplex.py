"""RedisStore's shared round trips: appends of all streams in one pipeline, every tail read
by one multiplexed ``XREAD``, and what readers see when Redis goes away under them."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis

from surestream.events import Done, Error, Event, Text
from surestream.store import StoreUnavailable, _redis_tails
from surestream.store._redis_tails import DIRECT_TAILS
from surestream.store.redis import RedisStore
from tests.support.servers import ServerProcess, free_port, redis_process

pytestmark = pytest.mark.anyio

BOUND = 1.0
"""Seconds within which events must arrive: far below the stores' 4 s ``read_block``."""


@pytest.fixture(scope="module")
def own_redis() -> Iterator[ServerProcess]:
    """A redis-server of this module's own, so server-wide counters are ours alone."""
    with redis_process() as server:
        yield server


@pytest.fixture
async def admin(own_redis: ServerProcess) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(own_redis.url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(own_redis: ServerProcess) -> AsyncIterator[RedisStore]:
    made = RedisStore(own_redis.url, prefix=f"t{uuid.uuid4().hex[:12]}:", read_block=4.0)
    yield made
    await made.aclose()


async def raw(client: aioredis.Redis, *command: Any) -> Any:
    """A command's reply as Redis sent it (no redis-py reply callback: an entry's fields stay
    a flat list, repeated names included)."""
    conn = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await conn.send_command(*command)
        return await conn.read_response()
    finally:
        await client.connection_pool.release(conn)


async def blocked_clients(admin: aioredis.Redis) -> int:
    info: dict[str, Any] = await admin.info("clients")
    return int(info["blocked_clients"])


async def until_blocked(admin: aioredis.Redis, count: int = 1) -> None:
    """Return once ``count`` clients are blocked (the reader is parked in its XREAD)."""
    with anyio.fail_after(BOUND):
        while await blocked_clients(admin) != count:
            pass  # each check is a round trip to Redis


async def take(reader: AsyncIterator[tuple[int, Event]], count: int) -> list[tuple[int, Event]]:
    return [await anext(reader) for _ in range(count)]


async def test_appends_of_many_streams_in_one_loop_iteration_share_one_pipeline(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    ids = [f"s{i}" for i in range(40)]
    for stream_id in ids:
        await store.create(stream_id)
    await store.create("warm")
    await store.append("warm", Text("loads the script"))
    doorbell = store.prefix + "doorbell"
    await admin.delete(doorbell)
    await admin.config_resetstat()
    rounds = 5
    for seq in range(rounds):
        seqs = await asyncio.gather(
            *(store.append(sid, Text(f"{sid}-{seq}"), expect=seq) for sid in ids)
        )
        assert seqs == [seq] * len(ids)
    # Each pipeline ends with one ring of the doorbell naming the journals it appended to,
    # after the mark of the process that rang.
    rings = await raw(admin, "XRANGE", doorbell, "-", "+")
    keys = sorted(f"{store.prefix}{{{sid}}}:events".encode() for sid in ids)
    assert [sorted(fields[3::2]) for _, fields in rings] == [keys] * rounds
    assert len({(fields[0], fields[1]) for _, fields in rings}) == 1 and rings[0][1][0] == b"p"
    stats: dict[str, Any] = await admin.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == rounds * len(ids)
    assert stats["cmdstat_xadd"]["calls"] == rounds * len(ids) + rounds
    await asyncio.gather(*(store.finish(sid, Done()) for sid in ids))
    for sid in ids:
        got = [item async for item in await store.read(sid)]
        assert got == [(seq, Text(f"{sid}-{seq}")) for seq in range(rounds)] + [(rounds, Done())]


async def test_appends_survive_a_script_flush(store: RedisStore, admin: aioredis.Redis) -> None:
    await store.create("s")
    assert await store.append("s", Text("a"), expect=0) == 0
    await admin.script_flush()
    results = await asyncio.gather(
        store.append("s", Text("b"), expect=1), store.create("t"), return_exceptions=True
    )
    assert results == [1, None]
    assert await store.append_many("t", [Text("x"), Done()]) == 1
    assert await store.finish("s", Done())
    got = [item async for item in await store.read("s")]
    assert got == [(0, Text("a")), (1, Text("b")), (2, Done())]
    got = [item async for item in await store.read("t")]
    assert got == [(0, Text("x")), (1, Done())]


async def test_all_tails_share_one_blocked_read(store: RedisStore, admin: aioredis.Redis) -> None:
    ids = [f"s{i}" for i in range(30)]
    readers = []
    for stream_id in ids:
        await store.create(stream_id)
        readers.append(await store.read(stream_id))
    for reader in readers:
        assert isinstance(reader, AsyncIterator)
    pending = [asyncio.ensure_future(anext(reader)) for reader in readers]
    await until_blocked(admin, 1)
    await asyncio.gather(*(store.append(sid, Text(sid)) for sid in ids))
    with anyio.fail_after(BOUND):
        got = await asyncio.gather(*pending)
    assert got == [(0, Text(sid)) for sid in ids]
    assert await blocked_clients(admin) <= 1
    for reader in readers:
        await reader.aclose()  # type: ignore[attr-defined]


async def test_stream_tailed_while_the_reader_blocks_is_read_at_once(
    store: RedisStore, admin: aioredis.Redis
) -> None:
    await store.create("first")
    first = await store.read("first")
    waiting = asyncio.ensure_future(anext(first))
    await until_blocked(admin, 1)
    await store.create("second")
    await store.append("second", Text("before"))
    second = await store.read("second")
    with anyio.fail_after(BOUND):
        assert await anext(second) == (0, Text("before"))
    await until_blocked(admin, 1)
    await store.append("second", Text("after"))
    await store.append("first", Text("one"))
    with anyio.fail_after(BOUND):
        assert await anext(second) == (1, Text("after"))
        assert await waiting == (0, Text("one"))
    await first.aclose()  # type: ignore[attr-defined]
    await second.aclose()  # type: ignore[attr-defined]


async def test_redis_stopping_ends_every_reader_with_store_unavailable_then_recovers() -> None:
    port = free_port()
    unavailable = Error("store_unavailable", "the stream store is unavailable", True)
    with redis_process(port) as server:
        store = RedisStore(server.url, read_block=0.1, timeout=1.0, connect_timeout=0.5)
        ids = [f"s{i}" for i in range(5)]
        readers = []
        for index, stream_id in enumerate(ids):
            await store.create(stream_id)
            await store.append_many(stream_id, [Text(str(n)) for n in range(index + 1)])
            readers.append(await store.read(stream_id))
        for index, reader in enumerate(readers):
            assert await take(reader, index + 1) == [(n, Text(str(n))) for n in range(index + 1)]
        await anyio.to_thread.run_sync(server.stop)
        with anyio.fail_after(10):
            for index, reader in enumerate(readers):
                assert [item async for item in reader] == [(index, unavailable)]
    with redis_process(port):
        await store.create("again", lease="token")
        again = await store.read("again")
        await store.append_many("again", [Text("a"), Done()], expect=0)
        with anyio.fail_after(10):
            assert [item async for item in again] == [(0, Text("a")), (1, Done())]
    await store.aclose()


async def test_calls_start_no_task_of_their_own(store: RedisStore) -> None:
    """One watchdog bounds every call: no ``wait_for`` task per command (as redis-py makes
    when a socket timeout is set)."""
    await store.create("quiet", lease="token")
    await store.append("quiet", Text("a"), expect=0)
    loop = asyncio.get_running_loop()
    made: list[Any] = []
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        made.append(coro)
        if factory is not None:
            return factory(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        for _ in range(50):
            await store.info("quiet")
        await store.join("quiet", "member", 10.0)
        await store.leave("quiet", "member")
    finally:
        loop.set_task_factory(factory)
    assert made == []


async def test_redis_that_hangs_fails_every_call_in_bounded_time_then_recovers() -> None:
    """A redis-server that stops answering (SIGSTOP) without closing its sockets: readers
    get ``store_unavailable``, calls raise ``StoreUnavailable``, each within the store's
    ``timeout``; once it answers again (SIGCONT), so does the store."""
    unavailable = Error("store_unavailable", "the stream store is unavailable", True)
    with redis_process() as server:
        store = RedisStore(server.url, read_block=0.1, timeout=0.5, connect_timeout=0.5)
        try:
            await store.create("held", lease="token")
            await store.append_many("held", [Text("a")], expect=0)
            reader = await store.read("held")
            assert await take(reader, 1) == [(0, Text("a"))]
            server.proc.send_signal(signal.SIGSTOP)
            try:
                with anyio.fail_after(10):
                    assert [item async for item in reader] == [(0, unavailable)]
                    with pytest.raises(StoreUnavailable):
                        await store.append_many("held", [Text("b")], expect=1)
                    with pytest.raises(StoreUnavailable):
                        await store.info("held")
                    with pytest.raises(StoreUnavailable):
                        await store.heartbeat({"held": "token"}, 10.0)
            finally:
                server.proc.send_signal(signal.SIGCONT)
            with anyio.fail_after(10):
                # The append that failed may have gone in once Redis ran again (it was sent
                # before the deadline): the same append again, naming its seq, is one append.
                assert await store.append_many("held", [Text("b")], expect=1) == 1
                await store.append_many("held", [Done()], expect=2)
                again = await store.read("held", 0)
                assert [item async for item in again] == [(1, Text("b")), (2, Done())]
        finally:
            await store.aclose()


async def xreads_of_one_append(
    store: RedisStore,
    admin: aioredis.Redis,
    live: int,
    *,
    appender: RedisStore | None = None,
    fed: bool = False,
) -> tuple[str, list[list[str]]]:
    """The keys named by each ``XREAD`` Redis ran from an append (by ``appender``, another
    process's store, or ``store`` itself) to one of ``live`` streams, each followed by a
    reader, until the reader is parked again; and that stream's key. ``fed``: ``store``
    appended to that stream once before, so its tail has its appends handed over."""
    ids = [f"s{i}" for i in range(live)]
    readers = []
    waiting: list[asyncio.Future[tuple[int, Event]]] = []
    try:
        for stream_id in ids:
            await store.create(stream_id)
            readers.append(await store.read(stream_id))
            await store.append(stream_id, Text("warm"))
        with anyio.fail_after(BOUND):  # every tail read once: none is new any more
            warm = await asyncio.gather(*(anext(reader) for reader in readers))
        assert warm == [(0, Text("warm"))] * live
        chosen, seq = ids[live // 2], 1
        if fed:
            await store.append(chosen, Text("fed"))
            with anyio.fail_after(BOUND):
                assert await anext(readers[live // 2]) == (1, Text("fed"))
            seq = 2
        waiting = [asyncio.ensure_future(anext(reader)) for reader in readers]
        await until_blocked(admin, 1)
        async with admin.monitor() as monitor:
            await (appender or store).append(chosen, Text("rung"))
            with anyio.fail_after(BOUND):
                assert await waiting[live // 2] == (seq, Text("rung"))
            await until_blocked(admin, 1)
            await admin.ping()
            named: list[list[str]] = []
            with anyio.fail_after(BOUND):
                while True:
                    command = (await monitor.next_command())["command"]
                    if command.startswith("PING"):
                        break
                    if command.startswith("XREAD "):
                        words = command.split()
                        keys = words[words.index("STREAMS") + 1 :]
                        named.append(keys[: len(keys) // 2])
        return f"{store.prefix}{{{chosen}}}:events", named
    finally:
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        for reader in readers:
            await reader.aclose()  # type: ignore[attr-defined]
        await store.aclose()


async def test_a_round_names_the_doorbell_and_only_the_streams_it_rang(
    own_redis: ServerProcess, admin: aioredis.Redis
) -> None:
    """With many live tails (more than DIRECT_TAILS), another process's append to one
    stream is read by an ``XREAD`` that names the doorbell and that stream, not every live
    journal (the full sweep is ``read_block`` away here), also when this process's own
    appends to it are handed to its tail."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    store = RedisStore(own_redis.url, prefix=prefix, read_block=30.0, timeout=60.0)
    other = RedisStore(own_redis.url, prefix=prefix, read_block=30.0, timeout=60.0)
    try:
        key, named = await xreads_of_one_append(
            store, admin, DIRECT_TAILS + 12, appender=other, fed=True
        )
    finally:
        await other.aclose()
    assert named, "the append was read by some XREAD"
    assert all(len(keys) <= 2 for keys in named), named
    assert any(key in keys for keys in named), named
    assert all(keys[0] == f"{prefix}doorbell" for keys in named), named


async def test_a_ring_of_this_process_s_own_append_names_no_journal_it_hands_over(
    own_redis: ServerProcess, admin: aioredis.Redis
) -> None:
    """This process's append to a journal whose tail it feeds reaches the reader from the
    append's reply: the ``XREAD`` its ring wakes names only the doorbell."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    store = RedisStore(own_redis.url, prefix=prefix, read_block=30.0, timeout=60.0)
    _, named = await xreads_of_one_append(store, admin, DIRECT_TAILS + 12, fed=True)
    assert named and all(keys == [f"{prefix}doorbell"] for keys in named), named


async def test_a_lone_append_to_one_of_a_few_tails_wakes_the_reader_once(
    own_redis: ServerProcess, admin: aioredis.Redis
) -> None:
    """Up to DIRECT_TAILS live tails, the reader's ``XREAD`` names them and not the
    doorbell: the append's entry wakes it (through the doorbell it would be woken by the
    ring, then run a second ``XREAD`` to read the entry the ring named)."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    store = RedisStore(own_redis.url, prefix=prefix, read_block=30.0, timeout=60.0)
    key, named = await xreads_of_one_append(store, admin, DIRECT_TAILS)
    assert named, "the reader read again"
    assert all(f"{prefix}doorbell" not in keys for keys in named), named
    assert all(key in keys and len(keys) == DIRECT_TAILS for keys in named), named


async def test_readers_joining_one_after_another_each_get_their_entry_at_once(
    own_redis: ServerProcess,
) -> None:
    """Each of 20 readers that join one after another while the reader's ``XREAD`` blocks
    gets its journal's entry without waiting for ``read_block`` (30 s here): the wake-up
    (``CLIENT UNBLOCK``) restarts its attempts for every new tail instead of running out
    after eight."""
    store = RedisStore(own_redis.url, read_block=30.0, timeout=60.0)
    readers = []
    try:
        for i in range(20):
            await store.create(f"j{i}")
            await store.append(f"j{i}", Text("first"))
            readers.append(await store.read(f"j{i}"))
        for reader in readers:
            with anyio.fail_after(BOUND * 5):
                assert await anext(reader) == (0, Text("first"))
    finally:
        for reader in readers:
            await reader.aclose()  # type: ignore[attr-defined]
        await store.aclose()


class Sink:
    """A reader's sink that takes every event but the seqs in ``refuse`` (once each), noting
    the task that handed each over; ``wait(n)`` returns once ``n`` were taken."""

    def __init__(self, refuse: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.refuse = set(refuse)
        self.taken: list[tuple[int, Event]] = []
        self.tasks: set[asyncio.Task[Any] | None] = set()
        self.changed = asyncio.Event()

    def __call__(self, seq: int, event: Event) -> bool:
        self.tasks.add(asyncio.current_task())
        if seq in self.refuse:
            self.refuse.discard(seq)
            return False
        self.taken.append((seq, event))
        self.changed.set()
        return True

    async def wait(self, count: int) -> None:
        with anyio.fail_after(BOUND):
            while len(self.taken) < count:
                self.changed.clear()
                await self.changed.wait()


async def pushed_reader(
    store: RedisStore, stream_id: str, sink: Sink
) -> tuple[Any, asyncio.Future[tuple[int, Event]]]:
    """A reader of a new stream that has read its first event, ``a``, then pushes to
    ``sink``; and its ``anext`` waiting meanwhile."""
    await store.create(stream_id)
    await store.append(stream_id, Text("a"))
    reader: Any = await store.read(stream_id)
    with anyio.fail_after(BOUND):
        assert await anext(reader) == (0, Text("a"))
    assert reader.push_to(sink)
    return reader, asyncio.ensure_future(anext(reader))


async def test_a_caught_up_reader_is_pushed_each_entry_by_a_task_of_the_store(
    store: RedisStore,
) -> None:
    sink = Sink(refuse={3})
    reader, waiting = await pushed_reader(store, "s1", sink)
    await store.append("s1", Text("b"))
    await store.append("s1", Text("c"))
    await sink.wait(2)
    assert sink.taken == [(1, Text("b")), (2, Text("c"))]
    assert not waiting.done() and waiting not in sink.tasks and None not in sink.tasks
    await store.append("s1", Text("d"))  # refused: the reader's own task returns it
    with anyio.fail_after(BOUND):
        assert await waiting == (3, Text("d"))
    waiting = asyncio.ensure_future(anext(reader))
    await store.append("s1", Done())
    with anyio.fail_after(BOUND), pytest.raises(StopAsyncIteration):
        await waiting  # the terminal event was pushed; the reader ends
    assert sink.taken[-1] == (4, Done()) and reader.pushed == 3
    await reader.aclose()


async def test_a_pushed_reader_of_a_store_that_hangs_gets_store_unavailable() -> None:
    unavailable = Error("store_unavailable", "the stream store is unavailable", True)
    with redis_process() as server:
        store = RedisStore(server.url, read_block=0.1, timeout=0.5, connect_timeout=0.5)
        try:
            await store.create("held", lease="token")
            await store.append_many("held", [Text("a")], expect=0)
            reader: Any = await store.read("held")
            assert await anext(reader) == (0, Text("a"))
            assert reader.push_to(Sink())
            waiting = asyncio.ensure_future(anext(reader))
            server.proc.send_signal(signal.SIGSTOP)
            try:
                with anyio.fail_after(10):
                    assert await waiting == (0, unavailable)
                    assert [item async for item in reader] == []
            finally:
                server.proc.send_signal(signal.SIGCONT)
        finally:
            await store.aclose()


def followed(store: RedisStore) -> set[str]:
    """The streams whose tails this process reads."""
    return set(store._tail_reader._tails)


async def test_reads_that_bring_only_this_process_s_own_rings_pause_the_reader(
    own_redis: ServerProcess, admin: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy process does not read once per append pipeline: after a read that brought
    only its own rings (the events came with the replies), it waits ``RING_PAUSE`` (made
    long here) before the next read, while its readers get every event."""
    monkeypatch.setattr(_redis_tails, "RING_PAUSE", 30.0)
    store = RedisStore(
        own_redis.url, prefix=f"t{uuid.uuid4().hex[:12]}:", read_block=30.0, timeout=60.0
    )
    ids = [f"s{i}" for i in range(DIRECT_TAILS + 4)]
    readers: list[Any] = []
    try:
        for stream_id in ids:
            await store.create(stream_id)
            readers.append(await store.read(stream_id))
            await store.append(stream_id, Text("warm"))
        with anyio.fail_after(BOUND):
            assert await asyncio.gather(*(anext(r) for r in readers)) == [(0, Text("warm"))] * len(
                ids
            )
        await store.append(ids[0], Text("fed"))  # once read back or handed over, each tail is fed
        with anyio.fail_after(BOUND):
            assert await anext(readers[0]) == (1, Text("fed"))
        before = (await admin.info("commandstats"))["cmdstat_xread"]["calls"]
        for seq in range(2, 8):
            await store.append(ids[0], Text(f"t{seq}"))
            with anyio.fail_after(BOUND):
                assert await anext(readers[0]) == (seq, Text(f"t{seq}"))
        after = (await admin.info("commandstats"))["cmdstat_xread"]["calls"]
        assert after - before <= 2, (before, after)  # one per append without the pause
    finally:
        for reader in readers:
            await reader.aclose()
        await store.aclose()


async def test_this_process_s_appends_reach_its_reader_before_their_reply_is_handed_on(
    store: RedisStore,
) -> None:
    sink = Sink()
    reader, waiting = await pushed_reader(store, "s", sink)
    replied: asyncio.Future[list[tuple[int, Event]]] = asyncio.get_running_loop().create_future()
    store.submit_append(
        "s", [Text("b"), Text("c")], expect=1, replied=lambda _: replied.set_result(sink.taken[:])
    )
    with anyio.fail_after(BOUND):
        assert await replied == [(1, Text("b")), (2, Text("c"))]  # not read back: handed over
    store.submit_append("s", [Done()], expect=3, replied=lambda _: None)
    with anyio.fail_after(BOUND), pytest.raises(StopAsyncIteration):
        await waiting
    assert sink.taken[-1] == (3, Done())
    await reader.aclose()


async def test_a_reader_follows_from_its_first_read_until_closed_or_dropped(
    store: RedisStore,
) -> None:
    await store.create("s")
    await store.append("s", Text("a"))
    unread = await store.read("s")
    assert followed(store) == set()  # a response that never started costs no reading
    del unread
    dropped = await store.read("s")
    with anyio.fail_after(BOUND):
        assert await anext(dropped) == (0, Text("a"))
    closed = await store.read("s")
    with anyio.fail_after(BOUND):
        assert await anext(closed) == (0, Text("a"))
    assert followed(store) == {"s"}
    await closed.aclose()  # type: ignore[attr-defined]
    assert followed(store) == {"s"}
    del dropped  # dropped unclosed, as an abandoned async generator: it leaves the tail
    assert followed(store) == set()
