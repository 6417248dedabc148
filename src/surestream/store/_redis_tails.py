"""``TailReader``: one multiplexed ``XREAD`` that feeds the live readers of every stream.

Strategy: readers of one stream in one process share a *tail*: an in-process list that its
readers follow as in ``MemoryStore``; a reader resuming before the tail's first seq reads
that gap with ``XRANGE`` first. The tails of all streams are fed by one *reader* task per
store, on its own connection, that blocks in ``XREAD COUNT read_batch BLOCK read_block
STREAMS k1 k2 ... id1 id2 ...`` over every live tail, decodes each entry once and hands it
to its tail; a stream tailed while that read blocks has the reader woken at once with
``CLIENT UNBLOCK`` (the reader's ``CLIENT ID``, sent from a pooled connection), so it is
read from the next round. A tail that got nothing for ``read_block`` seconds has its lease
checked (the store's ``lost`` callable: the append script in "lost" mode, batched with the
other appends, which appends ``producer_lost`` only if the journal is leased, not ended,
and its lease key is gone); the read blocks no longer than until the next check is due. A
tail ends at its terminal event; a failed read fails every tail it covered (their readers
get ``store_unavailable``), a failed check its own tail.

The hand-overs between the tasks, and why each order is safe:

- *a reader joins while an ``XREAD`` is out* (``join``): the new tail goes into ``_live``
  and ``_stale`` is set before ``CLIENT UNBLOCK`` is sent; the read loop clears ``_stale``
  when it snapshots ``_live`` for its next ``XREAD``, and ``_unblock`` repeats only while
  ``_stale`` is set and a read is out, so an ``UNBLOCK`` that reached Redis before that
  ``XREAD`` was sent is sent again and the new tail waits at most one round.
- *the reader hands entries to readers* (``_deliver`` then ``Tail.notify``): a reader takes
  ``tail.changed`` *before* it looks at ``tail.events``, and ``notify`` swaps in a fresh
  event before setting the old one, so entries appended between the look and the wait
  still wake it. Entries go only to the tail that is still ``_live`` under that key: a tail
  that failed or was left (and maybe replaced) while the read was out gets nothing.
- *a failure reaches readers* (``fail``): ``failed`` is set before ``notify``, and a reader
  checks ``failed`` only after delivering every event already in the list, so nothing read
  before the failure is lost; its synthesized error carries the last seq it delivered.
- *a lease check runs beside the read* (``_check_lease``): ``checking`` keeps one check per
  tail in flight; when it ends, ``due`` moves ``read_block`` ahead and ``_check_at`` is
  lowered to it, so the loop's next ``BLOCK`` is cut short for the next check.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from surestream.events import Error, ErrorCode, Event, is_terminal, loads
from surestream.store._redis_call import CallWatchdog, Health, bulk, call, ms
from surestream.store.base import StoreUnavailable, StreamExpired, StreamNotFound

__all__ = ["Tail", "TailReader", "unavailable"]

log = logging.getLogger("surestream.store")


def unavailable() -> Error:
    """The error a reader gets when the store fails under it (not journaled)."""
    return Error.of(ErrorCode.STORE_UNAVAILABLE, "the stream store is unavailable")


class Tail:
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
        self.packed_key = bulk(key)
        self.base = base
        self.cursor = bulk(f"{base - 1}-1".encode() if base > 0 else b"0-0")
        self.due = due
        self.checking = False
        self.events: list[Event] = []
        self.failed = False
        self.readers = 0
        self.changed = asyncio.Event()

    def notify(self) -> None:
        """Wake every reader waiting on ``changed`` (a fresh event replaces it first)."""
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class TailReader:
    """The tails of one store and the one task that reads them all.

    ``lost(stream_id)`` appends ``producer_lost`` if the stream's lease is gone (it may
    raise ``StoreUnavailable``, ``StreamNotFound`` or ``StreamExpired``).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        health: Health,
        watchdog: CallWatchdog,
        *,
        read_block: float,
        read_batch: int,
        lost: Callable[[str], Awaitable[None]],
    ) -> None:
        self._redis = redis
        self._health = health
        self._watchdog = watchdog
        self.read_block = read_block
        self.read_batch = read_batch
        self._lost = lost
        self._tails: dict[str, Tail] = {}
        self._live: dict[bytes, Tail] = {}
        """The tails the reader follows, by events key (not ended, not failed)."""
        self._reader: asyncio.Task[None] | None = None
        self._reader_conn: Any = None
        self._reader_id: int | None = None
        self._wake = asyncio.Event()
        self._reading: dict[bytes, Tail] | None = None
        """The tails of the ``XREAD`` in flight (None when none is)."""
        self._unblocking = False
        self._stale = False
        """A tail came after the ``XREAD`` in flight was sent."""
        self._check_at = float("inf")
        self._background: set[asyncio.Task[None]] = set()

    async def follow(
        self, stream_id: str, key: bytes, pos: int
    ) -> AsyncIterator[tuple[int, Event]]:
        """``(seq, event)`` of ``stream_id`` (events key ``key``) from ``pos`` to its end."""
        tail = self._join(stream_id, key, pos)
        try:
            if pos < tail.base:
                try:
                    async for event in self._range(stream_id, key, pos, tail.base - 1):
                        yield pos, event
                        pos += 1
                except StoreUnavailable as exc:
                    log.debug("journal %s unreadable: %s", stream_id, exc)
                    yield pos - 1, unavailable()
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
                    yield pos - 1, unavailable()
                    return
                await changed.wait()
        finally:
            self._leave(stream_id, tail)

    def _join(self, stream_id: str, key: bytes, start: int) -> Tail:
        tail = self._tails.get(stream_id)
        if tail is None or tail.failed:
            tail = Tail(stream_id, key, start, time.monotonic() + self.read_block)
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

    def _leave(self, stream_id: str, tail: Tail) -> None:
        tail.readers -= 1
        if tail.readers == 0:
            if self._tails.get(stream_id) is tail:
                del self._tails[stream_id]
            if self._live.get(tail.key) is tail:
                del self._live[tail.key]

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def fail(self, tail: Tail, exc: Exception) -> None:
        """End ``tail`` on a store failure: its readers get ``store_unavailable``."""
        level = logging.DEBUG if isinstance(exc, StoreUnavailable) else logging.WARNING
        log.log(level, "journal %s unreadable: %s", tail.stream_id, exc)
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
                block = ms(min(self.read_block, self._check_at - now))
                try:
                    reply = await call(
                        functools.partial(self._xread, tails, block),
                        self._health,
                        self._watchdog,
                        extra=block / 1000,
                    )
                except StoreUnavailable as exc:
                    for tail in tails.values():
                        self.fail(tail, exc)
                    continue
                if reply:
                    self._deliver(tails, reply)
        finally:
            conn, self._reader_conn, self._reader_id = self._reader_conn, None, None
            if conn is not None:
                await self._redis.connection_pool.release(conn)

    async def _xread(self, tails: dict[bytes, Tail], block: int) -> Any:
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
                bulk(b"%d" % self.read_batch),
                bulk(b"%d" % block),
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

    def _deliver(self, tails: dict[bytes, Tail], reply: Any) -> None:
        """Hand each stream's entries to its tail (if it still follows that stream)."""
        due = time.monotonic() + self.read_block
        for key, entries in reply.items() if isinstance(reply, dict) else reply:
            tail = tails.get(key)
            if tail is None or not entries or self._live.get(key) is not tail:
                continue
            tail.events.extend(loads(fields[1]) for _, fields in entries)
            tail.cursor = bulk(entries[-1][0])
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
                await call(
                    functools.partial(
                        self._redis.execute_command,
                        "CLIENT",
                        "UNBLOCK",
                        reader_id,
                    ),
                    self._health,
                    self._watchdog,
                )
                await asyncio.sleep(0.001 * attempt)
        except StoreUnavailable as exc:
            log.debug("CLIENT UNBLOCK failed: %s", exc)
        finally:
            self._unblocking = False

    def _check_leases(self, now: float) -> None:
        """Start the lease check of each live tail that got nothing for ``read_block``."""
        due: list[Tail] = []
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

    async def _range(
        self, stream_id: str, key: bytes, first: int, last: int
    ) -> AsyncIterator[Event]:
        while first <= last:
            entries: Any = await call(
                functools.partial(
                    self._redis.xrange, key, f"{first}-1", f"{last}-1", count=self.read_batch
                ),
                self._health,
                self._watchdog,
            )
            if not entries:
                raise StoreUnavailable(f"journal {stream_id} lost events {first}..{last}")
            for _, fields in entries:
                yield loads(fields[b"e"])
            first = int(entries[-1][0].split(b"-", 1)[0]) + 1

    async def _check_lease(self, tail: Tail) -> None:
        """Append ``producer_lost`` if the lease is gone (its append joins the others')."""
        try:
            await self._lost(tail.stream_id)
        except (StoreUnavailable, StreamNotFound, StreamExpired) as exc:
            self.fail(tail, exc)
        finally:
            tail.checking = False
            tail.due = max(tail.due, time.monotonic() + self.read_block)
            if self._live.get(tail.key) is tail:
                self._check_at = min(self._check_at, tail.due)

    async def aclose(self) -> None:
        """Stop the reader and the lease checks; forget every tail."""
        tasks = [*self._background, self._reader]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(task for task in tasks if task is not None), return_exceptions=True)
        self._reader = None
        self._tails.clear()
        self._live.clear()
