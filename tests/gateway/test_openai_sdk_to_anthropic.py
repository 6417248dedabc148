"""The official ``openai`` SDK against the gateway's ``/v1/chat/completions`` with the model
routed to an Anthropic upstream (the fake's Messages wire, configured by ``upstream_kinds``):
text, thinking and tool calls streamed and whole, the request translated, and an
``overloaded_error`` mid-stream raising in the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from tests.support.gateways import RunningGateway, kind_gateway
from tests.support.servers import RunningFake

from surestream.testing import Scenario

pytestmark = pytest.mark.anyio

UPSTREAM_KEY = "sk-ant-upstream-0001"
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the weather in Paris?"},
]
CALLS = [{"id": "toolu_w", "name": "get_weather", "arguments": {"city": "Paris"}}]
THINKING = "The user wants the weather, so I call the tool."


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with kind_gateway(running_fake, "anthropic", UPSTREAM_KEY) as running:
        yield running


def sync_client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=20)


def async_client(gw: RunningGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=20)


def tool_scenario() -> Scenario:
    return Scenario(reasoning=THINKING, text="", tool_calls=json.dumps(CALLS), args_piece=5)


def calls_of(message: Any) -> list[tuple[str, str, Any]]:
    return [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]


async def test_streamed_text_with_usage(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="Hello from Claude", cache_read=4))
    texts: list[str] = []
    usage: list[Any] = []
    async with async_client(gw) as client:
        stream = await client.chat.completions.create(
            model="sonnet",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=64,
            temperature=0.3,
            stop=["END"],
        )
        async for chunk in stream:
            texts.extend(c.delta.content or "" for c in chunk.choices)
            usage.append(chunk.usage)
    assert "".join(texts) == "Hello from Claude"
    final = usage[-1]
    assert (final.prompt_tokens, final.completion_tokens) == (8 + 4, 3)
    assert final.prompt_tokens_details.cached_tokens == 4
    record = fake.fake.last
    assert record.path == "/v1/messages"
    assert record.headers["x-api-key"] == UPSTREAM_KEY
    assert record.body == {
        "model": "claude-fake",
        "max_tokens": 64,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "temperature": 0.3,
        "stop_sequences": ["END"],
        "stream": True,
    }


def test_sync_stream_helper_accumulates_thinking_and_the_call(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(tool_scenario())
    with (
        sync_client(gw) as client,
        client.chat.completions.stream(
            model="sonnet", messages=QUESTION, tools=[WEATHER], reasoning_effort="low"
        ) as stream,
    ):
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert calls_of(choice.message) == [("toolu_w", "get_weather", {"city": "Paris"})]
    assert getattr(choice.message, "reasoning_content", None) == THINKING
    sent = fake.fake.last.body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[typeddict-item]
            "description": "The weather now in a city",
        }
    ]


async def test_whole_answers_then_a_second_turn_with_the_result(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(tool_scenario(), Scenario(text="It is 21 degrees in Paris."))
    async with async_client(gw) as client:
        first = await client.chat.completions.create(
            model="sonnet", messages=QUESTION, tools=[WEATHER]
        )
        message = first.choices[0].message
        assert first.choices[0].finish_reason == "tool_calls"
        assert calls_of(message) == [("toolu_w", "get_weather", {"city": "Paris"})]
        assert getattr(message, "reasoning_content", None) == THINKING
        result: ChatCompletionMessageParam = {
            "role": "tool",
            "tool_call_id": "toolu_w",
            "content": '{"temperature": 21}',
        }
        second = await client.chat.completions.create(
            model="sonnet",
            messages=[*QUESTION, message, result],  # type: ignore[list-item]
            tools=[WEATHER],
        )
    assert second.choices[0].message.content == "It is 21 degrees in Paris."
    assert second.choices[0].finish_reason == "stop"
    assert fake.fake.last.body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_w",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_w", "content": '{"temperature": 21}'}
            ],
        },
    ]


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"), [("max_tokens", "length"), ("refusal", "content_filter")]
)
def test_stop_reasons_reach_the_sdk(
    gw: RunningGateway, fake: RunningFake, stop_reason: str, finish_reason: str
) -> None:
    fake.fake.enqueue(Scenario(text="Hi", finish_reason=stop_reason))
    with sync_client(gw) as client:
        answer = client.chat.completions.create(model="sonnet", messages=QUESTION)
    assert answer.choices[0].finish_reason == finish_reason


async def test_an_overloaded_error_mid_stream_raises(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue(
        Scenario(text="Hello from Claude today", error_after=2, error_message="Overloaded")
    )
    texts: list[str] = []
    async with async_client(gw) as client:
        stream = await client.chat.completions.create(
            model="sonnet", messages=QUESTION, stream=True
        )
        with pytest.raises(openai.APIError, match="Overloaded") as info:
            async for chunk in stream:
                texts.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(texts) == "Hello from"
    assert info.value.code == "upstream_error"


async def test_a_truncated_upstream_raises_and_a_refusal_keeps_its_status(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(
        Scenario(text="Hello from Claude", cut_after=2), Scenario(status=429, retry_after="3")
    )
    async with async_client(gw) as client:
        stream = await client.chat.completions.create(
            model="sonnet", messages=QUESTION, stream=True
        )
        with pytest.raises(openai.APIError) as info:
            async for _ in stream:
                pass
        assert info.value.code == "upstream_truncated"
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="sonnet", messages=QUESTION, stream=True)
    assert limited.value.response.headers["retry-after"] == "3"
