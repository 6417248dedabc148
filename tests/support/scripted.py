"""``ScriptedModel``: an upstream that answers every request with the same list of events.

For the front-end tests that need events no real upstream of the suite sends yet (reasoning,
tool calls, tool results, steps): the gateway journals and encodes them like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from surestream.events import Event
from surestream.upstream import ChatRequest, ModelInfo
from surestream.upstream.demo import DemoStream


class ScriptedModel:
    """An ``Upstream`` whose answer is ``events`` (ending with ``Done``), ``pause`` s apart."""

    def __init__(self, events: Sequence[Event], *, pause: float = 0.0, name: str = "scripted"):
        self.events = tuple(events)
        self.pause = pause
        self.name = name

    async def open(self, request: ChatRequest) -> DemoStream:
        """The scripted answer, whatever ``request`` asks."""
        return DemoStream(self._events())

    async def _events(self) -> AsyncIterator[Event]:
        for event in self.events:
            await asyncio.sleep(self.pause)
            yield event

    async def models(self) -> list[ModelInfo]:
        """The one model this upstream serves."""
        return [ModelInfo(self.name)]

    async def aclose(self) -> None:
        """Nothing to release."""
