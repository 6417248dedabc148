"""``Watchdog``: one timer per stream cancels a guarded await that lasts too long."""

from __future__ import annotations

import asyncio

import pytest

from surestream._watchdog import Watchdog

pytestmark = pytest.mark.anyio


async def _guarded(watchdog: Watchdog, awaitable: asyncio.Future[object]) -> str:
    watchdog.begin()
    try:
        await awaitable
    except asyncio.CancelledError:
        if watchdog.expired():
            return "expired"
        raise
    finally:
        watchdog.end()
    return "completed"


async def test_an_await_longer_than_the_limit_is_cancelled_and_told_apart() -> None:
    watchdog = Watchdog(0.05)
    never: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    try:
        assert await _guarded(watchdog, never) == "expired"
    finally:
        watchdog.close()
    assert never.cancelled()
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_many_short_awaits_that_add_up_past_the_limit_are_not_cancelled() -> None:
    watchdog = Watchdog(0.1)
    try:
        for _ in range(12):  # 12 x 20 ms: twice the limit in all, each step well under it
            assert await _guarded(watchdog, asyncio.ensure_future(asyncio.sleep(0.02))) == (
                "completed"
            )
    finally:
        watchdog.close()


async def test_time_between_guarded_awaits_does_not_count() -> None:
    watchdog = Watchdog(0.05)
    try:
        await asyncio.sleep(0.15)  # not guarded: the watchdog looks, sees nothing under way
        assert await _guarded(watchdog, asyncio.ensure_future(asyncio.sleep(0))) == "completed"
    finally:
        watchdog.close()


async def test_a_cancellation_from_elsewhere_propagates() -> None:
    watchdog = Watchdog(10.0)
    never: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(_guarded(watchdog, never))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    watchdog.close()


async def test_a_cancellation_from_elsewhere_wins_over_an_expiry_at_the_same_time() -> None:
    watchdog = Watchdog(0.05)
    never: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    tasks: list[asyncio.Future[str]] = []
    # Runs before the task wakes up from the watchdog's cancellation: a second cancel.
    never.add_done_callback(lambda _: tasks[0].cancel())
    tasks.append(asyncio.ensure_future(_guarded(watchdog, never)))
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    watchdog.close()


async def test_no_limit_never_cancels() -> None:
    watchdog = Watchdog(None)
    assert await _guarded(watchdog, asyncio.ensure_future(asyncio.sleep(0.05))) == "completed"
    watchdog.close()
