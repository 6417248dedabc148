"""``Watchdog``: a time limit on repeated awaits, with one timer instead of one per await.

``asyncio.timeout`` creates and cancels a timer on every use, which costs more than the
await it guards when that await is one token of a stream. A watchdog keeps a single timer
per stream: each guarded await records when it began (``begin``) and clears it when it ends
(``end``); the timer looks every ``limit`` seconds and cancels the awaiting task when the
current await has lasted ``limit`` seconds. Its cancellation is told apart from any other
as ``asyncio.timeout`` does it, with ``Task.uncancel`` (``expired``). ``idle_limited`` puts
one on every item of an async iterable: a source silent for too long raises ``SourceFailed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any, TypeVar

from surestream.errors import SourceFailed
from surestream.events import ErrorCode

__all__ = ["Watchdog", "idle_limited", "idle_timeout"]

T = TypeVar("T")


class Watchdog:
    """Cancels the task of a guarded await once that await has lasted ``limit`` seconds.

    ``limit`` None: never cancels. Create it inside the task's event loop; call ``close``
    when done (it cancels the timer).
    """

    __slots__ = ("_cancelling", "_fired", "_limit", "_loop", "_since", "_task", "_timer")

    def __init__(self, limit: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit or 0.0
        self._since: float | None = None
        self._task: asyncio.Task[Any] | None = None
        self._fired = False
        self._cancelling = 0
        self._timer: asyncio.TimerHandle | None = None
        if limit is not None:
            self._timer = self._loop.call_later(limit, self._look)

    def begin(self, now: float | None = None, task: asyncio.Task[Any] | None = None) -> None:
        """A guarded await starts ``now`` (the loop's time, read when None) in ``task`` (the
        current task when None): a caller that knows both spares the look-ups per await."""
        self._task = asyncio.current_task() if task is None else task
        self._since = self._loop.time() if now is None else now

    def end(self) -> None:
        """The guarded await is over (whatever its outcome)."""
        self._since = None

    def expired(self) -> bool:
        """After a ``CancelledError`` from a guarded await: True when this watchdog caused it
        and nobody else cancelled the task too (then the error must not propagate)."""
        task = self._task
        if not self._fired or task is None:
            return False
        self._fired = False
        return task.uncancel() <= self._cancelling

    def close(self) -> None:
        """Stop watching."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _look(self) -> None:
        since, now, task = self._since, self._loop.time(), self._task
        if since is not None and now - since >= self._limit and task is not None:
            self._timer = None
            self._fired = True
            self._cancelling = task.cancelling()
            task.cancel()
            return
        again = (now if since is None else since) + self._limit
        self._timer = self._loop.call_at(again, self._look)


def idle_timeout(limit: float | None, what: str) -> SourceFailed:
    """The failure of a source silent for ``limit`` seconds (``idle_limited``'s)."""
    message = f"{what} sent nothing for {limit:g} s (idle_timeout)"
    return SourceFailed(ErrorCode.IDLE_TIMEOUT, message)


async def idle_limited(
    source: AsyncIterable[T], limit: float | None, what: str = "the source"
) -> AsyncGenerator[T, None]:
    """The items of ``source``; ``SourceFailed("idle_timeout")`` once it has been silent for
    ``limit`` seconds (None: never), which also cancels the await inside ``source``.

    ``source`` is closed (``aclose``) however this generator ends.
    """
    iterator = aiter(source)
    watchdog = Watchdog(limit)
    try:
        while True:
            watchdog.begin()
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if not watchdog.expired():
                    raise
                raise idle_timeout(limit, what) from None
            finally:
                watchdog.end()
            yield item
    finally:
        watchdog.close()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
