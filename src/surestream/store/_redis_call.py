"""How ``RedisStore`` bounds and classifies one Redis call, shared by its three parts.

Strategy: every call has a time limit and redis-py's own retries are off, so a call
ends in bounded time. The limit is not redis-py's socket timeout (with one set, redis-py
wraps every command's send in ``asyncio.wait_for``, a task per command, and its read in a
timer of its own): one ``CallWatchdog`` per store keeps the deadline of every call in flight
and one timer, which cancels the task of a call that overran, as ``asyncio.timeout`` would
(redis-py then drops that call's connection). ``call`` repeats a call once when it failed in
a way that is safe to repeat (a connection gone stale while Redis restarted) and turns any
failure into ``StoreUnavailable``: a Redis that cannot be reached, and equally one that
answers with an error reply (``-OOM`` when it is full under ``noeviction``, ``-READONLY``
after it was demoted to a replica, or any other). ``Health`` turns the failures of many
calls into one log line per incident: the first failure is a warning, the rest are debug
lines until a write succeeds again, which is one more line. The RESP helpers here pack the
commands that are built by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.exceptions

from surestream.store.base import StoreUnavailable

__all__ = [
    "FAILURES",
    "STALE",
    "UNSURE",
    "CallWatchdog",
    "Guard",
    "Health",
    "bulk",
    "call",
    "copy_exception",
    "describe",
    "ms",
]

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


class Guard:
    """The deadline of one call in flight (``CallWatchdog.arm``)."""

    __slots__ = ("cancelling", "fired", "task", "until")

    def __init__(self, task: asyncio.Task[Any], until: float) -> None:
        self.task = task
        self.until = until
        self.fired = False
        """True once the watchdog cancelled ``task`` for this call."""
        self.cancelling = 0
        """``task.cancelling()`` before the watchdog's cancel."""


class CallWatchdog:
    """A time limit of ``limit`` seconds on every call of one store, with one timer.

    ``arm`` notes a call's deadline (``limit`` plus any ``extra``, such as the ``BLOCK`` of
    an ``XREAD``) in the current task, ``disarm`` forgets it. The timer runs only while
    calls are in flight, at the earliest deadline; it cancels the task of each call past
    its deadline. ``expired`` tells that cancellation from any other (``Task.uncancel``).
    """

    __slots__ = ("_guards", "_timer", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._guards: dict[Guard, None] = {}
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, extra: float = 0.0) -> Guard | None:
        """Start the clock of a call in the current task (None outside a task)."""
        task = asyncio.current_task()
        if task is None:
            return None
        loop = task.get_loop()
        guard = Guard(task, loop.time() + self.limit + extra)
        self._guards[guard] = None
        if self._timer is None:
            self._timer = loop.call_at(guard.until, self._look)
        return guard

    def disarm(self, guard: Guard | None) -> None:
        """The call is over, whatever its outcome."""
        if guard is not None:
            self._guards.pop(guard, None)

    def expired(self, guard: Guard | None) -> bool:
        """After the call of ``guard`` ended: True when the watchdog cancelled its task and
        nobody else did (the cancellation is then withdrawn and must not propagate)."""
        if guard is None or not guard.fired:
            return False
        guard.fired = False
        return guard.task.uncancel() <= guard.cancelling

    def _look(self) -> None:
        self._timer = None
        if not self._guards:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        earliest = float("inf")
        for guard in list(self._guards):
            if guard.until <= now:
                del self._guards[guard]
                guard.fired = True
                guard.cancelling = guard.task.cancelling()
                guard.task.cancel()
            elif guard.until < earliest:
                earliest = guard.until
        if self._guards:
            self._timer = loop.call_at(earliest, self._look)

    def close(self) -> None:
        """Stop the timer (the store is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._guards.clear()


async def call(
    command: Callable[[], Awaitable[_T]],
    health: Health,
    watchdog: CallWatchdog | None,
    *,
    retry: tuple[type[Exception], ...] = STALE,
    write: bool = False,
    extra: float = 0.0,
) -> _T:
    """Run ``command`` within ``watchdog``'s limit (plus ``extra`` seconds; None: a call
    whose ``command`` is bounded by a watchdog elsewhere); once more on ``retry`` errors (a
    connection gone stale while Redis restarted). Any failure, an overrun included, becomes
    ``StoreUnavailable`` and is reported to ``health``, as is the success of a ``write``. A
    cancellation that redis-py swallowed is raised again, so a cancelled caller (the hub's
    ticker) does stop."""
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    began = health.incident
    guard = watchdog.arm(extra) if watchdog is not None else None
    failure: BaseException | None
    try:
        try:
            result = await command()
        except retry:
            result = await command()
    except (asyncio.CancelledError, *FAILURES) as exc:
        failure = exc
    else:
        failure = None
    finally:
        if watchdog is not None:
            watchdog.disarm(guard)
    if watchdog is not None and watchdog.expired(guard):
        limit = watchdog.limit + extra
        failure = redis.exceptions.TimeoutError(f"no answer within {limit:g} s")
    elif task is not None and task.cancelling() > cancels:
        raise asyncio.CancelledError from failure
    elif isinstance(failure, asyncio.CancelledError):
        raise failure
    if failure is not None:
        reason = describe(failure)
        health.failed(reason)
        raise StoreUnavailable(reason) from failure
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
