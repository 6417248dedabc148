"""The official ``openai`` SDK with tools and reasoning, against the gateway in front of the
fake upstream and of the demo model: streamed chunks, the ``.stream()`` helper's accumulated
calls, whole answers, and a second turn that carries the tool's result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from tests.support.gateways import RunningGateway, fake_settings, run_gateway
from tests.support.servers import RunningFake

from surestream.testing import Scenario

pytestmark = pytest.mark.anyio

KEY = "sk-gateway-agent-0001"
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the weather in Paris?"}
]
CALLS = [
    {"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"id": "call_t", "name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]
THINKING = "The user wants the weather, so I call the tool."


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with run_gateway(fake_settings(running_fake, api_keys=[KEY])) as running:
        yield running


def sync_client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0, timeout=20)


def async_client(gw: RunningGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0, timeout=20)


def tool_scenario(**more: Any) -> Scenario:
    return Scenario(reasoning=THINKING, text="", tool_calls=json.dumps(CALLS), args_piece=6, **more)


def calls_of(message: Any) -> list[tuple[str, str, Any]]:
    return [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]


EXPECTED = [(c["id"], c["name"], c["arguments"]) for c in CALLS]


def test_sync_stream_helper_accumulates_the_calls_and_the_reasoning(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(tool_scenario())
    with (
        sync_client(gw) as client,
        client.chat.completions.stream(model="fake", messages=QUESTION, tools=[WEATHER]) as stream,
    ):
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert calls_of(choice.message) == EXPECTED
    assert getattr(choice.message, "reasoning_content", None) == THINKING
    assert kinds.count("tool_calls.function.arguments.done") == 2
    assert fake.fake.last.body["tools"] == [WEATHER]


async def test_async_streamed_chunks_carry_indexed_fragments(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(tool_scenario())
    fragments: dict[int, list[Any]] = {}
    reasoning: list[str] = []
    finish: list[str] = []
    async with async_client(gw) as client:
        stream = await client.chat.completions.create(
            model="fake", messages=QUESTION, tools=[WEATHER], tool_choice="auto", stream=True
        )
        async for chunk in stream:
            for choice in chunk.choices:
                reasoning.append(getattr(choice.delta, "reasoning_content", None) or "")
                for fragment in choice.delta.tool_calls or ():
                    fragments.setdefault(fragment.index, []).append(fragment)
                if choice.finish_reason:
                    finish.append(choice.finish_reason)
    assert "".join(reasoning) == THINKING
    assert finish == ["tool_calls"]
    assert sorted(fragments) == [0, 1]
    for index, call in enumerate(CALLS):
        first, *rest = fragments[index]
        assert (first.id, first.type, first.function.name) == (call["id"], "function", call["name"])
        assert rest and all(f.id is None and f.function.name is None for f in rest)
        arguments = "".join(f.function.arguments or "" for f in fragments[index])
        assert json.loads(arguments) == call["arguments"]


async def test_async_whole_answer_has_the_calls(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue(tool_scenario())
    async with async_client(gw) as client:
        answer = await client.chat.completions.create(
            model="fake", messages=QUESTION, tools=[WEATHER]
        )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert calls_of(choice.message) == EXPECTED
    assert getattr(choice.message, "reasoning_content", None) == THINKING
    assert answer.usage is not None
    details = answer.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens == len(THINKING.split())


def test_sync_whole_answer_then_a_second_turn_with_the_result(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(tool_scenario(), Scenario(text="It is 21 degrees in Paris."))
    with sync_client(gw) as client:
        first = client.chat.completions.create(model="fake", messages=QUESTION, tools=[WEATHER])
        message = first.choices[0].message
        results: list[ChatCompletionMessageParam] = [
            {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'}
            for call in message.tool_calls or ()
        ]
        second = client.chat.completions.create(
            model="fake",
            messages=[*QUESTION, message, *results],
            tools=[WEATHER],  # type: ignore[list-item]
        )
    assert second.choices[0].message.content == "It is 21 degrees in Paris."
    sent = fake.fake.last.body["messages"]
    assert sent[0] == QUESTION[0]
    assert sent[1]["role"] == "assistant" and sent[1]["content"] is None
    assert [(c["id"], c["function"]["name"]) for c in sent[1]["tool_calls"]] == [
        ("call_w", "get_weather"),
        ("call_t", "get_time"),
    ]
    assert sent[2:] == results


async def test_the_demo_calls_the_tool_then_answers_with_its_result(gw: RunningGateway) -> None:
    async with async_client(gw) as client:
        async with client.chat.completions.stream(
            model="demo", messages=QUESTION, tools=[WEATHER]
        ) as stream:
            final = await stream.get_final_completion()
        message = final.choices[0].message
        assert final.choices[0].finish_reason == "tool_calls"
        assert getattr(message, "reasoning_content", None)
        (call,) = message.tool_calls or []
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "weather", "unit": "celsius"}
        result: ChatCompletionMessageParam = {
            "role": "tool",
            "tool_call_id": call.id,
            "content": '{"temperature": 21, "sky": "clear"}',
        }
        answer = await client.chat.completions.create(
            model="demo",
            messages=[*QUESTION, message, result],
            tools=[WEATHER],  # type: ignore[list-item]
        )
    text = answer.choices[0].message.content or ""
    assert text.startswith('The get_weather tool returned temperature 21, sky "clear".')
    assert answer.choices[0].finish_reason == "stop"
