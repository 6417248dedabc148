"""``AppendPipeline``: the appends of all of a ``RedisStore``'s streams, coalesced.

Strategy: an append queues its script call (keys then args) with ``submit`` and awaits its
own reply; one flusher task sends everything queued in one pipeline (``EVALSHA`` each, the
script loaded on ``NOSCRIPT``) and, while that round trip is out, the next batch collects,
so under load one round trip carries the appends of many streams and at most one append
pipeline is in flight. Each pipeline ends with one ``XADD`` to the store's *doorbell*
stream naming the journals it appended to (``XADD {p}doorbell MAXLEN ~ 1000 * k <events
key> k <events key> ...``): Redis runs it after the appends, so a tail reader that sees the
ring finds their entries (``surestream.store._redis_tails``). The flusher's pipeline is
held to the store's call time limit (``CallWatchdog``), so a caller awaiting its reply
needs no limit of its own. A failed pipeline fails each of its calls as a single failed
call would (each caller gets its own copy of the exception).
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from surestream.store._redis_call import CallWatchdog, copy_exception
from surestream.store.base import StoreUnavailable

__all__ = ["DOORBELL_LENGTH", "AppendPipeline"]

DOORBELL_LENGTH = 1000
"""Rings the doorbell stream keeps (about; ``MAXLEN ~``): a reader further behind misses
some and finds their entries at its next full sweep."""


class AppendPipeline:
    """Sends queued calls of one Lua script (over five keys) in one pipeline at a time.

    ``script`` is the registered script, ``source`` its text (loaded again on ``NOSCRIPT``);
    the first key of each call is the journal's events key, rung on ``doorbell``;
    ``watchdog`` bounds each pipeline.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        script: AsyncScript,
        source: str,
        doorbell: bytes,
        watchdog: CallWatchdog,
    ) -> None:
        self._redis = redis
        self._doorbell = doorbell
        self._watchdog = watchdog
        self._script = script
        self._source = source
        self._queue: list[tuple[list[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, call: list[Any]) -> asyncio.Future[Any]:
        """Queue one script call (its keys then args) for the next pipeline."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((call, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        """Send the queued calls, one pipeline at a time, until the queue is empty."""
        batch: list[tuple[list[Any], asyncio.Future[Any]]] = []
        try:
            while self._queue:
                batch = [item for item in self._queue if not item[1].done()]
                self._queue = []
                if not batch:
                    continue
                replies = await self._bounded_pipeline([call for call, _ in batch])
                for (_, future), reply in zip(batch, replies, strict=True):
                    if future.done():
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
                batch = []
        finally:
            self._flusher = None
            for _, future in batch + self._queue:
                if not future.done():
                    future.set_exception(StoreUnavailable("the store is closing"))
            self._queue = []

    async def _bounded_pipeline(self, calls: list[list[Any]]) -> list[Any]:
        """``_pipeline`` within the watchdog's limit; a failure as one exception per call."""
        watchdog = self._watchdog
        guard = watchdog.arm()
        failure: Exception
        try:
            return await self._pipeline(calls)
        except asyncio.CancelledError:
            if not watchdog.expired(guard):
                raise
            failure = redis.exceptions.TimeoutError(f"no answer within {watchdog.limit:g} s")
        except Exception as exc:
            failure = exc
        finally:
            watchdog.disarm(guard)
        return [copy_exception(failure) for _ in calls]

    async def _pipeline(self, calls: list[list[Any]]) -> list[Any]:
        """Run the script once per call in one pipeline; load it on ``NOSCRIPT``."""
        script = self._script
        replies = await self._evalsha(script.sha, calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            script.sha = await self._redis.script_load(self._source)
            again = await self._evalsha(script.sha, [calls[i] for i in missing])
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        return replies

    async def _evalsha(self, sha: str, calls: list[list[Any]]) -> list[Any]:
        """The calls, then their ring (whose reply is dropped: a ring that failed is made
        up for by the readers' full sweep)."""
        ring: list[Any] = ["XADD", self._doorbell, "MAXLEN", "~", DOORBELL_LENGTH, "*"]
        for call in calls:
            ring += (b"k", call[0])
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.execute_command("EVALSHA", sha, 5, *call)
            pipe.execute_command(*ring)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies[:-1]

    async def aclose(self) -> None:
        """Stop the flusher; calls still queued fail with ``StoreUnavailable``."""
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
