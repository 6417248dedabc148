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

Appends of all streams are coalesced: ``_run_append`` queues its script call and awaits its
own reply; one flusher sends everything queued in one pipeline (``EVALSHA`` each, the script
loaded on ``NOSCRIPT``) and, while that round trip is out, collects the next batch, so under
load one round trip carries the appends of many streams and at most one append pipeline is
in flight. A failed pipeline fails each of its calls as a single failed call would.

Readers of one stream in one process share a *tail*: an in-process list that its readers
follow as in ``MemoryStore``; a reader resuming before the tail's first seq reads that gap
with ``XRANGE`` first. The tails of all streams are fed by one *reader* task per store, on
its own connection, that blocks in ``XREAD COUNT read_batch BLOCK read_block STREAMS k1 k2
... id1 id2 ...`` over every live tail, decodes each entry once and hands it to its tail; a
stream tailed while that read blocks has the reader woken at once with ``CLIENT UNBLOCK``
(the reader's ``CLIENT ID``, sent from a pooled connection), so it is read from the next
round. A tail that got nothing for ``read_block`` seconds has its lease checked: the append
script in "lost" mode (batched with the other appends), which appends ``producer_lost``
only if the journal is leased, not ended, and its lease key is gone; the read blocks no
longer than until the next check is due. A tail ends at its terminal event; a failed read
fails every tail it covered (their readers get ``store_unavailable``), a failed check its
own tail. Every Redis call is bounded: socket timeouts, connect timeout, ``read_block``
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
from redis.exceptions import NoScriptError

from surestream.events import Error, ErrorCode, Event, dumps, is_terminal, loads
from surestream.store import _redis_scripts as scripts
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
"""Connections in the pool. The reader of all tails holds one, the append pipeline one, and
each other call in flight one."""

DEFAULT_READ_BATCH = 1000
"""Entries one ``XREAD`` returns at most per stream (``COUNT``)."""

_T = TypeVar("_T")

_FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
_STALE: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
_UNSURE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class _Tail:
    """This process's live copy of one journal from seq ``base`` on, shared by its readers.

    The store's reader task fills ``events`` (decoding each entry once) from the Redis entry
    after ``cursor``; readers follow the list as they do in ``MemoryStore``. It ends at the
    terminal event or on a store failure (``failed``). ``due``: when its lease check is due.
    """

    __slots__ = (
        "base",
        "changed",
        "checking",
        "cursor",
        "due",
        "events",
        "failed",
        "key",
        "packed_key",
        "readers",
        "stream_id",
    )

    def __init__(self, stream_id: str, key: bytes, base: int, due: float) -> None:
        self.stream_id = stream_id
        self.key = key
        self.packed_key = _bulk(key)
        self.base = base
        self.cursor = _bulk(f"{base - 1}-1".encode() if base > 0 else b"0-0")
        self.due = due
        self.checking = False
        self.events: list[Event] = []
        self.failed = False
        self.readers = 0
        self.changed = asyncio.Event()

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


def _bulk(value: bytes) -> bytes:
    """``value`` as a RESP bulk string (one argument of a packed command)."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _copy(exc: Exception) -> Exception:
    """A fresh exception like ``exc`` for each caller of a failed batch (no shared traceback)."""
    try:
        fresh = type(exc)(*exc.args)
    except Exception:
        return exc
    fresh.__cause__ = exc.__cause__
    return fresh


@functools.lru_cache(maxsize=4096)
def _append_keys(prefix: str, stream_id: str) -> tuple[bytes, ...]:
    """The keys of a stream, encoded (as ``RedisStore._keys``), for the append pipeline."""
    base = f"{prefix}{{{stream_id}}}:".encode()
    return tuple(base + name for name in (b"events", b"meta", b"lease", b"watch", b"gone"))


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
        self._live: dict[bytes, _Tail] = {}
        """The tails the reader follows, by events key (not ended, not failed)."""
        self._reader: asyncio.Task[None] | None = None
        self._reader_conn: Any = None
        self._reader_id: int | None = None
        self._wake = asyncio.Event()
        self._reading: dict[bytes, _Tail] | None = None
        """The tails of the ``XREAD`` in flight (None when none is)."""
        self._unblocking = False
        self._stale = False
        """A tail came after the ``XREAD`` in flight was sent."""
        self._check_at = float("inf")
        self._queue: list[tuple[list[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._limits = [b"%d" % n for n in (max_events, _ms(retention), _ms(tombstone_ttl))]
        self._append_script = self._redis.register_script(scripts.APPEND)
        self._create_script = self._redis.register_script(scripts.CREATE)
        self._heartbeat_script = self._redis.register_script(scripts.HEARTBEAT)
        self._watch_script = self._redis.register_script(scripts.WATCH)
        self._release_script = self._redis.register_script(scripts.RELEASE)

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
        restarted); any failure becomes ``StoreUnavailable``. A cancellation that redis-py
        swallowed (Python 3.11's ``wait_for`` loses one that meets a finished send) is raised
        again, so a cancelled caller (the hub's ticker) does stop."""
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        try:
            try:
                result = await command()
            except retry:
                result = await command()
        except _FAILURES as exc:
            if task is not None and task.cancelling() > cancels:
                raise asyncio.CancelledError from exc
            raise StoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
        if task is not None and task.cancelling() > cancels:
            raise asyncio.CancelledError
        return result

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
        call = [
            *_append_keys(self.prefix, stream_id),
            *self._limits,
            b"1" if terminal else b"0",
            mode.encode(),
            b"" if expect is None else b"%d" % expect,
        ]
        call.extend(dumps(event) for event in events)
        attempts = 0

        async def run() -> Any:
            nonlocal attempts
            attempts += 1
            return await self._submit(call)

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

    def _submit(self, call: list[Any]) -> asyncio.Future[Any]:
        """Queue one append script call (its keys then args) for the next pipeline."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((call, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        """Send the queued append calls, one pipeline at a time, until the queue is empty."""
        batch: list[tuple[list[Any], asyncio.Future[Any]]] = []
        try:
            while self._queue:
                batch = [item for item in self._queue if not item[1].done()]
                self._queue = []
                if not batch:
                    continue
                try:
                    replies = await self._pipeline([call for call, _ in batch])
                except Exception as exc:
                    replies = [_copy(exc) for _ in batch]
                for (_, future), reply in zip(batch, replies, strict=True):
                    if future.done():
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
                batch = []
        finally:
            self._flusher = None
            for _, future in batch + self._queue:
                if not future.done():
                    future.set_exception(StoreUnavailable("the store is closing"))
            self._queue = []

    async def _pipeline(self, calls: list[list[Any]]) -> list[Any]:
        """Run the append script once per call in one pipeline; load it on ``NOSCRIPT``."""
        script = self._append_script
        replies = await self._evalsha(script.sha, calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            script.sha = await self._redis.script_load(scripts.APPEND)
            again = await self._evalsha(script.sha, [calls[i] for i in missing])
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        return replies

    async def _evalsha(self, sha: str, calls: list[list[Any]]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.execute_command("EVALSHA", sha, 5, *call)
            return await pipe.execute(raise_on_error=False)

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
            key = self._keys(stream_id)[0].encode()
            tail = _Tail(stream_id, key, start, time.monotonic() + self.read_block)
            self._tails[stream_id] = tail
            self._live[key] = tail
            self._check_at = min(self._check_at, tail.due)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_tails())
            self._wake.set()
            self._stale = True
            if self._reading is not None and not self._unblocking:
                self._unblocking = True
                self._keep(asyncio.create_task(self._unblock()))
        tail.readers += 1
        return tail

    def _leave_tail(self, stream_id: str, tail: _Tail) -> None:
        tail.readers -= 1
        if tail.readers == 0:
            if self._tails.get(stream_id) is tail:
                del self._tails[stream_id]
            if self._live.get(tail.key) is tail:
                del self._live[tail.key]

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _fail(self, tail: _Tail, exc: Exception) -> None:
        log.warning("journal %s unreadable: %s", tail.stream_id, exc)
        tail.failed = True
        tail.notify()
        if self._live.get(tail.key) is tail:
            del self._live[tail.key]

    async def _read_tails(self) -> None:
        """The reader: one ``XREAD`` over every live tail at a time, entries to their tails."""
        try:
            while True:
                if not self._live:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                now = time.monotonic()
                if now >= self._check_at:
                    self._check_leases(now)
                tails, self._stale = dict(self._live), False
                block = _ms(min(self.read_block, self._check_at - now))
                try:
                    reply = await self._call(functools.partial(self._xread, tails, block))
                except StoreUnavailable as exc:
                    for tail in tails.values():
                        self._fail(tail, exc)
                    continue
                if reply:
                    self._deliver(tails, reply)
        finally:
            conn, self._reader_conn, self._reader_id = self._reader_conn, None, None
            if conn is not None:
                await self._redis.connection_pool.release(conn)

    async def _xread(self, tails: dict[bytes, _Tail], block: int) -> Any:
        """One ``XREAD`` on the reader's connection (packed here: it may name many streams)."""
        try:
            if self._reader_conn is None:
                self._reader_conn = await self._redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            conn = self._reader_conn
            if self._reader_id is None:
                await conn.send_command("CLIENT", "ID")
                self._reader_id = int(await conn.read_response())
            head = b"*%d\r\n$5\r\nXREAD\r\n$5\r\nCOUNT\r\n%s$5\r\nBLOCK\r\n%s$7\r\nSTREAMS\r\n" % (
                6 + 2 * len(tails),
                _bulk(b"%d" % self.read_batch),
                _bulk(b"%d" % block),
            )
            parts = [head]
            parts.extend(tail.packed_key for tail in tails.values())
            parts.extend(tail.cursor for tail in tails.values())
            self._reading = tails
            try:
                await conn.send_packed_command(b"".join(parts), check_health=False)
                return await conn.read_response(disable_decoding=True)
            finally:
                self._reading = None
        except BaseException:
            self._reader_id = None
            raise

    def _deliver(self, tails: dict[bytes, _Tail], reply: Any) -> None:
        """Hand each stream's entries to its tail (if it still follows that stream)."""
        due = time.monotonic() + self.read_block
        for key, entries in reply.items() if isinstance(reply, dict) else reply:
            tail = tails.get(key)
            if tail is None or not entries or self._live.get(key) is not tail:
                continue
            tail.events.extend(loads(fields[1]) for _, fields in entries)
            tail.cursor = _bulk(entries[-1][0])
            tail.due = due
            tail.notify()
            if is_terminal(tail.events[-1]):
                del self._live[key]

    async def _unblock(self) -> None:
        """Wake the reader from an ``XREAD`` that misses a new tail (``CLIENT UNBLOCK``).

        Asks again, a few times over some milliseconds, while the reader has not issued a new
        ``XREAD`` since the tail came: an ``UNBLOCK`` may reach Redis before that ``XREAD``."""
        try:
            for attempt in range(1, 9):
                reader_id = self._reader_id
                if not self._stale or self._reading is None or reader_id is None:
                    return
                await self._redis.execute_command(  # type: ignore[no-untyped-call]
                    "CLIENT", "UNBLOCK", reader_id
                )
                await asyncio.sleep(0.001 * attempt)
        except _FAILURES as exc:
            log.debug("CLIENT UNBLOCK failed: %s", exc)
        finally:
            self._unblocking = False

    def _check_leases(self, now: float) -> None:
        """Start the lease check of each live tail that got nothing for ``read_block``."""
        due: list[_Tail] = []
        check_at = float("inf")
        for tail in self._live.values():
            if tail.checking:
                continue
            if tail.due <= now:
                tail.checking = True
                due.append(tail)
            elif tail.due < check_at:
                check_at = tail.due
        self._check_at = check_at
        for tail in due:
            self._keep(asyncio.create_task(self._check_lease(tail)))

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

    async def _check_lease(self, tail: _Tail) -> None:
        """Append ``producer_lost`` if the lease is gone (its append joins the others')."""
        try:
            with contextlib.suppress(JournalClosed):
                await self._run_append(tail.stream_id, (producer_lost(),), "l", None)
        except (StoreUnavailable, StreamNotFound, StreamExpired) as exc:
            self._fail(tail, exc)
        finally:
            tail.checking = False
            tail.due = max(tail.due, time.monotonic() + self.read_block)
            if self._live.get(tail.key) is tail:
                self._check_at = min(self._check_at, tail.due)

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
        """Stop the reader and the lease checks; close the connection pool (unless the client
        was passed in)."""
        tasks = [*self._background, self._reader, self._flusher]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(task for task in tasks if task is not None), return_exceptions=True)
        self._reader = None
        self._tails.clear()
        self._live.clear()
        if self._owns_client:
            await self._redis.aclose()
