"""An OpenAI Agents SDK agent whose model is ``FakeUpstream`` over Chat Completions.

Tracing is off (it would export to OpenAI); the model asks for usage in the stream.
"""

from __future__ import annotations

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


def agent(base_url: str) -> Agent[Any]:
    """The weather agent on the fake at ``base_url``."""
    client = AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0)
    return Agent(
        name="weather",
        instructions="Answer weather questions with get_weather.",
        tools=[get_weather],
        model=OpenAIChatCompletionsModel(model="fake-model", openai_client=client),
        model_settings=ModelSettings(include_usage=True),
    )


def run(upstream: WatchedFake, text: str, **options: Any) -> AsyncIterator[Event]:
    """Queue the run's model calls on the fake and stream the run through the adapter."""
    upstream.start(text)
    result = Runner.run_streamed(agent(upstream.base_url), input=text)
    return openai_agents_events(result, **options)
