"""An OpenAI Agents SDK agent whose model is ``FakeUpstream`` over Chat Completions.

Tracing is off (it would export to OpenAI); the model asks for usage in the stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from surestream.events import Event
from surestream.integrations.openai_agents import openai_agents_events
from tests.integrations import fakes
from tests.integrations.upstream_fake import WatchedFake

set_tracing_disabled(True)


@function_tool
def get_weather(city: str) -> dict[str, Any]:
    """The weather in ``city``."""
    if city == "Atlantis":
        raise ValueError(f"{fakes.TOOL_ERROR} ({fakes.SECRET})")
    return dict(fakes.TOOL_OUTPUT)


def fake_client(base_url: str) -> AsyncOpenAI:
    """A client of the fake at ``base_url``. Close it (``async with``) in the event loop that
    used it: the SDK's own HTTP client, left open, closes itself when it is collected, in
    whatever loop runs then, and fails there (its connections belong to a closed loop)."""
    return AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0)


def agent(client: AsyncOpenAI) -> Agent[Any]:
    """The weather agent, its model the fake behind ``client``."""
    return Agent(
        name="weather",
        instructions="Answer weather questions with get_weather.",
        tools=[get_weather],
        model=OpenAIChatCompletionsModel(model="fake-model", openai_client=client),
        model_settings=ModelSettings(include_usage=True),
    )


async def run(upstream: WatchedFake, text: str, **options: Any) -> AsyncIterator[Event]:
    """Queue the run's model calls on the fake and stream the run through the adapter; the
    run's client is closed with the stream."""
    upstream.start(text)
    async with fake_client(upstream.base_url) as client:
        result = Runner.run_streamed(agent(client), input=text)
        async with contextlib.aclosing(openai_agents_events(result, **options)) as events:
            async for event in events:
                yield event
