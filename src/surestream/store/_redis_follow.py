"""``Tail`` and ``Follower``: this process's live copy of a Redis journal and its readers.

Strategy: readers of one stream in one process share a ``Tail``, an in-process list of the
journal's events from seq ``base`` on that the store's one reader task fills, and this
process's appends from their replies (``surestream.store._redis_tails``). Each reader is a
``Follower`` with an index into that list, as in the ``MemoryStore``; one that resumes
before ``base`` reads that gap with ``XRANGE`` first. Caught up, a follower waits on a
future of its own in the tail's ``waiters``, which the task that adds events resolves.
Given a sink (``push_to``), it waits in the tail's ``followers`` instead, and the task that
adds events hands each new one to the sink at once, so the reader's task does not wake per
event; it wakes when the sink refuses one (it then returns that event and those after it
itself, and follows again once caught up), after the terminal event, when the tail fails
and when closed.

The hand-overs: the task that adds events extends ``events`` before it calls ``notify``
(and sets ``failed`` before it, on a failure), and a follower looks at ``events`` and
``failed`` after it wakes, before it waits again, so nothing added between its look and its
wait is missed (one task runs at a time; a follower registers its waiter in the step that
looked).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from surestream.events import Error, ErrorCode, Event, Text, is_terminal
from surestream.store._redis_call import bulk
from surestream.store.base import PushingReader, StoreUnavailable

if TYPE_CHECKING:
    from surestream.store._redis_tails import TailReader

__all__ = ["Follower", "Tail", "unavailable"]

log = logging.getLogger("surestream.store")


def unavailable() -> Error:
    """The error a reader gets when the store fails under it (not journaled)."""
    return Error.of(ErrorCode.STORE_UNAVAILABLE, "the stream store is unavailable")


class Tail:
    """This process's live copy of one journal from seq ``base`` on, shared by its readers.

    The store's reader task fills ``events`` (decoding each entry once) from the Redis entry
    after ``cursor``, and this process's appends from their replies; it ends at the terminal
    event or on a store failure (``failed``).
    ``due``: when its lease check is due.
    """

    __slots__ = (
        "base",
        "checking",
        "cursor",
        "due",
        "events",
        "failed",
        "fed",
        "followers",
        "key",
        "packed_key",
        "readers",
        "stream_id",
        "waiters",
    )

    def __init__(self, stream_id: str, key: bytes, base: int, due: float) -> None:
        self.stream_id = stream_id
        self.key = key
        self.packed_key = bulk(key)
        self.base = base
        self.cursor = bulk(f"{base - 1}-1".encode() if base > 0 else b"0-0")
        self.due = due
        self.checking = False
        self.events: list[Event | str] = []
        """The events from ``base`` on, each ``Text`` as its ``str``."""
        self.failed = False
        self.fed = False
        """This process's appends come to it as they go in (``TailReader.appended``): a ring
        of its own need not have it read."""
        self.readers = 0
        self.waiters: list[asyncio.Future[None]] = []
        """Caught-up readers that read for themselves."""
        self.followers: list[Follower] = []
        """Caught-up readers whose new events go to their sink."""

    def notify(self) -> None:
        """Events were added (or the tail failed): wake the waiting readers, push to the
        following ones."""
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if self.followers:
            for follower in list(self.followers):
                follower.feed()


class Follower(PushingReader):
    """One reader of a stream from seq ``pos`` on (``RedisStore.read``'s iterator).

    It joins the stream's tail (``tails.join``) when first iterated, as an async generator's
    body starts then: a reader made and dropped unread costs the tail nothing. It reads the
    events before the tail's ``base`` with ``tails.range`` (``XRANGE``) first, and leaves the
    tail (``tails.leave``) once: at its end, when closed, or when dropped unclosed.
    """

    __slots__ = (
        "_closed",
        "_done",
        "_gap",
        "_key",
        "_tails",
        "_waiter",
        "pos",
        "stream_id",
        "tail",
    )

    def __init__(self, tails: TailReader, stream_id: str, key: bytes, pos: int) -> None:
        super().__init__()
        self._tails = tails
        self.stream_id = stream_id
        self._key = key
        self.pos = pos
        """The seq of the next event to hand on."""
        self.tail: Tail | None = None
        """The tail it follows, from its first ``__anext__`` until it leaves it."""
        self._gap: AsyncGenerator[Event, None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._done = False
        self._closed = False

    async def __anext__(self) -> tuple[int, Event]:
        tail = self.tail
        if tail is None:
            if self._done or self._closed:
                raise StopAsyncIteration
            tail = self.tail = self._tails.join(self.stream_id, self._key, self.pos)
            if self.pos < tail.base:
                self._gap = self._tails.range(self.stream_id, self._key, self.pos, tail.base - 1)
        if self._gap is not None and not self._done:
            try:
                event = await anext(self._gap)
            except StopAsyncIteration:
                self._gap = None
            except StoreUnavailable as exc:
                log.debug("journal %s unreadable: %s", self.stream_id, exc)
                self._done = True
                return self.pos - 1, unavailable()
            else:
                pos, self.pos = self.pos, self.pos + 1
                return pos, event
        while not (self._done or self._closed):
            pos = self.pos
            index = pos - tail.base
            if index < len(tail.events):
                item = tail.events[index]
                self.pos = pos + 1
                if isinstance(item, str):
                    return pos, Text(item)
                self._done = is_terminal(item)
                return pos, item
            if tail.failed:
                self._done = True
                return pos - 1, unavailable()
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            if self.sink is not None:
                tail.followers.append(self)
            else:
                tail.waiters.append(waiter)
            try:
                await waiter
            finally:
                self._unpark()
        self._leave()
        raise StopAsyncIteration

    def feed(self) -> None:
        """Push the events after ``pos`` to the sink; stop following at a refusal, the
        terminal event or a failed tail (the reader's own task then reads on)."""
        sink, tail = self.sink, self.tail
        if tail is None:
            return
        events, base = tail.events, tail.base
        pos = self.pos
        try:
            while pos - base < len(events):
                item = events[pos - base]
                event = Text(item) if isinstance(item, str) else item
                if sink is None or not sink(pos, event):
                    break
                pos += 1
                self.pos = pos
                self.pushed += 1
                if is_terminal(event):
                    self._done = True
                    break
            else:
                if not tail.failed:
                    return
        except Exception:
            log.exception("stream %s: a reader's sink failed", self.stream_id)
        self._unpark()

    def _unpark(self) -> None:
        """Stop waiting: the reader's task wakes and reads on by itself."""
        waiter, self._waiter = self._waiter, None
        tail = self.tail
        if waiter is None or tail is None:
            return
        if self in tail.followers:
            tail.followers.remove(self)
        elif waiter in tail.waiters:
            tail.waiters.remove(waiter)
        if not waiter.done():
            waiter.set_result(None)

    def _leave(self) -> None:
        tail, self.tail = self.tail, None
        if tail is not None:
            self._done = True
            self._tails.leave(self.stream_id, tail)

    def __del__(self) -> None:
        # A reader dropped unfinished and unclosed leaves its tail as an async generator's
        # finalizer would have, so the tail is not read for nobody.
        self._leave()

    async def aclose(self) -> None:
        """Stop reading (idempotent)."""
        self._closed = True
        self._unpark()
        gap, self._gap = self._gap, None
        if gap is not None:
            await gap.aclose()
        self._leave()
