"""``Subscription``: one reader of a stream, as the hub hands it out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from surestream._closing import AsyncClosing, aclose_if_any
from surestream.events import Event

if TYPE_CHECKING:
    from surestream.hub._hub import Hub

__all__ = ["Subscription"]


class Subscription(AsyncClosing):
    """One subscriber of a stream: an async iterator of ``(seq, event)``.

    Replays the journal after the resume point, then follows live, and stops after the
    terminal event. Close it (``aclose`` or ``async with``) when the connection goes away;
    while it is open it counts as a subscriber for orphan detection.
    """

    __slots__ = ("_closed", "_hub", "_inner", "delivered", "stream_id")

    def __init__(self, hub: Hub, stream_id: str, inner: AsyncIterator[tuple[int, Event]]) -> None:
        self.stream_id = stream_id
        self.delivered = 0
        """Events this subscription has returned so far."""
        self._hub = hub
        self._inner = inner
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[int, Event]:
        if self._closed:
            raise StopAsyncIteration
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        self.delivered += 1
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
