"""``AsyncClosing``: ``async with`` returns the object and closes it, even on an error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from surestream._closing import AsyncClosing
from surestream.events import Event, Text
from surestream.upstream.demo import DemoStream

pytestmark = pytest.mark.anyio


class Resource(AsyncClosing):
    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_async_with_gives_the_object_and_closes_it_on_the_way_out() -> None:
    resource = Resource()
    async with resource as entered:
        assert entered is resource and resource.closed == 0
    assert resource.closed == 1
    with pytest.raises(RuntimeError):
        async with resource:
            raise RuntimeError("boom")
    assert resource.closed == 2


async def test_a_demo_stream_left_early_closes_its_generator() -> None:
    finished: list[str] = []

    async def events() -> AsyncIterator[Event]:
        try:
            yield Text("a")
            yield Text("b")
        finally:
            finished.append("closed")

    async with DemoStream(events()) as stream:
        async for event in stream:
            assert event == Text("a")
            break
    assert finished == ["closed"]
