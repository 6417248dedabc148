"""``Subscription``: one reader of a stream, as the hub hands it out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from surestream._closing import AsyncClosing, aclose_if_any
from surestream.events import Event
from surestream.store.base import PushSink

if TYPE_CHECKING:
    from surestream.hub._hub import Hub

__all__ = ["Subscription"]


class Subscription(AsyncClosing):
    """One subscriber of a stream: an async iterator of ``(seq, event)``.

    Replays the journal after the resume point, then follows live, and stops after the
    terminal event. Close it (``aclose`` or ``async with``) when the connection goes away;
    while it is open it counts as a subscriber for orphan detection. A reader that can take
    events without awaiting (``EventStreamResponse``) may ask for them to be pushed
    (``push_to``).
    """

    __slots__ = ("_closed", "_hub", "_inner", "_returned", "stream_id")

    def __init__(self, hub: Hub, stream_id: str, inner: AsyncIterator[tuple[int, Event]]) -> None:
        self.stream_id = stream_id
        self._returned = 0
        self._hub = hub
        self._inner = inner
        self._closed = False

    @property
    def delivered(self) -> int:
        """Events this subscription has handed on so far (returned or pushed)."""
        pushed: int = getattr(self._inner, "pushed", 0)
        return self._returned + pushed

    def __aiter__(self) -> Subscription:
        return self

    def push_to(self, sink: PushSink) -> bool:
        """While the reader is caught up, have each new event handed to ``sink`` in the task
        that journals it instead of returned by ``__anext__`` (which then waits until the sink
        refuses one, or the stream ends): one task wakes per event instead of two. True when
        the store can (the MemoryStore's journals); the events stay in order and exactly once
        either way."""
        push_to = getattr(self._inner, "push_to", None)
        return push_to is not None and bool(push_to(sink))

    async def __anext__(self) -> tuple[int, Event]:
        if self._closed:
            raise StopAsyncIteration
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        self._returned += 1
        return item

    async def aclose(self) -> None:
        """Stop reading; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await aclose_if_any(self._inner)
        finally:
            await self._hub._unwatch(self.stream_id)
