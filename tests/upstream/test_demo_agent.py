"""DemoModel with the OpenAI parameters: tools, tool results, reasoning, response formats,
stop strings; refusals for what it cannot honour."""

from __future__ import annotations

import json
from typing import Any

import pytest

from surestream.events import (
    Done,
    Event,
    Reasoning,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)
from surestream.upstream import ChatRequest, DemoModel, UpstreamHTTPError
from surestream.upstream._demo_agent import example_of

pytestmark = pytest.mark.anyio

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME: dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


def ask(messages: list[dict[str, Any]] | None = None, **params: Any) -> ChatRequest:
    return ChatRequest("demo", messages or QUESTION, params=params)


async def run(request: ChatRequest, **model: Any) -> list[Event]:
    async with await DemoModel(tokens_per_second=0, **model).open(request) as opened:
        return [event async for event in opened]


def of(kind: type[Any], events: list[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def joined(kind: type[Any], events: list[Event]) -> str:
    return "".join(e.text for e in of(kind, events))


async def test_tools_give_reasoning_then_one_call_of_the_first_tool() -> None:
    events = await run(ask(tools=[WEATHER, TIME]))
    thinking = of(Reasoning, events)
    assert (
        joined(Reasoning, events)
        == "The user asks about weather. I should call get_weather to find out."
    )
    assert events[: len(thinking)] == thinking
    (start,) = of(ToolCallStart, events)
    (call,) = of(ToolCall, events)
    assert (start.id, start.name) == (call.id, "get_weather") and call.id.startswith("call_")
    assert call.args == {"city": "weather", "unit": "celsius"}
    pieces = of(ToolCallDelta, events)
    assert len(pieces) > 1 and json.loads("".join(p.args for p in pieces)) == call.args
    assert not of(Text, events)
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "tool_calls"
    assert done.usage is not None
    assert done.usage["completion_tokens_details"] == {"reasoning_tokens": len(thinking)}
    assert done.usage["completion_tokens"] == len(thinking) + len(pieces)


async def test_the_call_is_deterministic_and_its_id_follows_the_conversation() -> None:
    first, again = await run(ask(tools=[WEATHER])), await run(ask(tools=[WEATHER]))
    assert first == again
    other = await run(ask([{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER]))
    assert of(ToolCall, other)[0].id != of(ToolCall, first)[0].id


async def test_tool_choice_picks_or_prevents_the_call() -> None:
    named = {"type": "function", "function": {"name": "get_time"}}
    events = await run(ask(tools=[WEATHER, TIME], tool_choice=named))
    assert [c.name for c in of(ToolCall, events)] == ["get_time"]
    assert of(ToolCall, events)[0].args == {}
    events = await run(ask(tools=[WEATHER], tool_choice="none"))
    assert not of(ToolCall, events) and "weather" in joined(Text, events)
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
    ],
)
async def test_refuses_a_tool_choice_it_cannot_honour(params: dict[str, Any], field: str) -> None:
    with pytest.raises(UpstreamHTTPError) as info:
        await DemoModel(tokens_per_second=0).open(ask(**params))
    assert info.value.status == 422 and info.value.message.startswith(f"{field}: ")


async def test_refuses_images_naming_the_part() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]
    with pytest.raises(UpstreamHTTPError) as info:
        await DemoModel(tokens_per_second=0).open(ask([{"role": "user", "content": parts}]))
    assert info.value.status == 422
    assert (
        info.value.message
        == "messages.0.content.1: the demo model reads text only, not 'image_url' parts"
    )


async def test_text_parts_are_read() -> None:
    parts = [{"type": "text", "text": "Tell me about "}, {"type": "text", "text": "volcanoes"}]
    assert "volcanoes" in joined(Text, await run(ask([{"role": "user", "content": parts}])))


async def test_a_tool_result_is_answered_in_text() -> None:
    first = await run(ask(tools=[WEATHER]))
    (call,) = of(ToolCall, first)
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.args)},
            }
        ],
    }
    result = {
        "role": "tool",
        "tool_call_id": call.id,
        "content": '{"temperature": 21, "sky": "clear"}',
    }
    events = await run(ask([*QUESTION, assistant, result], tools=[WEATHER]))
    assert not of(ToolCall, events)
    text = joined(Text, events)
    assert text.startswith('The get_weather tool returned temperature 21, sky "clear".')
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


async def test_reasoning_setting_and_effort() -> None:
    plain = await run(ask())
    assert not of(Reasoning, plain)
    thinking = await run(ask(), reasoning=True)
    assert joined(Reasoning, thinking) == "The user asks about weather."
    assert of(Text, thinking) == of(Text, plain)
    assert len(joined(Reasoning, await run(ask(reasoning_effort="high"))).split(".")) == 4
    assert not of(Reasoning, await run(ask(tools=[WEATHER], reasoning_effort="minimal")))


async def test_response_formats() -> None:
    text = joined(Text, await run(ask()))
    answer = joined(Text, await run(ask(response_format={"type": "json_object"})))
    assert json.loads(answer) == {"answer": text}
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "score": {"type": "integer", "minimum": 3}},
        "required": ["city", "score"],
    }
    form = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema}}
    assert json.loads(joined(Text, await run(ask(response_format=form)))) == {
        "city": "weather",
        "score": 3,
    }


async def test_stop_cuts_before_the_first_stop_string() -> None:
    text = joined(Text, await run(ask()))
    mark = text.split()[3]
    cut = joined(Text, await run(ask(stop=["zzz-never", mark])))
    assert cut == text[: text.find(mark)]


async def test_sampling_parameters_are_accepted_and_change_nothing() -> None:
    plain = await run(ask())
    sampled = await run(
        ask(
            top_p=0.1,
            frequency_penalty=1,
            presence_penalty=-1,
            logit_bias={"50256": -100},
            user="u",
        )
    )
    assert plain == sampled


def test_example_of_schemas() -> None:
    words = ["paris", "oslo"]
    schema = {
        "$defs": {"Place": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "type": "object",
        "properties": {
            "place": {"$ref": "#/$defs/Place"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "when": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date"}]},
            "count": {"type": "integer"},
            "ratio": {"type": "number", "default": 0.5},
            "ok": {"type": ["boolean", "null"]},
            "kind": {"const": "k"},
            "opt": {"type": "string"},
        },
        "required": ["place", "tags", "when", "count", "ratio", "ok", "kind"],
    }
    assert example_of(schema, words) == {
        "place": {"name": "paris"},
        "tags": ["oslo"],
        "when": None,
        "count": 1,
        "ratio": 0.5,
        "ok": True,
        "kind": "k",
    }
    assert example_of({}, []) == {}
    assert example_of("not a schema", []) == {}
    deep: dict[str, Any] = {"type": "object", "properties": {}}
    cursor = deep
    for _ in range(20):
        cursor["properties"] = {"x": {"type": "object", "properties": {}}}
        cursor = cursor["properties"]["x"]
    assert json.dumps(example_of(deep, [])).count("x") <= 10
