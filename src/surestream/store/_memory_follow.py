"""``Follower``: one reader of a ``MemoryStore`` journal, replaying it and following it live.

Strategy: the reader keeps an index into the journal's list. Caught up, it waits on a future
of its own in the journal's waiters, which the next append resolves. Given a sink
(``push_to``), it waits in the journal's followers instead, and each append hands the new
events to the sink at once, in the appending task, so the reader's own task does not wake
per event; it wakes when the sink refuses an event (it then returns that event and those
after it itself, and follows again once caught up), after the terminal event, and when
closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from surestream.events import Event, Text, is_terminal
from surestream.store.base import PushingReader

if TYPE_CHECKING:
    from surestream.store.memory import MemoryStore, _Journal

__all__ = ["Follower"]

log = logging.getLogger("surestream.store")


class Follower(PushingReader):
    """One reader of a journal (``MemoryStore.read``'s iterator; see the module strategy)."""

    __slots__ = ("_closed", "_parked", "journal", "pos", "store", "stream_id")

    def __init__(self, store: MemoryStore, stream_id: str, journal: _Journal, pos: int) -> None:
        super().__init__()
        self.store = store
        self.stream_id = stream_id
        self.journal = journal
        self.pos = pos
        """The seq of the next event to hand on."""
        self._parked: asyncio.Future[None] | None = None
        self._closed = False

    async def __anext__(self) -> tuple[int, Event]:
        journal = self.journal
        events = journal.events
        while True:
            pos = self.pos
            if pos < len(events):
                event = events[pos]
                self.pos = pos + 1
                return (pos, Text(event)) if isinstance(event, str) else (pos, event)
            if journal.terminal or self._closed:
                raise StopAsyncIteration
            loop = self.store._looked_after(self.stream_id, journal)
            waiter: asyncio.Future[None] = loop.create_future()
            if self.sink is not None:
                self._parked = waiter
                journal.followers.append(self)
                try:
                    await waiter
                finally:
                    self.unpark()
                continue
            journal.waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    journal.waiters.remove(waiter)

    def feed(self, appended: Event | None) -> None:
        """Push the events after ``pos`` to the sink (``appended`` is the last, made
        already); stop following at a refusal or the terminal event."""
        sink = self.sink
        events = self.journal.events
        last = len(events) - 1
        pos = self.pos
        try:
            while pos <= last:
                raw = events[pos]
                if isinstance(raw, str):
                    event: Event = appended if pos == last and appended is not None else Text(raw)
                else:
                    event = raw
                if sink is None or not sink(pos, event):
                    break
                pos += 1
                self.pos = pos
                self.pushed += 1
                if is_terminal(event):
                    break
            else:
                return
        except Exception:
            log.exception("stream %s: a reader's sink failed", self.stream_id)
        self.unpark()

    def unpark(self) -> None:
        """Stop following: the reader's task wakes and reads on by itself."""
        parked = self._parked
        if parked is not None:
            self._parked = None
            self.journal.followers.remove(self)
            if not parked.done():
                parked.set_result(None)

    async def aclose(self) -> None:
        """Stop reading (idempotent)."""
        self._closed = True
        self.unpark()
