"""A Redis that answers with an error instead of going away: full (``maxmemory`` with
``noeviction``: ``-OOM``) or demoted to a read-only replica (``-READONLY``).

Readers must get ``error store_unavailable`` (retryable), creates ``StoreUnavailable``, and the
log one line per incident, with no traceback and no "Task exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from surestream.events import Done, Error, Text
from surestream.hub import Hub
from surestream.store import StoreUnavailable
from surestream.store.redis import RedisStore
from tests.support.redis_faults import REFUSALS, accept_writes, refuse_writes
from tests.support.servers import ServerProcess, redis_process

pytestmark = pytest.mark.anyio

HANG_GUARD = 30.0
"""Seconds after which a test that waits for a verdict fails instead of hanging."""


@pytest.fixture
def own_redis() -> Iterator[ServerProcess]:
    """A redis-server of this test's own: the test reconfigures the whole server."""
    with redis_process() as server:
        yield server


async def endless() -> AsyncIterator[str]:
    index = 0
    while True:
        yield f"{index} "
        index += 1
        await asyncio.sleep(0.02)


async def short() -> AsyncIterator[str]:
    yield "a"


class Records(logging.Handler):
    """Collects every record of the ``surestream`` and ``asyncio`` loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("surestream", "asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("how", REFUSALS)
async def test_refused_writes_end_readers_with_store_unavailable_and_log_one_line(
    own_redis: ServerProcess, records: Records, how: str
) -> None:
    store = RedisStore(own_redis.url, prefix=f"t{uuid.uuid4().hex[:8]}:", read_block=0.05)
    hub = Hub(store, lease_ttl=0.6)
    try:
        stream_ids = [await hub.start(endless()) for _ in range(3)]
        subs = [await hub.subscribe(stream_id) for stream_id in stream_ids]
        for sub in subs:
            for _ in range(3):
                await anext(sub)
        await refuse_writes(own_redis.url, how)
        with anyio.fail_after(HANG_GUARD):
            rests = [[item async for item in sub] for sub in subs]
        for rest in rests:
            seq, last = rest[-1]
            assert last == Error("store_unavailable", "the stream store is unavailable", True)
            assert all(isinstance(event, Text) for _, event in rest[:-1])
            assert seq == (rest[-2][0] if len(rest) > 1 else 2), "the last seq delivered"
        with pytest.raises(StoreUnavailable):
            await hub.start(short())
        with pytest.raises(StoreUnavailable):
            await store.ready(fresh=True)
        for stream_id in stream_ids:
            await hub.wait(stream_id)
        await accept_writes(own_redis.url, how)
        await store.ready(fresh=True)
        for stream_id in stream_ids:  # the lease ran out meanwhile: the journal says so
            with anyio.fail_after(HANG_GUARD):
                async with await hub.subscribe(stream_id) as sub:
                    journal = [event async for _, event in sub]
            assert isinstance(journal[-1], Error) and journal[-1].code == "producer_lost"
            assert sum(event.type in ("done", "error") for event in journal) == 1
        again = await hub.start(short())
        async with await hub.subscribe(again) as sub:
            events = [event async for _, event in sub]
        assert events[-1].type == "done"
    finally:
        await hub.aclose()
        await store.aclose()
    gc.collect()
    await asyncio.sleep(0)
    loud = [r.getMessage() for r in records.at_least(logging.WARNING)]
    assert len(loud) == 2, loud
    assert loud[0].startswith("stream store unavailable: redis: "), loud
    assert loud[1].startswith("stream store available again after "), loud
    refusals = ("OutOfMemoryError",) if how == "oom" else ("ReadOnlyError", "UNBLOCKED")
    assert any(refusal in loud[0] for refusal in refusals), loud
    assert not [r for r in records.records if r.exc_info], "no traceback in the log"
    assert not [r for r in records.records if "never retrieved" in r.getMessage()]


async def paced(count: int) -> AsyncIterator[str]:
    for index in range(count):
        await asyncio.sleep(0.01)
        yield f"{index} "


@pytest.mark.parametrize("how", REFUSALS)
async def test_a_short_refusal_within_the_lease_is_ridden_out(
    own_redis: ServerProcess, records: Records, how: str
) -> None:
    store = RedisStore(own_redis.url, prefix=f"t{uuid.uuid4().hex[:8]}:", read_block=0.05)
    async with Hub(store, lease_ttl=10.0, store_retry=0.05) as hub:
        stream_id = await hub.start(paced(100))
        async with await hub.subscribe(stream_id) as sub:
            for _ in range(5):
                await anext(sub)
            await refuse_writes(own_redis.url, how)
            await asyncio.sleep(0.5)  # the outage: the producer's appends fail meanwhile
            await accept_writes(own_redis.url, how)
        with anyio.fail_after(HANG_GUARD):
            await hub.wait(stream_id)
        async with await hub.subscribe(stream_id) as sub:
            whole = [event async for _, event in sub]
    await store.aclose()
    assert whole[1:] == [*(Text(f"{index} ") for index in range(100)), Done()]
    loud = [r.getMessage() for r in records.at_least(logging.WARNING)]
    assert loud[0].startswith("stream store unavailable"), loud
