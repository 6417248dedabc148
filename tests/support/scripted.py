"""Upstreams for front-end tests: ``ScriptedModel`` answers every request with the same
events, ``EchoModel`` answers with the last user message, ``WithTools`` offers tools to a
real model with every request.

``ScriptedModel`` sends what no real upstream of the suite sends yet (reasoning, tool calls,
tool results, steps); ``EchoModel`` lets a test choose the model's text (hostile Markdown)
and splits it anywhere. The gateway journals and encodes both like any other answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from surestream.events import Done, Event, Text
from surestream.upstream import ChatRequest, ModelInfo, OpenedStream, Upstream
from surestream.upstream.demo import DemoStream

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
            "required": ["city"],
        },
    },
}
"""A tool to offer a model (the browser tests' ``demo-tools`` model is offered it with
every request)."""


class ScriptedModel:
    """An ``Upstream`` whose answer is ``events`` (ending with ``Done``), ``pause`` s apart."""

    def __init__(self, events: Sequence[Event], *, pause: float = 0.0, name: str = "scripted"):
        self.events = tuple(events)
        self.pause = pause
        self.name = name

    async def open(self, request: ChatRequest) -> DemoStream:
        """The scripted answer, whatever ``request`` asks."""
        return DemoStream(self._paced(self.events))

    async def _paced(self, events: Sequence[Event]) -> AsyncIterator[Event]:
        for event in events:
            await asyncio.sleep(self.pause)
            yield event

    async def models(self) -> list[ModelInfo]:
        """The one model this upstream serves."""
        return [ModelInfo(self.name)]

    async def aclose(self) -> None:
        """Nothing to release."""


class EchoModel(ScriptedModel):
    """An ``Upstream`` whose answer is the last user message, ``chunk`` characters per ``Text``."""

    def __init__(self, *, chunk: int = 5, pause: float = 0.0, name: str = "echo") -> None:
        super().__init__((), pause=pause, name=name)
        self.chunk = chunk

    async def open(self, request: ChatRequest) -> DemoStream:
        """The last user message of ``request``, echoed."""
        text = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        pieces = [Text(text[i : i + self.chunk]) for i in range(0, len(text), self.chunk)]
        return DemoStream(self._paced([*pieces, Done()]))


class WithTools:
    """An ``Upstream`` that offers ``tools`` with every request to ``upstream`` (the demo model
    calls the first one): a real model's tool call, whatever the client sent."""

    def __init__(self, upstream: Upstream, tools: Sequence[Mapping[str, Any]]) -> None:
        self.upstream = upstream
        self.tools = [dict(tool) for tool in tools]

    async def open(self, request: ChatRequest) -> OpenedStream:
        """``request`` with ``tools``, opened on ``upstream``."""
        params = {**request.params, "tools": self.tools}
        return await self.upstream.open(dataclasses.replace(request, params=params))

    async def models(self) -> list[ModelInfo]:
        """The wrapped upstream's models."""
        return await self.upstream.models()

    async def aclose(self) -> None:
        """Close the wrapped upstream."""
        await self.upstream.aclose()
