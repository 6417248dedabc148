"""``RedisStore``: journals in Redis Streams, shared by every gateway instance.

Strategy: one Redis stream per journal, entry ``seq`` having the explicit id ``<seq>-1`` and
one field ``e`` holding the event's native JSON (``surestream.events.dumps``), so a reader
resumes after seq ``n`` with ``XREAD ... STREAMS key n-1`` and decodes lazily, entry by
entry. Every write is one Lua script (``surestream.store._redis_scripts``, which also draws
the keys of a stream), so the checks and the write are atomic: an append reads ``next``,
``terminal`` and ``bytes`` from the meta hash, refuses after the terminal event or past
``max_events`` or ``max_bytes``, ``XADD``s the whole batch, and on the terminal event
deletes the lease and sets the expiry of every key to ``retention`` (and of the tombstone
to ``retention + tombstone_ttl``).
A live journal expires ``lease_ttl + retention`` after its producer's last heartbeat, so a
journal nobody ended (producer dead, nobody watching) does not stay forever.

Appends of all streams are coalesced into one pipeline at a time, which rings the doorbell
(``surestream.store._redis_appends``); the events of each append that went in go straight
from its reply to this process's tail of the journal, if it has one; the tails of all
streams are read by one ``XREAD`` loop that names the doorbell and the journals other
processes' rings named, and also checks the leases of the journals nobody appends to
(``surestream.store._redis_tails``, which explains its hand-overs). Every Redis call is
bounded (``surestream.store._redis_call``): one watchdog holds every call in flight to
``timeout`` (an ``XREAD`` to its ``BLOCK`` plus ``timeout``), without redis-py's socket
timeouts (a task per command), and connects to ``connect_timeout``; redis-py's own
retries are off, and a call that failed on a connection gone stale (Redis restarted) is
repeated once if it is idempotent: reads, heartbeats, a ``create`` with a lease token, and
appends that name the seq their first event must get (``expect``, which the hub's producer
always does). A failure becomes ``StoreUnavailable`` (or, for a reader already streaming,
a synthesized ``store_unavailable`` error event); redis-py reconnects by itself once Redis
is back.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import orjson

from surestream._extras import needs

with needs("redis", __name__):
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.commands.core import AsyncScript

from surestream.events import Event
from surestream.store import _redis_scripts as scripts
from surestream.store._redis_appends import (
    APPEND_MODE,
    LOST_MODE,
    AppendPipeline,
    last_appended,
    pack_append,
)
from surestream.store._redis_call import (
    FAILURES,
    STALE,
    UNSURE,
    CallWatchdog,
    Health,
    bulk,
    call,
    describe,
    ms,
)
from surestream.store._redis_tails import TailReader
from surestream.store.base import (
    DEFAULT_MAX_BYTES,
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
    TooManySubscribers,
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

DEFAULT_PREFIX = "surestream:"
"""Prefix of every key; give each application (or test) its own."""

DEFAULT_TIMEOUT = 5.0
"""Seconds any one Redis call may take before ``StoreUnavailable`` (a blocking ``XREAD``:
this beyond its ``BLOCK``)."""

DEFAULT_CONNECT_TIMEOUT = 2.0
"""Seconds to open a connection to Redis."""

DEFAULT_READ_BLOCK = 1.0
"""Seconds one ``XREAD BLOCK`` waits; also how often a waiting reader checks the lease."""

DEFAULT_MAX_CONNECTIONS = 1000
"""Connections in the pool. The reader of all tails holds one, the append pipeline one, and
each other call in flight one."""

DEFAULT_READ_BATCH = 1000
"""Entries one ``XREAD`` returns at most per stream (``COUNT``)."""


async def _nothing() -> AsyncIterator[tuple[int, Event]]:
    return
    yield


class RedisStore(Store):
    """Journals in Redis Streams, readable from every instance that shares the Redis.

    ``url``: a ``redis://`` URL, or pass a ready ``client`` (then its own timeouts apply and
    ``aclose`` leaves it open). ``prefix``: the key prefix. ``retention``, ``max_events``,
    ``max_bytes``, ``tombstone_ttl``: as in ``Store``. ``timeout``: seconds one command may take;
    ``connect_timeout``: seconds to connect; ``read_block``: seconds one ``XREAD BLOCK``
    waits (must be below ``timeout``); ``read_batch``: entries per ``XREAD``;
    ``max_connections``: the pool size.
    """

    pipelined_appends = True
    """Appends of all streams share one pipeline at a time (``submit_append``)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        retention: float = DEFAULT_RETENTION,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
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
        self.max_bytes = max_bytes
        self.tombstone_ttl = tombstone_ttl
        self.timeout = timeout
        self.read_block = read_block
        self.read_batch = read_batch
        self._owns_client = client is None
        self._redis: aioredis.Redis = client or aioredis.Redis.from_url(
            url,
            socket_timeout=None,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
            max_connections=max_connections,
        )
        self._limits = b"".join(
            bulk(b"%d" % n) for n in (max_events, ms(retention), ms(tombstone_ttl), max_bytes)
        )
        self._append_script = self._redis.register_script(scripts.APPEND)
        self._create_script = self._redis.register_script(scripts.CREATE)
        self._heartbeat_script = self._redis.register_script(scripts.HEARTBEAT)
        self._watch_script = self._redis.register_script(scripts.WATCH)
        self._join_script = self._redis.register_script(scripts.JOIN)
        self._leave_script = self._redis.register_script(scripts.LEAVE)
        self._release_script = self._redis.register_script(scripts.RELEASE)
        self._health = Health()
        self._watchdog = CallWatchdog(timeout)
        doorbell = (prefix + "doorbell").encode()
        ringer = secrets.token_hex(8).encode()
        self._tail_reader = TailReader(
            self._redis,
            self._health,
            self._watchdog,
            read_block=read_block,
            read_batch=read_batch,
            lost=self._lost,
            doorbell=doorbell,
            ringer=ringer,
        )
        self._appends = AppendPipeline(
            self._redis,
            scripts.APPEND,
            self._append_script.sha,
            doorbell,
            self._watchdog,
            ringer=ringer,
            seen=self._tail_reader.seen,
        )

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client (for metrics or health checks)."""
        return self._redis

    def _keys(self, stream_id: str) -> list[str]:
        base = f"{self.prefix}{{{stream_id}}}:"
        return [base + "events", base + "meta", base + "lease", base + "watch", base + "gone"]

    def _reader_keys(self, stream_id: str) -> list[str]:
        return [*self._keys(stream_id), f"{self.prefix}{{{stream_id}}}:readers"]

    async def _batch(
        self, script: AsyncScript, calls: Sequence[tuple[list[str], list[str | int]]]
    ) -> list[Any]:
        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    await script(keys, args, client=pipe)
                return await pipe.execute()

        return await call(run, self._health, self._watchdog, write=True)

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless Redis answers (for health checks)."""
        await call(self._redis.ping, self._health, self._watchdog)

    async def ready(self, *, fresh: bool = False) -> None:
        """Raise ``StoreUnavailable`` unless Redis takes writes (see ``Store.ready``): a
        probe ``SET`` with a short expiry when ``fresh`` or when the last calls failed."""
        if self._health.ok and not fresh:
            return
        key = self.prefix + "ready"
        await call(
            lambda: self._redis.set(key, b"1", px=1000), self._health, self._watchdog, write=True
        )

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
            ms(lease_ttl),
            ms(lease_ttl + self.retention),
            ms(self.tombstone_ttl),
        ]
        keys = self._keys(stream_id)
        created = await call(
            lambda: self._create_script(keys, args),
            self._health,
            self._watchdog,
            retry=STALE if lease else (),
            write=True,
        )
        if not created:
            raise StreamExists(f"stream {stream_id} already exists")

    async def _missing(self, stream_id: str) -> Exception:
        gone = await call(
            lambda: self._redis.exists(self._keys(stream_id)[4]), self._health, self._watchdog
        )
        if gone:
            return StreamExpired(f"stream {stream_id} has expired")
        return StreamNotFound(f"no stream {stream_id}")

    async def info(self, stream_id: str) -> StreamInfo:
        """The stream's metadata (see ``Store.info``)."""
        key = self._keys(stream_id)[1]
        raw: dict[bytes, bytes] = await call(
            lambda: self._redis.hgetall(key),  # type: ignore[arg-type,return-value]
            self._health,
            self._watchdog,
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
        self, stream_id: str, events: Sequence[Event], mode: bytes, expect: int | None
    ) -> int:
        script_call = pack_append(self.prefix, stream_id, self._limits, events, mode, expect)

        async def run() -> Any:
            return await self._appends.submit_future(script_call)

        safe = expect is not None or mode == LOST_MODE
        began = self._health.incident
        reply = await call(run, self._health, None, retry=UNSURE if safe else ())
        return await self._appended(stream_id, events, expect, began, reply)

    async def _appended(
        self,
        stream_id: str,
        events: Sequence[Event],
        expect: int | None,
        began: int,
        reply: Any,
    ) -> int:
        """The last seq of an append from the script's reply, or the refusal it means."""
        if int(reply[0]) == -3:
            raise await self._missing(stream_id)
        return self._appended_now(stream_id, events, expect, began, reply)

    def _appended_now(
        self,
        stream_id: str,
        events: Sequence[Event],
        expect: int | None,
        began: int,
        reply: Any,
    ) -> int:
        """``_appended`` without the lookup that tells an expired journal from a missing one
        (both ``StreamNotFound`` here)."""
        if int(reply[0]) == 0 and not self._health.ok:
            self._health.wrote(began)  # it wrote: Redis takes writes again
        return last_appended(stream_id, events, expect, reply, self._full)

    def _failure(self, exc: Exception) -> Exception:
        """``exc``; a Redis failure as the ``StoreUnavailable`` it means (and reported)."""
        if isinstance(exc, FAILURES):
            reason = describe(exc)
            self._health.failed(reason)
            return StoreUnavailable(reason)
        return exc

    def _full(self, stream_id: str) -> JournalFull:
        return JournalFull(
            f"stream {stream_id} reached {self.max_events} events or {self.max_bytes} bytes"
        )

    async def append_many(
        self, stream_id: str, events: Sequence[Event], *, expect: int | None = None
    ) -> int:
        """Append events (see ``Store.append_many``); with ``expect`` a lost reply is retried."""
        return await self._run_append(stream_id, events, APPEND_MODE, expect)

    def submit_append(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        expect: int,
        replied: Callable[[int | Exception], None],
    ) -> None:
        """Queue an append for the next pipeline (see ``Store.submit_append``); a failure
        after which it may have run is tried once more at once (it names its seq)."""
        script_call = pack_append(self.prefix, stream_id, self._limits, events, APPEND_MODE, expect)
        health = self._health
        began = health.incident

        def outcome(reply: Any) -> None:
            if type(reply) is list and reply[0] == 0 and health.ok:  # went in: the common case
                replied(reply[1])
                return
            try:
                if isinstance(reply, BaseException):
                    raise reply
                last = self._appended_now(stream_id, events, expect, began, reply)
            except Exception as exc:
                replied(self._failure(exc))
                return
            replied(last)

        self._appends.submit(script_call, outcome, again=UNSURE)

    async def read(
        self, stream_id: str, after: int | None = None
    ) -> AsyncIterator[tuple[int, Event]]:
        """Validate, then replay and follow (see ``Store.read``)."""
        info = await self.info(stream_id)
        start = check_resume_point(after, info.length)
        if info.terminal and start >= info.length:
            return _nothing()
        return self._tail_reader.follow(stream_id, self._keys(stream_id)[0].encode(), start)

    async def heartbeat(self, leases: Mapping[str, str], lease_ttl: float) -> dict[str, LeaseState]:
        """Renew leases and report, in one pipeline (see ``Store.heartbeat``)."""
        if not leases:
            return {}
        ids = list(leases)
        keep = ms(lease_ttl + self.retention)
        replies = await self._batch(
            self._heartbeat_script,
            [
                (self._keys(sid), [leases[sid], ms(lease_ttl), keep, ms(self.tombstone_ttl)])
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
        await call(lambda: self._release_script(keys, [token]), self._health, self._watchdog)

    async def watch(self, readers: Mapping[str, int], member: str, ttl: float) -> None:
        """Refresh ``member``'s watch and reader count on each stream, in one pipeline (see
        ``Store.watch``)."""
        if not readers:
            return
        await self._batch(
            self._watch_script,
            [(self._reader_keys(sid), [member, ms(ttl), count]) for sid, count in readers.items()],
        )

    async def join(
        self, stream_id: str, member: str, ttl: float, *, limit: int | None = None
    ) -> None:
        """One more subscriber in ``member``, within ``limit`` (see ``Store.join``)."""
        keys = self._reader_keys(stream_id)
        args: list[str | int] = [member, ms(ttl), -1 if limit is None else limit]
        admitted = await call(
            lambda: self._join_script(keys, args), self._health, self._watchdog, write=True
        )
        if not admitted:
            raise TooManySubscribers(f"stream {stream_id} has {limit} readers")

    async def leave(self, stream_id: str, member: str) -> None:
        """One subscriber fewer in ``member`` (see ``Store.leave``)."""
        keys = self._reader_keys(stream_id)
        await call(lambda: self._leave_script(keys, [member]), self._health, self._watchdog)

    async def shared_secret(self) -> bytes:
        """The secret under ``{prefix}secret``, made on first use by whichever process
        comes first (``SET NX``; see ``Store.shared_secret``)."""
        key = self.prefix + "secret"
        fresh = secrets.token_hex(32).encode()

        async def fetch() -> bytes | None:
            await self._redis.set(key, fresh, nx=True)
            value = await self._redis.get(key)
            return value if isinstance(value, bytes) else None

        secret = await call(fetch, self._health, self._watchdog, write=True)
        if not secret:
            raise StoreUnavailable("the shared secret could not be read back")
        return bytes(secret)

    async def _lost(self, stream_ids: list[str]) -> list[Exception | None]:
        """Append ``producer_lost`` to each stream whose lease is gone, in one pipeline (the
        tail reader's lease checks); per stream, None or why its tail must end."""
        lost = (producer_lost(),)
        calls = [
            pack_append(self.prefix, stream_id, self._limits, lost, LOST_MODE, None)
            for stream_id in stream_ids
        ]
        began = self._health.incident

        async def run() -> list[Any]:
            futures = [self._appends.submit_future(script_call) for script_call in calls]
            return await asyncio.gather(*futures, return_exceptions=True)

        replies = await call(run, self._health, None, retry=UNSURE)
        outcomes: list[Exception | None] = []
        for stream_id, reply in zip(stream_ids, replies, strict=True):
            try:
                if isinstance(reply, BaseException):
                    raise reply
                await self._appended(stream_id, lost, None, began, reply)
            except JournalClosed:
                outcomes.append(None)
            except (*FAILURES, StoreUnavailable, StreamNotFound, StreamExpired) as exc:
                outcomes.append(self._failure(exc))
            else:
                outcomes.append(None)
        return outcomes

    async def link(self, name: str, stream_id: str, ttl: float) -> None:
        """Point ``name`` at ``stream_id`` for ``ttl`` seconds (see ``Store.link``)."""
        key = f"{self.prefix}link:{name}"
        await call(
            lambda: self._redis.set(key, stream_id, px=ms(ttl)),
            self._health,
            self._watchdog,
            write=True,
        )

    async def resolve(self, name: str) -> str | None:
        """The stream ``name`` points at (see ``Store.resolve``)."""
        key = f"{self.prefix}link:{name}"
        value = await call(lambda: self._redis.get(key), self._health, self._watchdog)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def aclose(self) -> None:
        """Stop the reader and the lease checks; close the connection pool (unless the client
        was passed in)."""
        await self._tail_reader.aclose()
        await self._appends.aclose()
        self._watchdog.close()
        if self._owns_client:
            await self._redis.aclose()
