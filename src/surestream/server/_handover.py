"""Start an await in one task and, should it suspend, finish it in another.

Strategy: ``start`` runs an awaitable (an ASGI ``send``'s coroutine) synchronously up to its first
suspension: a send that does not have to wait (the socket takes the bytes) is then over
without a task switch. One that must wait (flow control) is returned as a ``Resumed``
awaitable, which another task awaits to finish it: it hands on what the coroutine yielded
(a future, or None for a bare yield) to that task's event loop step, exactly as ``yield
from`` would, and the values and exceptions sent back in to the coroutine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any

__all__ = ["Resumed", "start"]


class Resumed:
    """The rest of a coroutine that suspended in one task, for another task to await."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Generator[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self._coro, self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation thrown in goes to the coroutine
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as stop:
                    return stop.value

    def close(self) -> None:
        """Abandon it (the coroutine's ``finally`` blocks run)."""
        self._coro.close()


def start(awaitable: Awaitable[Any]) -> Resumed | None:
    """Run ``awaitable`` until it suspends: None if it finished, else what is left of it.

    Exceptions it raises before suspending propagate.
    """
    coro = awaitable.__await__()
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return Resumed(coro, yielded)
