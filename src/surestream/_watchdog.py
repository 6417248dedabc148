"""``Watchdog``: a time limit on repeated awaits, with one timer instead of one per await.

``asyncio.timeout`` creates and cancels a timer on every use, which costs more than the
await it guards when that await is one token of a stream. A watchdog keeps a single timer
per stream: each guarded await records when it began (``begin``) and clears it when it ends
(``end``); the timer looks every ``limit`` seconds and cancels the awaiting task when the
current await has lasted ``limit`` seconds. Its cancellation is told apart from any other
as ``asyncio.timeout`` does it, with ``Task.uncancel`` (``expired``).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Watchdog"]


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

    def begin(self) -> None:
        """A guarded await starts now, in the current task."""
        self._task = asyncio.current_task()
        self._since = self._loop.time()

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
