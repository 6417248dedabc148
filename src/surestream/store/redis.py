"""``RedisStore``: journals in Redis Streams, shared by every gateway instance.

Strategy: one Redis stream per journal, entry ``seq`` having the explicit id ``<seq>-1`` and
one field ``e`` holding the event's native JSON (``surestream.events.dumps``), so a reader
resumes after seq ``n`` with ``XREAD ... STREAMS key n-1`` and decodes lazily, entry by
entry. Every write is one Lua script, so the checks and the write are atomic: an append
reads ``next`` and ``terminal`` from the meta hash, refuses after the terminal event or past
``max_events``, ``XADD``s the whole batch, and on the terminal event deletes the lease and
sets the expiry of every key to ``retention`` (and of the tombstone to ``retention +
tombstone_ttl``). The keys of a stream share one hash tag (``{prefix}{<id>}:…``) so the
scripts also run on Redis Cluster::

    {p}{id}:events   stream     the journal
    {p}{id}:meta     hash       owner/model (JSON), created, next, terminal, leased
    {p}{id}:lease    string     the producer's token, PX lease_ttl, renewed by heartbeat
    {p}{id}:watch    zset       member (one process with subscribers) -> expiry (ms, Redis TIME)
    {p}{id}:gone     string     the tombstone; outlives the rest by tombstone_ttl

A live journal expires ``lease_ttl + retention`` after its producer's last heartbeat, so a
journal nobody ended (producer dead, nobody watching) does not stay forever.

Readers of one stream in one process share a *tail*: one task that blocks in ``XREAD COUNT
read_batch BLOCK read_block`` (one connection per stream, not per subscriber), decodes each
entry once and appends it to an in-process list that its readers follow as in
``MemoryStore``; a reader resuming before the tail's first seq reads that gap with
``XRANGE`` first. Each time a block ends empty the tail runs the append script in "lost"
mode, which appends ``producer_lost`` only if the journal is leased, not ended, and its lease
key is gone. Every Redis call is bounded: socket timeouts, connect timeout, ``read_block``
below ``timeout``; redis-py's own retries are off, and a call that failed on a connection
gone stale (Redis restarted) is repeated once if it is idempotent: reads, heartbeats, a
``create`` with a lease token, and appends that name the seq their first event must get
(``expect``, which the hub's producer always does). A failure becomes
``StoreUnavailable`` (or, for a reader already streaming, a synthesized
``store_unavailable`` error event); redis-py reconnects by itself once Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from surestream.events import Error, ErrorCode, Event, dumps, is_terminal, loads
from surestream.store.base import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_RETENTION,
    DEFAULT_TOMBSTONE_TTL,
    JournalClosed,
    JournalFull,
    LeaseState,
    Store,
    StoreUnavailable,
    StreamExists,
    StreamExpired,
    StreamInfo,
    StreamNotFound,
    check_batch,
    check_resume_point,
    producer_lost,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_PREFIX",
    "DEFAULT_READ_BATCH",
    "DEFAULT_READ_BLOCK",
    "DEFAULT_TIMEOUT",
    "RedisStore",
]

log = logging.getLogger("surestream.store")

DEFAULT_PREFIX = "surestream:"
"""Prefix of every key; give each application (or test) its own."""

DEFAULT_TIMEOUT = 5.0
"""Seconds any one Redis command may take (socket timeout) before ``StoreUnavailable``."""

DEFAULT_CONNECT_TIMEOUT = 2.0
"""Seconds to open a connection to Redis."""

DEFAULT_READ_BLOCK = 1.0
"""Seconds one ``XREAD BLOCK`` waits; also how often a waiting reader checks the lease."""

DEFAULT_MAX_CONNECTIONS = 1000
"""Connections in the pool. Each stream with subscribers in this process holds one while it
waits for new events (its subscribers share it), plus a few for writes."""

DEFAULT_READ_BATCH = 1000
"""Entries one ``XREAD`` returns at most (``COUNT``)."""

_T = TypeVar("_T")

_APPEND = """
local meta = redis.call('HMGET', KEYS[2], 'next', 'terminal', 'leased')
if not meta[1] then return {-3, -1} end
local seq = tonumber(meta[1])
if ARGV[6] ~= '' and tonumber(ARGV[6]) ~= seq then return {-5, seq - 1, meta[2]} end
if meta[2] == '1' then return {-1, seq - 1} end
if ARGV[5] == 'l' and (meta[3] ~= '1' or redis.call('EXISTS', KEYS[3]) == 1) then
  return {-4, seq - 1}
end
local first = seq
local cap = tonumber(ARGV[1]) - 1
local n = #ARGV - 6
local term = ARGV[4] == '1'
local body = n
if term then body = n - 1 end
local status = 0
for i = 1, body do
  if seq >= cap then
    status = -2
    break
  end
  redis.call('XADD', KEYS[1], seq .. '-1', 'e', ARGV[6 + i])
  seq = seq + 1
end
if status == 0 and term then
  redis.call('XADD', KEYS[1], seq .. '-1', 'e', ARGV[6 + n])
  seq = seq + 1
  redis.call('HSET', KEYS[2], 'next', seq, 'terminal', 1)
  redis.call('DEL', KEYS[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
  redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[2]) + tonumber(ARGV[3]))
else
  redis.call('HSET', KEYS[2], 'next', seq)
  if first == 0 and seq > 0 then
    local ttl = redis.call('PTTL', KEYS[2])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  end
end
return {status, seq - 1}
"""

_CREATE = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then
  if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[3] then return 1 end
  return 0
end
local leased = 0
if ARGV[3] ~= '' then leased = 1 end
redis.call('HSET', KEYS[2], 'who', ARGV[1], 'created', ARGV[2], 'next', 0, 'terminal', 0,
           'leased', leased)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[5]) + tonumber(ARGV[6]))
if leased == 1 then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
return 1
"""

_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local term = redis.call('HGET', KEYS[2], 'terminal')
if not term then return {0, 0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local watchers = redis.call('ZCARD', KEYS[4])
if term == '1' then return {1, 1, watchers} end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[3]) + tonumber(ARGV[4]))
return {1, 0, watchers}
"""

_WATCH = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[4], ttl) end
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[3]) == ARGV[1] then return redis.call('DEL', KEYS[3]) end
return 0
"""

_FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_STALE: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
_UNSURE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class _Tail:
    """This process's live copy of one journal from seq ``base`` on, shared by its readers.

    One task per tail blocks in ``XREAD`` and decodes each entry once; readers follow the
    list as they do in ``MemoryStore``. It ends at the terminal event or on a store failure.
    """

    __slots__ = ("base", "changed", "events", "failed", "readers", "task")

    def __init__(self, base: int) -> None:
        self.base = base
        self.events: list[Event] = []
        self.failed = False
        self.readers = 0
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


def _unavailable() -> Error:
    return Error.of(ErrorCode.STORE_UNAVAILABLE, "the stream store is unavailable")


async def _nothing() -> AsyncIterator[tuple[int, Event]]:
    return
    yield


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore(Store):
    """Journals in Redis Streams, readable from every instance that shares the Redis.

    ``url``: a ``redis://`` URL, or pass a ready ``client`` (then its own timeouts apply and
    ``aclose`` leaves it open). ``prefix``: the key prefix. ``retention``, ``max_events``,
    ``tombstone_ttl``: as in ``Store``. ``timeout``: seconds one command may take;
    ``connect_timeout``: seconds to connect; ``read_block``: seconds one ``XREAD BLOCK``
    waits (must be below ``timeout``); ``read_batch``: entries per ``XREAD``;
    ``max_connections``: the pool size.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        retention: float = DEFAULT_RETENTION,
        max_events: int = DEFAULT_MAX_EVENTS,
        tombstone_ttl: float = DEFAULT_TOMBSTONE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_block: float = DEFAULT_READ_BLOCK,
        read_batch: int = DEFAULT_READ_BATCH,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if max_events < 2:
            raise ValueError("max_events must leave room for one event and the terminal one")
        if read_block >= timeout:
            raise ValueError("read_block must be shorter than timeout")
        self.prefix = prefix
        self.retention = retention
        self.max_events = max_events
        self.tombstone_ttl = tombstone_ttl
        self.timeout = timeout
        self.read_block = read_block
        self.read_batch = read_batch
        self._owns_client = client is None
        self._redis: aioredis.Redis = client or aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
            max_connections=max_connections,
        )
        self._tails: dict[str, _Tail] = {}
        self._append_script = self._redis.register_script(_APPEND)
        self._create_script = self._redis.register_script(_CREATE)
        self._heartbeat_script = self._redis.register_script(_HEARTBEAT)
        self._watch_script = self._redis.register_script(_WATCH)
        self._release_script = self._redis.register_script(_RELEASE)

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client (for metrics or health checks)."""
        return self._redis

    def _keys(self, stream_id: str) -> list[str]:
        base = f"{self.prefix}{{{stream_id}}}:"
        return [base + "events", base + "meta", base + "lease", base + "watch", base + "gone"]

    async def _call(
        self, command: Callable[[], Awaitable[_T]], *, retry: tuple[type[Exception], ...] = _STALE
    ) -> _T:
        """Run ``command``; once more on ``retry`` errors (a connection gone stale while Redis
        restarted); any failure becomes ``StoreUnavailable``."""
        try:
            try:
                return await command()
            except retry:
                return await command()
        except _FAILURES as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc

    async def _batch(
        self, script: AsyncScript, calls: Sequence[tuple[list[str], list[str | int]]]
    ) -> list[Any]:
        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    await script(keys, args, client=pipe)
                return await pipe.execute()

        return await self._call(run)

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless Redis answers (for health checks)."""
        await self._call(self._redis.ping)

    async def create(
        self,
        stream_id: str,
        *,
        owner: str | None = None,
        model: str | None = None,
        lease: str | None = None,
        lease_ttl: float = 10.0,
    ) -> None:
        """Create an empty journal (see ``Store.create``)."""
        args: list[bytes | str | int] = [
            orjson.dumps([owner, model]),
            repr(time.time()),
            lease or "",
            _ms(lease_ttl),
            _ms(lease_ttl + self.retention),
            _ms(self.tombstone_ttl),
        ]
        keys = self._keys(stream_id)
        created = await self._call(
            lambda: self._create_script(keys, args), retry=_STALE if lease else ()
        )
        if not created:
            raise StreamExists(f"stream {stream_id} already exists")

    async def _missing(self, stream_id: str) -> Exception:
        gone = await self._call(lambda: self._redis.exists(self._keys(stream_id)[4]))
        if gone:
            return StreamExpired(f"stream {stream_id} has expired")
        return StreamNotFound(f"no stream {stream_id}")

    async def info(self, stream_id: str) -> StreamInfo:
        """The stream's metadata (see ``Store.info``)."""
        key = self._keys(stream_id)[1]
        raw: dict[bytes, bytes] = await self._call(
            lambda: self._redis.hgetall(key)  # type: ignore[arg-type,return-value]
        )
        if not raw:
            raise await self._missing(stream_id)
        owner, model = orjson.loads(raw[b"who"])
        return StreamInfo(
            stream_id,
            owner,
            model,
            float(raw[b"created"]),
            int(raw[b"next"]),
            raw[b"terminal"] == b"1",
        )

    async def _run_append(
        self, stream_id: str, events: Sequence[Event], mode: str, expect: int | None
    ) -> int:
        terminal = check_batch(events)
        args: list[bytes | str | int] = [
            self.max_events,
            _ms(self.retention),
            _ms(self.tombstone_ttl),
            "1" if terminal else "0",
            mode,
            "" if expect is None else expect,
        ]
        args.extend(dumps(event) for event in events)
        keys = self._keys(stream_id)
        attempts = 0

        async def run() -> Any:
            nonlocal attempts
            attempts += 1
            return await self._append_script(keys, args)

        safe = expect is not None or mode == "l"
        reply = await self._call(run, retry=_UNSURE if safe else ())
        status, last = int(reply[0]), int(reply[1])
        if status == -5:
            assert expect is not None
            if attempts > 1 and last == expect + len(events) - 1:
                return last
            if reply[2] == b"1":
                raise JournalClosed(f"stream {stream_id} has ended")
            if attempts > 1 and last >= expect:
                raise JournalFull(f"stream {stream_id} reached {self.max_events} events")
            raise ValueError(f"append at seq {expect}, but stream {stream_id} is at {last + 1}")
        if status == -3:
            raise await self._missing(stream_id)
        if status == -1:
            raise JournalClosed(f"stream {stream_id} has ended")
        if status == -2:
            raise JournalFull(f"stream {stream_id} reached {self.max_events} events")
        return last

    async def append_many(
        self, stream_id: str, events: Sequence[Event], *, expect: int | None = None
    ) -> int:
        """Append events (see ``Store.append_many``); with ``expect`` a lost reply is retried."""
        return await self._run_append(stream_id, events, "a", expect)

    async def read(
        self, stream_id: str, after: int | None = None
    ) -> AsyncIterator[tuple[int, Event]]:
        """Validate, then replay and follow (see ``Store.read``)."""
        info = await self.info(stream_id)
        start = check_resume_point(after, info.length)
        if info.terminal and start >= info.length:
            return _nothing()
        return self._follow(stream_id, start)

    def _join_tail(self, stream_id: str, start: int) -> _Tail:
        tail = self._tails.get(stream_id)
        if tail is None or tail.failed:
            tail = _Tail(start)
            self._tails[stream_id] = tail
            tail.task = asyncio.create_task(self._run_tail(stream_id, tail))
        tail.readers += 1
        return tail

    def _leave_tail(self, stream_id: str, tail: _Tail) -> None:
        tail.readers -= 1
        if tail.readers == 0:
            if tail.task is not None:
                tail.task.cancel()
            if self._tails.get(stream_id) is tail:
                del self._tails[stream_id]

    async def _run_tail(self, stream_id: str, tail: _Tail) -> None:
        key = self._keys(stream_id)[0]
        cursor: str | bytes = f"{tail.base - 1}-1" if tail.base > 0 else "0-0"
        block = _ms(self.read_block)
        try:
            while True:
                reply: Any = await self._call(
                    functools.partial(
                        self._redis.xread, {key: cursor}, count=self.read_batch, block=block
                    )
                )
                if not reply:
                    await self._check_lease(stream_id)
                    continue
                entries: list[tuple[bytes, dict[bytes, bytes]]] = reply[0][1]
                tail.events.extend(loads(fields[b"e"]) for _, fields in entries)
                cursor = entries[-1][0]
                tail.notify()
                if is_terminal(tail.events[-1]):
                    return
        except (StoreUnavailable, StreamNotFound, StreamExpired) as exc:
            log.warning("journal %s unreadable: %s", stream_id, exc)
            tail.failed = True
            tail.notify()

    async def _range(self, stream_id: str, first: int, last: int) -> AsyncIterator[Event]:
        key = self._keys(stream_id)[0]
        while first <= last:
            entries: Any = await self._call(
                functools.partial(
                    self._redis.xrange, key, f"{first}-1", f"{last}-1", count=self.read_batch
                )
            )
            if not entries:
                raise StoreUnavailable(f"journal {stream_id} lost events {first}..{last}")
            for _, fields in entries:
                yield loads(fields[b"e"])
            first = int(entries[-1][0].split(b"-", 1)[0]) + 1

    async def _follow(self, stream_id: str, pos: int) -> AsyncIterator[tuple[int, Event]]:
        tail = self._join_tail(stream_id, pos)
        try:
            if pos < tail.base:
                try:
                    async for event in self._range(stream_id, pos, tail.base - 1):
                        yield pos, event
                        pos += 1
                except StoreUnavailable as exc:
                    log.warning("journal %s unreadable: %s", stream_id, exc)
                    yield pos - 1, _unavailable()
                    return
            while True:
                changed = tail.changed
                events = tail.events
                while pos - tail.base < len(events):
                    event = events[pos - tail.base]
                    yield pos, event
                    if is_terminal(event):
                        return
                    pos += 1
                if tail.failed:
                    yield pos - 1, _unavailable()
                    return
                await changed.wait()
        finally:
            self._leave_tail(stream_id, tail)

    async def _check_lease(self, stream_id: str) -> None:
        with contextlib.suppress(JournalClosed):
            await self._run_append(stream_id, (producer_lost(),), "l", None)

    async def heartbeat(self, leases: Mapping[str, str], lease_ttl: float) -> dict[str, LeaseState]:
        """Renew leases and report, in one pipeline (see ``Store.heartbeat``)."""
        if not leases:
            return {}
        ids = list(leases)
        keep = _ms(lease_ttl + self.retention)
        replies = await self._batch(
            self._heartbeat_script,
            [
                (self._keys(sid), [leases[sid], _ms(lease_ttl), keep, _ms(self.tombstone_ttl)])
                for sid in ids
            ],
        )
        return {
            stream_id: LeaseState(bool(exists), bool(terminal), int(watchers))
            for stream_id, (exists, terminal, watchers) in zip(ids, replies, strict=True)
        }

    async def release(self, stream_id: str, token: str) -> None:
        """Drop the lease (see ``Store.release``)."""
        keys = self._keys(stream_id)
        await self._call(lambda: self._release_script(keys, [token]))

    async def watch(self, stream_ids: Iterable[str], member: str, ttl: float) -> None:
        """Refresh ``member``'s watch on each stream, in one pipeline (see ``Store.watch``)."""
        ids = list(stream_ids)
        if not ids:
            return
        await self._batch(
            self._watch_script, [(self._keys(sid), [member, _ms(ttl)]) for sid in ids]
        )

    async def unwatch(self, stream_id: str, member: str) -> None:
        """Forget ``member``'s watch (see ``Store.unwatch``)."""
        key = self._keys(stream_id)[3]
        await self._call(lambda: self._redis.zrem(key, member))

    async def aclose(self) -> None:
        """Stop the readers' tails; close the connection pool (unless the client was passed in)."""
        tasks = [tail.task for tail in self._tails.values() if tail.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tails.clear()
        if self._owns_client:
            await self._redis.aclose()
