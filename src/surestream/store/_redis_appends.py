"""``AppendPipeline``: the appends of all of a ``RedisStore``'s streams, coalesced.

Strategy: an append queues its script call with ``submit`` (already packed as RESP: the
store packs each stream's keys once) and a callback for its reply; one flusher task sends
everything queued in one write (``EVALSHA`` each, the script loaded on ``NOSCRIPT``) and,
while that round trip is out, the next batch collects, so under load one round trip
carries the appends of many streams and at most one append pipeline is in flight. The
flusher keeps a connection of its own and packs and reads the pipeline itself: redis-py's
``Pipeline`` would pack every argument of every call in Python and read each reply
through its command machinery, which cost more than the rest of an append. Each pipeline
ends with one ``XADD`` to the store's *doorbell* stream naming the journals it appended
to (``XADD {p}doorbell MAXLEN ~ 1000 * k <events key> k <events key> ...``): Redis runs
it after the appends, so a tail reader that sees the ring finds their entries
(``surestream.store._redis_tails``). The flusher's pipeline is held to the store's call
time limit (``CallWatchdog``), so a caller waiting for its reply needs no limit of its
own. A failed pipeline fails each of its calls as a single failed call would (each
callback gets its own copy of the exception); a connection that failed is dropped and
opened again for the next pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.exceptions import NoScriptError, ResponseError

from surestream.events import Event, dumps
from surestream.store._redis_call import CallWatchdog, bulk, copy_exception
from surestream.store.base import (
    JournalClosed,
    JournalFull,
    StoreUnavailable,
    StreamNotFound,
    check_batch,
)

__all__ = [
    "APPEND_MODE",
    "DOORBELL_LENGTH",
    "LOST_MODE",
    "AppendCall",
    "AppendPipeline",
    "Replied",
    "last_appended",
    "pack_append",
]

DOORBELL_LENGTH = 1000
"""Rings the doorbell stream keeps (about; ``MAXLEN ~``): a reader further behind misses
some and finds their entries at its next full sweep."""

AppendCall = tuple[bytes, int, bytes, bytes, Sequence[Event]]
"""One script call: the journal's events key packed as a RESP bulk string (rung on the
doorbell), the number of keys and arguments, those keys and arguments packed, and the
events key and the events as they are."""

log = logging.getLogger("surestream.store")

Replied = Callable[[Any], None]
"""Called once with a call's reply: the script's reply, or the exception the call failed
with (an error reply included)."""

APPEND_MODE, LOST_MODE = bulk(b"a"), bulk(b"l")
"""The append script's modes, packed: append a batch, or ``producer_lost`` if the lease is
gone (see ``surestream.store._redis_scripts.APPEND``)."""

_RING, _RINGER = b"$1\r\nk\r\n", b"$1\r\np\r\n"
_TERMINAL, _NOT_TERMINAL, _NO_SEQ = bulk(b"1"), bulk(b"0"), bulk(b"")


@functools.lru_cache(maxsize=4096)
def _append_keys(prefix: str, stream_id: str) -> tuple[bytes, bytes, bytes]:
    """A stream's events key, as it is and packed, and its five keys (as
    ``RedisStore._keys``), packed."""
    base = f"{prefix}{{{stream_id}}}:".encode()
    names = (b"events", b"meta", b"lease", b"watch", b"gone")
    events_key = base + b"events"
    return events_key, bulk(events_key), b"".join(bulk(base + name) for name in names)


def pack_append(
    prefix: str,
    stream_id: str,
    limits: bytes,
    events: Sequence[Event],
    mode: bytes,
    expect: int | None,
) -> AppendCall:
    """The append script's call for ``events`` of ``stream_id``; ``limits``: its first four
    arguments, packed (max_events, retention, tombstone ms, max_bytes)."""
    terminal = check_batch(events)
    key, packed_key, keys = _append_keys(prefix, stream_id)
    parts = [
        keys,
        limits,
        _TERMINAL if terminal else _NOT_TERMINAL,
        mode,
        _NO_SEQ if expect is None else bulk(b"%d" % expect),
    ]
    if len(events) == 1:
        parts.append(bulk(dumps(events[0])))
    else:
        parts += [bulk(dumps(event)) for event in events]
    return packed_key, 12 + len(events), b"".join(parts), key, events


def last_appended(
    stream_id: str,
    events: Sequence[Event],
    expect: int | None,
    reply: Any,
    full: Callable[[str], JournalFull],
) -> int:
    """The last seq of an append from the script's reply, or the refusal it means (a
    missing journal as ``StreamNotFound``; ``full`` makes the ``JournalFull``)."""
    status, last = int(reply[0]), int(reply[1])
    if status == -5:  # did an earlier attempt of this append go in (its reply lost)?
        assert expect is not None
        if int(reply[3]) == 1:
            if last == expect + len(events) - 1:
                return last
            raise full(stream_id)  # it went in up to the cap
        if reply[2] == b"1":
            raise JournalClosed(f"stream {stream_id} has ended")
        raise ValueError(f"append at seq {expect}, but stream {stream_id} is at {last + 1}")
    if status == -3:
        raise StreamNotFound(f"no stream {stream_id}")
    if status == -1:
        raise JournalClosed(f"stream {stream_id} has ended")
    if status == -2:
        raise full(stream_id)
    return last


class AppendPipeline:
    """Sends queued calls of one Lua script (over five keys) in one pipeline at a time.

    ``source`` is the script's text and ``sha`` its SHA1 (loaded on ``NOSCRIPT``); the first
    key of each call is the journal's events key, rung on ``doorbell`` in a ring whose first
    field is ``p``: ``ringer`` (the process's mark, so its reader knows its own rings);
    ``watchdog`` bounds each pipeline. ``seen(call, reply)`` is told every call's final reply,
    in the order Redis ran them, before the call's own ``replied``.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        source: str,
        sha: str,
        doorbell: bytes,
        watchdog: CallWatchdog,
        *,
        ringer: bytes,
        seen: Callable[[AppendCall, Any], None],
    ) -> None:
        self._redis = redis
        self._watchdog = watchdog
        self._source = source
        self._seen = seen
        self._evalsha = b"$7\r\nEVALSHA\r\n" + bulk(sha.encode()) + b"$1\r\n5\r\n"
        self._ring_head = (
            b"$4\r\nXADD\r\n%s$6\r\nMAXLEN\r\n$1\r\n~\r\n%s$1\r\n*\r\n$1\r\np\r\n%s"
            % (
                bulk(doorbell),
                bulk(b"%d" % DOORBELL_LENGTH),
                bulk(ringer),
            )
        )
        self._queue: list[tuple[AppendCall, Replied, tuple[type[Exception], ...]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._conn: Any = None

    def submit(
        self, call: AppendCall, replied: Replied, *, again: tuple[type[Exception], ...] = ()
    ) -> None:
        """Queue one script call for the next pipeline; ``replied`` gets its outcome. A call
        that failed with one of ``again`` is queued once more (``UNSURE`` for a call that
        may be repeated: it names its seq)."""
        self._queue.append((call, replied, again))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())

    def submit_future(self, call: AppendCall) -> asyncio.Future[Any]:
        """``submit``, the outcome as a future (an exception reply set as its exception)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def replied(reply: Any) -> None:
            if future.done():
                return
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)

        self.submit(call, replied)
        return future

    async def _flush(self) -> None:
        """Send the queued calls, one pipeline at a time, until the queue is empty."""
        batch: list[tuple[AppendCall, Replied, tuple[type[Exception], ...]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                replies = await self._bounded_pipeline([call for call, _, _ in batch])
                for (call, replied, again), reply in zip(batch, replies, strict=True):
                    if type(reply) is not list and again and isinstance(reply, again):
                        self._queue.append((call, replied, ()))
                    else:
                        try:
                            self._seen(call, reply)
                        except Exception:
                            log.exception("handing an append's events to its readers failed")
                        try:
                            replied(reply)
                        except Exception:
                            log.exception("an append's reply callback failed")
                batch = []
        finally:
            self._flusher = None
            for _, replied, _ in batch + self._queue:
                replied(StoreUnavailable("the store is closing"))
            self._queue = []

    async def _bounded_pipeline(self, calls: list[AppendCall]) -> list[Any]:
        """``_pipeline`` within the watchdog's limit; a failure as one exception per call."""
        watchdog = self._watchdog
        guard = watchdog.arm()
        failure: Exception
        try:
            return await self._pipeline(calls)
        except asyncio.CancelledError:
            if not watchdog.expired(guard):
                raise
            failure = redis.exceptions.TimeoutError(f"no answer within {watchdog.limit:g} s")
        except Exception as exc:
            failure = exc
        finally:
            watchdog.disarm(guard)
        return [copy_exception(failure) for _ in calls]

    async def _pipeline(self, calls: list[AppendCall]) -> list[Any]:
        """Run the script once per call in one pipeline; load it on ``NOSCRIPT``."""
        replies = await self._send(calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            await self._redis.script_load(self._source)
            again = await self._send([calls[i] for i in missing])
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        return replies

    async def _send(self, calls: list[AppendCall]) -> list[Any]:
        """The calls, then their ring (whose reply is dropped: a ring that failed is made
        up for by the readers' full sweep), in one write on the flusher's connection."""
        evalsha = self._evalsha
        parts: list[bytes] = []
        ring = [b"*%d\r\n" % (8 + 2 * len(calls)), self._ring_head]
        for key, count, packed, _, _ in calls:
            parts += (b"*%d\r\n" % (3 + count), evalsha, packed)
            ring += (_RING, key)
        try:
            if self._conn is None:
                self._conn = await self._redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            conn = self._conn
            await conn.send_packed_command(b"".join(parts + ring), check_health=False)
            replies: list[Any] = []
            for _ in range(len(calls) + 1):
                try:
                    replies.append(await conn.read_response(disable_decoding=True))
                except ResponseError as exc:
                    replies.append(exc)
        except BaseException:
            await self._drop_connection()
            raise
        return replies[:-1]

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect(nowait=True)
            await self._redis.connection_pool.release(conn)

    async def aclose(self) -> None:
        """Stop the flusher (calls still queued fail with ``StoreUnavailable``) and give its
        connection back."""
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._redis.connection_pool.release(conn)
