"""A pydantic-ai agent whose model is ``FakeUpstream`` over Chat Completions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic_ai import Agent, ModelRetry
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from surestream.events import Event
from surestream.integrations.pydantic_ai import pydantic_ai_events
from tests.integrations import fakes
from tests.integrations.upstream_fake import WatchedFake


def get_weather(city: str) -> dict[str, Any]:
    """The weather in ``city``."""
    if city == "Atlantis":
        raise ModelRetry(fakes.TOOL_ERROR)
    return dict(fakes.TOOL_OUTPUT)


def agent(base_url: str) -> Agent[None, str]:
    """The weather agent on the fake at ``base_url``."""
    provider = OpenAIProvider(base_url=base_url, api_key="test-key")
    return Agent(
        OpenAIChatModel("fake-model", provider=provider),
        name="weather",
        instructions="Answer weather questions with get_weather.",
        tools=[get_weather],
    )


def run(upstream: WatchedFake, text: str, **options: Any) -> AsyncIterator[Event]:
    """Queue the run's model calls on the fake and stream the run through the adapter."""
    upstream.start(text)
    weather = agent(upstream.base_url)
    return pydantic_ai_events(weather.run_stream_events(text), name=weather.name, **options)
