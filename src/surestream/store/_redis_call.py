"""How ``RedisStore`` bounds and classifies one Redis call, shared by its three parts.

Strategy: every call has a socket timeout and redis-py's own retries are off, so a call
ends in bounded time; ``call`` repeats it once when it failed in a way that is safe to
repeat (a connection gone stale while Redis restarted) and turns any failure into
``StoreUnavailable``. The RESP helpers here pack the commands that are built by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.exceptions

from surestream.store.base import StoreUnavailable

__all__ = ["FAILURES", "STALE", "UNSURE", "bulk", "call", "copy_exception", "ms"]

_T = TypeVar("_T")

FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
"""What a Redis call may raise that means the store is unavailable."""

STALE: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
"""Failures after which any call may be repeated: the command never reached Redis."""

UNSURE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
"""Failures after which only an idempotent call may be repeated: it may have run."""


async def call(
    command: Callable[[], Awaitable[_T]], *, retry: tuple[type[Exception], ...] = STALE
) -> _T:
    """Run ``command``; once more on ``retry`` errors (a connection gone stale while Redis
    restarted); any failure becomes ``StoreUnavailable``. A cancellation that redis-py
    swallowed (Python 3.11's ``wait_for`` loses one that meets a finished send) is raised
    again, so a cancelled caller (the hub's ticker) does stop."""
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    try:
        try:
            result = await command()
        except retry:
            result = await command()
    except FAILURES as exc:
        if task is not None and task.cancelling() > cancels:
            raise asyncio.CancelledError from exc
        raise StoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
    if task is not None and task.cancelling() > cancels:
        raise asyncio.CancelledError
    return result


def bulk(value: bytes) -> bytes:
    """``value`` as a RESP bulk string (one argument of a packed command)."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def copy_exception(exc: Exception) -> Exception:
    """A fresh exception like ``exc`` for each caller of a failed batch (no shared traceback)."""
    try:
        fresh = type(exc)(*exc.args)
    except Exception:
        return exc
    fresh.__cause__ = exc.__cause__
    return fresh


def ms(seconds: float) -> int:
    """``seconds`` as whole milliseconds, at least 1 (Redis ``PX`` and ``BLOCK`` arguments)."""
    return max(1, int(seconds * 1000))
