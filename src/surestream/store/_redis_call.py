"""How ``RedisStore`` bounds and classifies one Redis call, shared by its three parts.

Strategy: every call has a socket timeout and redis-py's own retries are off, so a call
ends in bounded time; ``call`` repeats it once when it failed in a way that is safe to
repeat (a connection gone stale while Redis restarted) and turns any failure into
``StoreUnavailable``: a Redis that cannot be reached, and equally one that answers with an
error reply (``-OOM`` when it is full under ``noeviction``, ``-READONLY`` after it was
demoted to a replica, or any other). ``Health`` turns the failures of many calls into one
log line per incident: the first failure is a warning, the rest are debug lines until a
write succeeds again, which is one more line. The RESP helpers here pack the commands that
are built by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.exceptions

from surestream.store.base import StoreUnavailable

__all__ = ["FAILURES", "STALE", "UNSURE", "Health", "bulk", "call", "copy_exception", "ms"]

log = logging.getLogger("surestream.store")

_T = TypeVar("_T")

FAILURES = (redis.exceptions.RedisError, OSError)
"""What a Redis call may raise that means the store is unavailable: no answer in time, no
connection, or an error reply (``ResponseError``: ``-OOM``, ``-READONLY``, ...)."""

STALE: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
"""Failures after which any call may be repeated: the command never reached Redis."""

UNSURE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
"""Failures after which only an idempotent call may be repeated: it may have run."""


def describe(exc: BaseException) -> str:
    """A one-line account of a failed call, for the log (never for an HTTP body)."""
    text = " ".join(str(exc).split())[:200]
    return f"redis: {type(exc).__name__}: {text}" if text else f"redis: {type(exc).__name__}"


class Health:
    """What the last calls of one store said: ``ok`` after a successful write, not after a
    failure. Logs one warning when an incident starts and one line when it ends: a write
    that began after the incident began succeeded (a call already in flight when Redis
    started refusing may still succeed, and must not end the incident)."""

    __slots__ = ("failures", "incident", "ok", "since")

    def __init__(self) -> None:
        self.ok = False
        """True once a write succeeded and no call failed since (unknown at first)."""
        self.failures = 0
        """Failed calls in the incident under way (0: none is)."""
        self.incident = 0
        """Incidents so far; a call notes it when it starts."""
        self.since = 0.0

    def failed(self, reason: str) -> None:
        """A call failed: the first failure of an incident is logged, the rest at debug."""
        self.ok = False
        self.failures += 1
        if self.failures == 1:
            self.incident += 1
            self.since = time.monotonic()
            log.warning("stream store unavailable: %s", reason)
        else:
            log.debug("stream store still unavailable: %s", reason)

    def wrote(self, began: int) -> None:
        """A write that began during incident ``began`` succeeded."""
        if not self.failures:
            self.ok = True
        elif began == self.incident:
            self.ok = True
            log.warning(
                "stream store available again after %.1f s (%d failed calls)",
                time.monotonic() - self.since,
                self.failures,
            )
            self.failures = 0


async def call(
    command: Callable[[], Awaitable[_T]],
    health: Health,
    *,
    retry: tuple[type[Exception], ...] = STALE,
    write: bool = False,
) -> _T:
    """Run ``command``; once more on ``retry`` errors (a connection gone stale while Redis
    restarted); any failure becomes ``StoreUnavailable`` and is reported to ``health``, as
    is the success of a ``write``. A cancellation that redis-py swallowed (Python 3.11's
    ``wait_for`` loses one that meets a finished send) is raised again, so a cancelled
    caller (the hub's ticker) does stop."""
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    began = health.incident
    try:
        try:
            result = await command()
        except retry:
            result = await command()
    except FAILURES as exc:
        if task is not None and task.cancelling() > cancels:
            raise asyncio.CancelledError from exc
        reason = describe(exc)
        health.failed(reason)
        raise StoreUnavailable(reason) from exc
    if task is not None and task.cancelling() > cancels:
        raise asyncio.CancelledError
    if write and not health.ok:
        health.wrote(began)
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
