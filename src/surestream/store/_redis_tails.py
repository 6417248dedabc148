"""``TailReader``: one ``XREAD`` loop that feeds the live readers of every stream.

Strategy: readers of one stream in one process share a *tail*: an in-process list that its
readers follow as in ``MemoryStore``, or have pushed to them (``surestream.store.
_redis_follow``); a reader resuming before the tail's first seq reads that gap with
``XRANGE`` first. The tails of all streams are fed by one *reader* task per
store, on its own connection, and it does not name every live journal in every ``XREAD``
(Redis pays for each key named): every append pipeline rings the store's *doorbell* stream
with the keys of the journals it appended to (``surestream.store._redis_appends``), and
the reader blocks in ``XREAD COUNT read_batch BLOCK b STREAMS doorbell k1 k2 ... cursor id1
id2 ...`` naming the doorbell and only the *due* tails: those rung since they were last
read, new ones, and those that got a full ``COUNT`` last time. A ring is written after its
entries, so the round that names a rung tail finds them. Every ``read_block`` seconds a
*full sweep* names every live tail once, which makes up for a ring that was lost (trimmed
from the doorbell, or refused). While the process follows at most ``DIRECT_TAILS`` tails,
the ``XREAD`` names each of them and not the doorbell (a lone append wakes the reader once,
not for its ring and then again for its entry); past that, the doorbell's cursor is read
afresh and the first round is a full sweep. It decodes each entry once and hands it to its tail; a
stream tailed while that read blocks has the reader woken at once with ``CLIENT UNBLOCK``
(the reader's ``CLIENT ID``, sent from a pooled connection), so it is read from the next
round. A tail that got nothing for ``read_block`` seconds has its lease checked (the
store's ``lost`` callable, for every tail due at once: the append script in "lost" mode,
batched with the other appends, which appends ``producer_lost`` only if the journal is
leased, not ended, and its lease key is gone); the read blocks no longer than until the
next check or sweep is due. A read that brought nothing new (only the rings of this
process's own appends, whose events its tails have from the replies) is followed by a pause
of ``RING_PAUSE`` before the next, cut short by a tail that comes or must be read, so a busy
process does not read once per append pipeline. A tail ends at its terminal event; a failed
read fails every live tail (their readers get ``store_unavailable``), a failed check its own
tail.

The hand-overs between the tasks, and why each order is safe:

- *a reader joins while an ``XREAD`` is out* (``join``): the new tail goes into ``_live``
  and ``_due`` and ``_stale`` is set before ``CLIENT UNBLOCK`` is sent; the read loop
  clears ``_stale`` when it snapshots ``_due`` for its next ``XREAD``, and ``_unblock``
  repeats only while ``_stale`` is set and a read is out, so an ``UNBLOCK`` that reached
  Redis before that ``XREAD`` was sent is sent again and the new tail waits at most one
  round.
- *a ring and its entries* (``_deliver``): the doorbell's cursor moves past every ring the
  reply holds, and each rung tail is due for the next round. An entry appended after the
  round's ``XREAD`` ran rings after it too, so it is read one round later; a tail rung for
  entries the round already read is named once for nothing.
- *the reader hands entries to readers* (``_deliver`` then ``Tail.notify``): it extends
  ``tail.events`` first, then wakes the waiting readers and pushes to the following ones
  (``surestream.store._redis_follow`` says why none is missed). Entries go only to the
  tail that is still ``_live`` under that key: a tail that failed or was left (and maybe
  replaced) while the read was out gets nothing.
- *this process's own appends* (``seen``): the append pipeline hands
  each reply to the store in the order Redis ran the calls, so an append that went in
  whole extends its journal's tail at once (from its events, not read back) and marks it
  *fed*; a read in flight may bring the same entries, and ``_deliver`` skips what the
  tail has (entry ids are ``<seq>-1``). Each ring carries its process's mark (``ringer``),
  and a ring of this process does not make a fed tail due: its entries came, or will come,
  with the replies. Whatever did not come that way is read: an append that failed or went
  in only in part (``read_soon``), one that finds the tail missing earlier entries (a gap
  before its first seq), and every other process's rings, as before; the full sweep every
  ``read_block`` names every tail regardless.
- *a failure reaches readers* (``fail``): ``failed`` is set before ``notify``, and a reader
  checks ``failed`` only after delivering every event already in the list, so nothing read
  before the failure is lost; its synthesized error carries the last seq it delivered.
- *lease checks run beside the read* (``_check_leases``): ``checking`` keeps one check per
  tail in flight; when it ends, ``due`` moves ``read_block`` ahead and ``_check_at`` is
  lowered to it, so the loop's next ``BLOCK`` is cut short for the next check.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from surestream.errors import RemoteProtocolError
from surestream.events import Event, Text, from_json, is_terminal, loads
from surestream.store._redis_appends import AppendCall
from surestream.store._redis_call import CallWatchdog, Health, bulk, call, ms
from surestream.store._redis_follow import Follower, Tail
from surestream.store.base import StoreUnavailable

__all__ = ["DIRECT_TAILS", "RING_PAUSE", "TailReader"]

log = logging.getLogger("surestream.store")

RING_PAUSE = 0.005
"""Seconds the reader waits after a read that brought nothing (the rings of this process's
own appends, entries its tails had) before it reads again: another process's append waits
at most that much longer, and a busy process does not read once per append pipeline."""

DIRECT_TAILS = 8
"""Up to this many live tails, the reader's ``XREAD`` names each of them and not the
doorbell: a lone append then wakes it once (its entry), not twice (the ring, then the
entry it rang), and naming a few keys costs Redis little."""


def _entry(raw: bytes) -> Event | str:
    """A journal entry's event for a tail with one reader; a ``Text`` as its ``str``, as the
    ``MemoryStore`` keeps it (a string is one object the garbage collector does not track,
    and a tail holds every event of its stream). A tail with several readers keeps the
    decoded ``Text`` instead, which they share rather than each making its own."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RemoteProtocolError(f"native event data is not JSON: {exc}") from None
    if type(obj) is dict and obj.get("type") == "text":
        text = obj.get("text")
        if type(text) is str:
            return text
    return from_json(obj)


class TailReader:
    """The tails of one store and the one task that reads them all.

    ``lost(stream_ids)`` appends ``producer_lost`` to each stream whose lease is gone and
    returns, per stream, None or the failure that ends its tail (``StoreUnavailable``,
    ``StreamNotFound``, ``StreamExpired``); ``doorbell`` is the key the appends ring, and
    ``ringer`` the mark on the rings of this process's appends.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        health: Health,
        watchdog: CallWatchdog,
        *,
        read_block: float,
        read_batch: int,
        lost: Callable[[list[str]], Awaitable[list[Exception | None]]],
        doorbell: bytes,
        ringer: bytes,
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
        self._due: dict[bytes, Tail] = {}
        """The live tails the next ``XREAD`` names (rung, new, or not read to the end)."""
        self._doorbell = doorbell
        self._ringer = ringer
        self._packed_doorbell = bulk(doorbell)
        self._ring: bytes | None = None
        """The doorbell's cursor (packed; None: to be read from Redis)."""
        self._sweep_at = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._reader_conn: Any = None
        self._reader_id: int | None = None
        self._wake = asyncio.Event()
        self._reading: dict[bytes, Tail] | None = None
        """The tails of the ``XREAD`` in flight (None when none is)."""
        self._unblocking = False
        self._joins = 0
        """Tails that came while an ``XREAD`` was out (each restarts ``_unblock``'s count)."""
        self._stale = False
        """A tail came after the ``XREAD`` in flight was sent."""
        self._check_at = float("inf")
        self._background: set[asyncio.Task[None]] = set()

    def follow(self, stream_id: str, key: bytes, pos: int) -> Follower:
        """A reader of ``stream_id`` (events key ``key``) from ``pos`` to its end."""
        return Follower(self, stream_id, key, pos)

    def join(self, stream_id: str, key: bytes, start: int) -> Tail:
        """The live tail of ``stream_id`` with one more reader (from ``start`` if new)."""
        tail = self._tails.get(stream_id)
        if tail is None or tail.failed:
            tail = Tail(stream_id, key, start, time.monotonic() + self.read_block)
            self._tails[stream_id] = tail
            self._live[key] = tail
            self._check_at = min(self._check_at, tail.due)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_tails())
            self._joins += 1
            self._read_next(tail)
        tail.readers += 1
        return tail

    def _read_next(self, tail: Tail) -> None:
        """Have the next ``XREAD`` name ``tail``, waking one that is out without it."""
        self._due[tail.key] = tail
        self._wake.set()
        self._stale = True
        if self._reading is not None and not self._unblocking:
            self._unblocking = True
            self._keep(asyncio.create_task(self._unblock()))

    def leave(self, stream_id: str, tail: Tail) -> None:
        """A reader of ``tail`` is done; the last one stops its reading."""
        tail.readers -= 1
        if tail.readers == 0:
            if self._tails.get(stream_id) is tail:
                del self._tails[stream_id]
            self._drop(tail)

    def _drop(self, tail: Tail) -> None:
        """Stop reading ``tail`` (ended, failed or left)."""
        if self._live.get(tail.key) is tail:
            del self._live[tail.key]
        if self._due.get(tail.key) is tail:
            del self._due[tail.key]

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def fail(self, tail: Tail, exc: Exception) -> None:
        """End ``tail`` on a store failure: its readers get ``store_unavailable``."""
        level = logging.DEBUG if isinstance(exc, StoreUnavailable) else logging.WARNING
        log.log(level, "journal %s unreadable: %s", tail.stream_id, exc)
        tail.failed = True
        tail.notify()
        self._drop(tail)

    async def _read_tails(self) -> None:
        """The reader: one ``XREAD`` of the doorbell and the due tails at a time."""
        try:
            while True:
                if not self._live:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                now = time.monotonic()
                if now >= self._check_at:
                    self._check_leases(now)
                if now >= self._sweep_at:
                    self._due.update(self._live)
                    self._sweep_at = now + self.read_block
                direct = len(self._live) <= DIRECT_TAILS
                if direct:
                    self._ring = None
                    tails, self._due, self._stale = dict(self._live), {}, False
                else:
                    if self._ring is None:
                        self._due.update(self._live)
                    tails, self._due, self._stale = self._due, {}, False
                block = ms(min(self.read_block, self._check_at - now, self._sweep_at - now))
                try:
                    reply = await call(
                        functools.partial(self._xread, tails, block, rung=not direct),
                        self._health,
                        self._watchdog,
                        extra=block / 1000,
                    )
                except StoreUnavailable as exc:
                    self._ring = None
                    for tail in list(self._live.values()):
                        self.fail(tail, exc)
                    continue
                if reply and not self._deliver(tails, reply):
                    await self._pause()
        finally:
            conn, self._reader_conn, self._reader_id = self._reader_conn, None, None
            if conn is not None:
                await self._redis.connection_pool.release(conn)

    async def _xread(self, tails: dict[bytes, Tail], block: int, *, rung: bool) -> Any:
        """One ``XREAD`` on the reader's connection (packed here: it may name many streams);
        ``rung``: it names the doorbell too."""
        try:
            if self._reader_conn is None:
                self._reader_conn = await self._redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            conn = self._reader_conn
            if self._reader_id is None:
                await conn.send_command("CLIENT", "ID")
                self._reader_id = int(await conn.read_response())
            keys = [tail.packed_key for tail in tails.values()]
            cursors = [tail.cursor for tail in tails.values()]
            if rung:
                if self._ring is None:
                    await conn.send_command("XREVRANGE", self._doorbell, "+", "-", "COUNT", 1)
                    last = await conn.read_response(disable_decoding=True)
                    self._ring = bulk(last[0][0] if last else b"0-0")
                keys.insert(0, self._packed_doorbell)
                cursors.insert(0, self._ring)
            head = b"*%d\r\n$5\r\nXREAD\r\n$5\r\nCOUNT\r\n%s$5\r\nBLOCK\r\n%s$7\r\nSTREAMS\r\n" % (
                6 + 2 * len(keys),
                bulk(b"%d" % self.read_batch),
                bulk(b"%d" % block),
            )
            parts = [head, *keys, *cursors]
            self._reading = tails
            try:
                await conn.send_packed_command(b"".join(parts), check_health=False)
                return await conn.read_response(disable_decoding=True)
            finally:
                self._reading = None
        except BaseException:
            self._reader_id = None
            raise

    def seen(self, script_call: AppendCall, reply: Any) -> None:
        """The final reply of each append of this process, in the order Redis ran them: the
        events of one that went in whole go to the journal's tail; after any other the tail
        reads (some may have gone in)."""
        _, _, _, key, events = script_call
        if type(reply) is list and reply[0] == 0:
            self.appended(key, int(reply[1]) + 1 - len(events), events)
        else:
            self.read_soon(key)

    def appended(self, key: bytes, first: int, events: Sequence[Event]) -> None:
        """This process appended ``events`` (seqs ``first``, ...) to the journal at ``key``:
        hand them to its tail at once rather than read them back. A tail that has some of
        them takes the rest; one that lacks events before ``first`` takes none and reads."""
        tail = self._live.get(key)
        if tail is None:
            return
        skip = tail.base + len(tail.events) - first
        if skip < 0:
            self._read_next(tail)
            return
        if skip >= len(events):
            return
        new = events[skip:] if skip else events
        if tail.readers == 1:
            tail.events.extend([e.text if type(e) is Text else e for e in new])
        else:
            tail.events.extend(new)
        tail.cursor = bulk(b"%d-1" % (first + len(events) - 1))
        tail.due = time.monotonic() + self.read_block
        tail.fed = True
        tail.notify()
        if is_terminal(new[-1]):
            self._drop(tail)

    def read_soon(self, key: bytes) -> None:
        """An append of this process to the journal at ``key`` may have put in events it did
        not hand over (``appended``): its tail reads them."""
        tail = self._live.get(key)
        if tail is not None:
            self._read_next(tail)

    def _deliver(self, tails: dict[bytes, Tail], reply: Any) -> bool:
        """Note the rings; hand each stream's entries to its tail (if it still follows that
        stream), but those it has already (``appended``). False when the reply brought
        nothing: no entry a tail lacked, no ring of another process, no tail due."""
        due = time.monotonic() + self.read_block
        live = self._live
        fresh = False
        for key, entries in reply.items() if isinstance(reply, dict) else reply:
            if key == self._doorbell:
                self._ring = bulk(entries[-1][0])
                for _, fields in entries:
                    own = fields[1] == self._ringer  # a ring of this process's appends
                    fresh = fresh or not own
                    for rung in fields[1::2]:
                        tail = live.get(rung)
                        if tail is not None and not (own and tail.fed):
                            self._due[rung] = tail
                            fresh = True
                continue
            tail = tails.get(key)
            if tail is None or not entries or live.get(key) is not tail:
                continue
            if len(entries) >= self.read_batch:
                self._due[key] = tail
            skip = tail.base + len(tail.events) - int(entries[0][0][:-2])  # ids: b"<seq>-1"
            if skip > 0:
                entries = entries[skip:]
                if not entries:
                    continue
            fresh = True
            decode = _entry if tail.readers == 1 else loads
            tail.events.extend([decode(fields[1]) for _, fields in entries])
            tail.cursor = bulk(entries[-1][0])
            tail.due = due
            tail.notify()
            if is_terminal(tail.events[-1]):
                self._drop(tail)
        return fresh

    async def _pause(self) -> None:
        """After a read that brought nothing, wait ``RING_PAUSE`` s before the next one (at
        once when a tail comes or must be read): each pipeline of this process's appends
        rings the doorbell, and reading each ring would cost a round trip for nothing."""
        if self._due or self._stale:
            return
        self._wake.clear()
        timer = asyncio.get_running_loop().call_later(RING_PAUSE, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    async def _unblock(self) -> None:
        """Wake the reader from an ``XREAD`` that misses a new tail (``CLIENT UNBLOCK``).

        Asks again, a few times over some milliseconds, while the reader has not issued a new
        ``XREAD`` since the tail came: an ``UNBLOCK`` may reach Redis before that ``XREAD``.
        A tail that comes meanwhile starts the count again (it would otherwise wait a whole
        ``read_block`` once the attempts run out)."""
        try:
            attempt, joins = 0, self._joins
            while attempt < 8:
                if joins != self._joins:
                    attempt, joins = 0, self._joins
                attempt += 1
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
        """Start one lease check of every live tail that got nothing for ``read_block``."""
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
        if due:
            self._keep(asyncio.create_task(self._check_leases_of(due)))

    async def range(
        self, stream_id: str, key: bytes, first: int, last: int
    ) -> AsyncGenerator[Event, None]:
        """Events ``first``..``last`` of a journal, by ``XRANGE`` (``StoreUnavailable``
        when some are missing)."""
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

    async def _check_leases_of(self, tails: list[Tail]) -> None:
        """Append ``producer_lost`` where the lease is gone (the appends join the others')."""
        try:
            try:
                failures = await self._lost([tail.stream_id for tail in tails])
            except StoreUnavailable as exc:
                failures = [exc] * len(tails)
            for tail, failure in zip(tails, failures, strict=True):
                if failure is not None:
                    self.fail(tail, failure)
        finally:
            again = time.monotonic() + self.read_block
            for tail in tails:
                tail.checking = False
                tail.due = max(tail.due, again)
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
        self._due.clear()
