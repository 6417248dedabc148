"""The ``Store`` contract, run against MemoryStore and RedisStore alike."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from surestream.events import Data, Done, Error, Event, Start, Status, Text, Unknown
from surestream.store import (
    InvalidResumePoint,
    JournalClosed,
    JournalFull,
    MemoryStore,
    Store,
    StreamExists,
    StreamExpired,
    StreamNotFound,
    TooManySubscribers,
)
from surestream.store.redis import RedisStore
from tests.support.servers import ServerProcess
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.anyio

BODY: list[Event] = [
    Start(stream="s", model="demo"),
    Text("Hello"),
    Status("searching"),
    Text(" wörld\n"),
    Data({"cites": [1, 2]}, name="refs"),
    Unknown("future", {"type": "future", "x": 1}),
]
ENDING = Done(usage={"prompt_tokens": 3, "completion_tokens": 2})


async def collect(
    store: Store, stream_id: str, after: int | None = None
) -> list[tuple[int, Event]]:
    return [item async for item in await store.read(stream_id, after)]


async def full_journal(store: Store, stream_id: str = "s1") -> list[Event]:
    await store.create(stream_id, owner="owner-hash", model="demo")
    for event in BODY:
        await store.append(stream_id, event)
    await store.append(stream_id, ENDING)
    return [*BODY, ENDING]


async def test_append_returns_seq_and_read_gives_every_event_then_stops(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.create("s1", owner="owner-hash", model="demo")
    seqs = [await store.append("s1", event) for event in BODY]
    assert seqs == list(range(len(BODY)))
    assert await store.append_many("s1", [Text("a"), Text("b"), ENDING]) == len(BODY) + 2
    got = await collect(store, "s1")
    assert got == list(enumerate([*BODY, Text("a"), Text("b"), ENDING]))
    info = await store.info("s1")
    assert (info.owner, info.model, info.length, info.terminal) == (
        "owner-hash",
        "demo",
        len(BODY) + 3,
        True,
    )
    assert abs(info.created_at - time.time()) < 600


async def test_metadata_may_be_absent(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("anon")
    info = await store.info("anon")
    assert (info.owner, info.model, info.length, info.terminal) == (None, None, 0, False)
    with pytest.raises(StreamExists):
        await store.create("anon")


async def test_replay_then_follow_live(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1")
    await store.append_many("s1", BODY[:2])
    reader = await store.read("s1")
    assert [await anext(reader), await anext(reader)] == list(enumerate(BODY[:2]))
    pending = asyncio.ensure_future(anext(reader))
    await store.append("s1", BODY[2])
    assert await pending == (2, BODY[2])
    await store.append_many("s1", [*BODY[3:], ENDING])
    rest = [item async for item in reader]
    assert rest == list(enumerate([*BODY, ENDING]))[3:]


async def test_late_subscriber_gets_whole_stream(make_store: StoreFactory) -> None:
    store = make_store()
    events = await full_journal(store)
    assert await collect(store, "s1") == list(enumerate(events))
    assert await collect(store, "s1") == list(enumerate(events))


async def test_several_subscribers_each_get_everything_live(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1")
    await store.append("s1", BODY[0])
    readers = [await store.read("s1") for _ in range(5)]
    tasks = [asyncio.ensure_future(_drain(reader)) for reader in readers]
    texts = [Text(f"t{i}") for i in range(50)]
    for i in range(0, 50, 7):
        await store.append_many("s1", texts[i : i + 7])
        await asyncio.sleep(0)
    await store.append("s1", ENDING)
    expected = list(enumerate([BODY[0], *texts, ENDING]))
    for task in tasks:
        assert await task == expected


async def _drain(reader: object) -> list[tuple[int, Event]]:
    return [item async for item in reader]  # type: ignore[attr-defined]


async def test_resume_at_every_point_exactly_once_in_order(make_store: StoreFactory) -> None:
    store = make_store()
    events = await full_journal(store)
    for after in range(-1, len(events)):
        got = await collect(store, "s1", None if after == -1 else after)
        assert got == list(enumerate(events))[after + 1 :]


async def test_resume_point_in_the_future_or_negative_is_invalid(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.create("s1")
    with pytest.raises(InvalidResumePoint):
        await store.read("s1", 0)
    await store.append("s1", BODY[0])
    with pytest.raises(InvalidResumePoint):
        await store.read("s1", 1)
    with pytest.raises(InvalidResumePoint):
        await store.read("s1", -2)
    reader = await store.read("s1", 0)
    pending = asyncio.ensure_future(anext(reader))
    await store.append("s1", ENDING)
    assert await pending == (1, ENDING)


async def test_unknown_stream_is_not_found(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(StreamNotFound):
        await store.info("nope")
    with pytest.raises(StreamNotFound):
        await store.read("nope")
    with pytest.raises(StreamNotFound):
        await store.append("nope", Text("x"))


async def test_expired_journal_is_told_from_unknown(make_store: StoreFactory) -> None:
    store = make_store(retention=0.2)
    await full_journal(store)
    assert (await store.info("s1")).terminal
    deadline = time.monotonic() + 10
    while True:
        try:
            await store.info("s1")
        except StreamExpired:
            break
        assert time.monotonic() < deadline, "journal did not expire"
        await asyncio.sleep(0.05)
    with pytest.raises(StreamExpired):
        await store.read("s1")
    with pytest.raises(StreamNotFound):
        await store.info("s2")


async def test_cap_keeps_room_for_the_terminal_event(make_store: StoreFactory) -> None:
    store = make_store(max_events=5)
    await store.create("s1")
    with pytest.raises(JournalFull):
        await store.append_many("s1", [Text(str(i)) for i in range(6)])
    assert (await store.info("s1")).length == 4
    with pytest.raises(JournalFull):
        await store.append("s1", Text("more"))
    assert await store.finish("s1", Done("length"))
    got = await collect(store, "s1")
    assert got == list(enumerate([Text("0"), Text("1"), Text("2"), Text("3"), Done("length")]))


async def test_byte_cap_keeps_room_for_the_terminal_event(make_store: StoreFactory) -> None:
    store = make_store(max_bytes=1000)
    await store.create("s1")
    await store.append("s1", Text("x" * 400))
    with pytest.raises(JournalFull):
        await store.append_many("s1", [Text("y" * 400), Text("z" * 400)])
    with pytest.raises(JournalFull):
        await store.append("s1", Text("w" * 5000))
    assert (await store.info("s1")).length == 2
    assert await store.finish("s1", Done("length"))
    got = await collect(store, "s1")
    assert got == list(enumerate([Text("x" * 400), Text("y" * 400), Done("length")]))


async def test_an_append_retried_after_it_went_in_returns_its_seq_again(
    make_store: StoreFactory,
) -> None:
    """A caller that lost the reply (the store failed) retries with the same ``expect``."""
    store = make_store()
    await store.create("s1")
    assert await store.append_many("s1", [Text("a"), Text("b")], expect=0) == 1
    assert await store.append_many("s1", [Text("a"), Text("b")], expect=0) == 1
    with pytest.raises(ValueError):
        await store.append_many("s1", [Text("z")], expect=1)  # another producer's
    assert await store.append_many("s1", [Text("c"), ENDING], expect=2) == 3
    assert await store.append_many("s1", [Text("c"), ENDING], expect=2) == 3
    with pytest.raises(JournalClosed):
        await store.append_many("s1", [Text("x")], expect=3)  # not ours: someone ended it
    got = await collect(store, "s1")
    assert got == list(enumerate([Text("a"), Text("b"), Text("c"), ENDING]))


async def test_first_terminal_wins(make_store: StoreFactory) -> None:
    store = make_store()
    await full_journal(store)
    with pytest.raises(JournalClosed):
        await store.append("s1", Text("late"))
    assert not await store.finish("s1", Done("cancelled"))
    got = await collect(store, "s1")
    assert got[-1] == (len(BODY), ENDING)
    with pytest.raises(ValueError):
        await store.append_many("s1", [ENDING, Text("after")])


async def test_reader_ends_journal_whose_lease_ran_out(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1", lease="token", lease_ttl=0.2)
    await store.append("s1", BODY[0])
    got = await collect(store, "s1")
    assert got[0] == (0, BODY[0])
    assert got[1][0] == 1
    lost = got[1][1]
    assert isinstance(lost, Error)
    assert (lost.code, lost.retryable) == ("producer_lost", True)
    assert await collect(store, "s1") == got
    assert (await store.info("s1")).terminal


async def test_heartbeat_renews_lease_and_counts_watchers(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1", lease="token", lease_ttl=10)
    await store.watch({"s1": 1, "missing": 1}, "proc-a", 10)
    await store.watch({"s1": 2}, "proc-b", 10)
    states = await store.heartbeat({"s1": "token", "missing": "token"}, 10)
    assert states["s1"].exists and not states["s1"].terminal
    assert states["s1"].watchers == 2
    assert not states["missing"].exists
    await store.leave("s1", "proc-a")
    await store.watch({"s1": 2}, "proc-b", 0.001)
    await asyncio.sleep(0.01)
    assert (await store.heartbeat({"s1": "token"}, 10))["s1"].watchers == 0
    await store.finish("s1", Done("cancelled"))
    assert (await store.heartbeat({"s1": "token"}, 10))["s1"].terminal


async def test_join_holds_the_reader_cap_across_processes(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1")
    for member in ("proc-a", "proc-b", "proc-a"):
        await store.join("s1", member, 10, limit=3)
    with pytest.raises(TooManySubscribers):
        await store.join("s1", "proc-b", 10, limit=3)
    await store.leave("s1", "proc-a")
    await store.join("s1", "proc-c", 10, limit=3)
    with pytest.raises(TooManySubscribers):
        await store.join("s1", "proc-a", 10, limit=3)
    await store.watch({"s1": 1}, "proc-b", 0.001)  # proc-b dies: its watch runs out
    await asyncio.sleep(0.01)
    await store.join("s1", "proc-c", 10, limit=3)
    with pytest.raises(TooManySubscribers):
        await store.join("s1", "proc-a", 10, limit=3)
    await store.join("s1", "proc-a", 10)  # no limit
    for member in ("proc-a", "proc-a", "proc-c", "proc-c", "proc-c"):
        await store.leave("s1", member)
    await store.join("s1", "proc-d", 10, limit=1)
    await store.join("missing", "proc-a", 10, limit=0)  # nothing to count
    await store.leave("missing", "proc-a")


async def test_released_lease_lets_readers_report_producer_lost(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1", lease="token", lease_ttl=30)
    await store.append("s1", BODY[0])
    reader = await store.read("s1")
    assert await anext(reader) == (0, BODY[0])
    pending = asyncio.ensure_future(anext(reader))
    await store.release("s1", "token")
    seq, event = await pending
    assert seq == 1
    assert isinstance(event, Error) and event.code == "producer_lost"


async def test_expected_seq_guards_against_a_second_producer(make_store: StoreFactory) -> None:
    store = make_store()
    await store.create("s1")
    assert await store.append("s1", BODY[0], expect=0) == 0
    assert await store.append_many("s1", BODY[1:3], expect=1) == 2
    with pytest.raises(ValueError):
        await store.append("s1", Text("stale"), expect=1)
    assert await store.finish("s1", Done("cancelled"))
    with pytest.raises(JournalClosed):
        await store.append("s1", Text("late"), expect=3)
    assert [event for _, event in await collect(store, "s1")] == [*BODY[:3], Done("cancelled")]


async def test_live_readers_from_different_points_each_get_their_suffix(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.create("s1")
    await store.append_many("s1", BODY)
    late = await store.read("s1", 3)
    first = asyncio.ensure_future(anext(late))
    assert await first == (4, BODY[4])
    early = await store.read("s1")
    middle = await store.read("s1", 1)
    tasks = [asyncio.ensure_future(_drain(reader)) for reader in (late, early, middle)]
    await store.append_many("s1", [Text("more"), ENDING])
    whole = list(enumerate([*BODY, Text("more"), ENDING]))
    assert [await task for task in tasks] == [whole[5:], whole, whole[2:]]


async def test_memory_store_retention_and_tombstones_run_on_its_clock() -> None:
    now = [1000.0]
    store = MemoryStore(retention=600.0, tombstone_ttl=3600.0, clock=lambda: now[0])
    await full_journal(store)
    now[0] += 599.0
    assert (await store.info("s1")).terminal, "within retention"
    now[0] += 1.0
    with pytest.raises(StreamExpired):
        await store.info("s1")
    now[0] += 3600.0
    with pytest.raises(StreamNotFound):
        await store.info("s1")
    await store.aclose()


async def test_memory_store_keeps_at_most_max_tombstones_the_newest() -> None:
    now = [0.0]
    store = MemoryStore(retention=1.0, max_tombstones=100, clock=lambda: now[0])
    for index in range(300):
        await store.create(f"s{index}")
        await store.finish(f"s{index}", ENDING)
        now[0] += 0.001
    now[0] += 2.0
    assert store.tombstones == 100
    with pytest.raises(StreamExpired):
        await store.info("s299")
    with pytest.raises(StreamNotFound):
        await store.info("s0")
    await store.aclose()


async def test_redis_tombstones_live_tombstone_ttl_and_are_small(
    redis_server: ServerProcess,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    store = RedisStore(redis_server.url, prefix=prefix, retention=1.0, tombstone_ttl=60.0)
    stream_id = "st_" + "x" * 30
    await store.create(stream_id)
    await store.finish(stream_id, ENDING)
    gone = f"{prefix}{{{stream_id}}}:gone"
    ttl = await store.client.pttl(gone)
    size = await store.client.memory_usage(gone)
    await store.aclose()
    assert 0 < ttl <= 61_000, "the tombstone expires with retention + tombstone_ttl"
    assert size is not None and size <= 256, f"{size} bytes per tombstone"
