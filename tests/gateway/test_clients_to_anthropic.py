"""Clients other than the OpenAI SDK against a model routed to an Anthropic upstream (the
fake's Messages wire, configured by ``upstream_kinds``): the official ``anthropic`` SDK through
``POST /v1/messages`` (Anthropic on both sides: thinking, tool use, cache tokens, an
``overloaded_error`` and a truncation raising in the SDK) and ``useChat`` (the AI SDK's chat
core with ``DefaultChatTransport``) through ``POST /v1/ui/chat``, a tool-calling turn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from tests.support.gateways import RunningGateway, kind_gateway
from tests.support.node import JS_DIR, run_node
from tests.support.scripted import WEATHER_TOOL
from tests.support.servers import RunningFake

from surestream.testing import Scenario
from surestream.testing._fake_anthropic import signature_of

UPSTREAM_KEY = "sk-ant-upstream-0002"
QUESTION: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather now in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CALLS = [{"id": "toolu_w", "name": "get_weather", "arguments": {"city": "Paris"}}]
THINKING = "The user wants the weather, so I call the tool."


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with kind_gateway(running_fake, "anthropic", UPSTREAM_KEY) as running:
        yield running


def client(gw: RunningGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0, timeout=20)


def tool_scenario() -> Scenario:
    return Scenario(reasoning=THINKING, text="", tool_calls=json.dumps(CALLS), args_piece=5)


def test_anthropic_sdk_streams_thinking_text_and_cache_tokens(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(Scenario(reasoning="Short thought.", text="Hello from Claude", cache_read=4))
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    with (
        client(gw) as sdk,
        sdk.messages.stream(
            model="sonnet",
            max_tokens=3000,
            messages=QUESTION,
            system="Be brief.",
            thinking=thinking,
            stop_sequences=["END"],
        ) as stream,
    ):
        texts = list(stream.text_stream)
        message = stream.get_final_message()
    assert "".join(texts) == "Hello from Claude"
    assert [(b.type, getattr(b, "thinking", None)) for b in message.content] == [
        ("thinking", "Short thought."),
        ("text", None),
    ]
    assert message.stop_reason == "end_turn"
    assert message.usage.cache_read_input_tokens == 4
    sent = fake.fake.last.body
    assert sent["model"] == "claude-fake" and sent["system"] == "Be brief."
    assert sent["stop_sequences"] == ["END"] and sent["max_tokens"] == 3000
    assert sent["thinking"]["type"] == "enabled"


def test_the_thinking_budget_reaches_an_anthropic_upstream_exactly(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(Scenario(reasoning="Hm.", text="Yes."), Scenario(text="No."))
    enabled: Any = {"type": "enabled", "budget_tokens": 2048}
    disabled: Any = {"type": "disabled"}
    with client(gw) as sdk:
        with sdk.messages.stream(
            model="sonnet", max_tokens=3000, messages=QUESTION, thinking=enabled
        ) as stream:
            assert stream.get_final_message().content[1].type == "text"
        budgeted = fake.fake.last.body
        sdk.messages.create(model="sonnet", max_tokens=300, messages=QUESTION, thinking=disabled)
        plain = fake.fake.last.body
    assert (budgeted["thinking"], budgeted["max_tokens"]) == (enabled, 3000)
    assert "reasoning_effort" not in budgeted
    assert (plain["thinking"], plain["max_tokens"]) == (disabled, 300)


def test_anthropic_sdk_tool_use_then_its_result(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue(tool_scenario(), Scenario(text="It is 21 degrees in Paris."))
    with client(gw) as sdk:
        with sdk.messages.stream(
            model="sonnet", max_tokens=300, messages=QUESTION, tools=[WEATHER]
        ) as stream:
            message = stream.get_final_message()
        result: Any = {"type": "tool_result", "tool_use_id": "toolu_w", "content": "21 C"}
        answer = sdk.messages.create(
            model="sonnet",
            max_tokens=300,
            tools=[WEATHER],
            messages=[
                *QUESTION,
                {"role": "assistant", "content": message.content},
                {"role": "user", "content": [result]},
            ],
        )
    assert [b.type for b in message.content] == ["thinking", "tool_use"]
    call = message.content[1]
    assert (call.id, call.name, call.input, message.stop_reason) == (
        "toolu_w",
        "get_weather",
        {"city": "Paris"},
        "tool_use",
    )
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "It is 21 degrees in Paris."
    sent = fake.fake.last.body["messages"]
    assert sent[1]["role"] == "assistant"
    assert {
        "type": "tool_use",
        "id": "toolu_w",
        "name": "get_weather",
        "input": {"city": "Paris"},
    } in (sent[1]["content"])
    assert sent[2] == {"role": "user", "content": [{**result, "content": "21 C"}]}


def test_a_claude_agent_loop_sends_the_signed_thinking_back(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(
        tool_scenario(), Scenario(text="It is 21 degrees in Paris.", require_signature=True)
    )
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    ask: Any = {"model": "sonnet", "max_tokens": 3000, "tools": [WEATHER], "thinking": thinking}
    with client(gw) as sdk:
        with sdk.messages.stream(messages=QUESTION, **ask) as stream:
            first = stream.get_final_message()
        result: Any = {"type": "tool_result", "tool_use_id": "toolu_w", "content": "21 C"}
        turn: Any = [
            *QUESTION,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ]
        with sdk.messages.stream(messages=turn, **ask) as stream:
            second = stream.get_final_message()
    signature = signature_of(THINKING)
    assert [(b.type, getattr(b, "signature", None)) for b in first.content] == [
        ("thinking", signature),
        ("tool_use", None),
    ]
    assert second.content[0].type == "text"
    assert second.content[0].text == "It is 21 degrees in Paris."
    sent = fake.fake.last.body["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": THINKING, "signature": signature}
    assert [block["type"] for block in sent] == ["thinking", "tool_use"]


def test_the_fake_refuses_thinking_sent_back_without_its_signature(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(Scenario(text="Never.", require_signature=True))
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    unsigned: Any = {"type": "thinking", "thinking": THINKING, "signature": "forged"}
    call: Any = {"type": "tool_use", "id": "toolu_w", "name": "get_weather", "input": {}}
    result: Any = {"type": "tool_result", "tool_use_id": "toolu_w", "content": "21 C"}
    turn: Any = [
        *QUESTION,
        {"role": "assistant", "content": [unsigned, call]},
        {"role": "user", "content": [result]},
    ]
    with client(gw) as sdk, pytest.raises(anthropic.BadRequestError) as refused:
        sdk.messages.create(
            model="sonnet", max_tokens=3000, tools=[WEATHER], thinking=thinking, messages=turn
        )
    assert "signature" in str(refused.value)


def test_anthropic_sdk_sees_an_overloaded_upstream_as_overloaded(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(
        Scenario(text="Hello from Claude today", error_after=2, error_message="Overloaded")
    )
    texts: list[str] = []
    with (
        client(gw) as sdk,
        pytest.raises(anthropic.APIStatusError) as info,
        sdk.messages.stream(model="sonnet", max_tokens=50, messages=QUESTION) as stream,
    ):
        texts.extend(stream.text_stream)
    assert "".join(texts) == "Hello from"
    assert info.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded", "code": "upstream_error"},
    }


def test_anthropic_sdk_raises_on_a_truncated_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(Scenario(text="Hello from Claude", cut_after=2))
    with client(gw) as sdk, pytest.raises(anthropic.APIStatusError) as info:
        for _ in sdk.messages.create(model="sonnet", max_tokens=50, messages=QUESTION, stream=True):
            pass
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["code"] == "upstream_truncated"


def test_use_chat_runs_a_tool_turn_against_an_anthropic_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(tool_scenario(), Scenario(text="It is 21 degrees in Paris."))
    output = {"temperature": 21}
    options = {
        "prompts": ["What is the weather in Paris?"],
        "body": {"model": "sonnet", "tools": [WEATHER_TOOL]},
        "toolOutput": output,
        "maxRequests": 4,
    }
    result = run_node(JS_DIR / "ui_chat.mjs", gw.url, "tools", json.dumps(options))
    assert result["status"] == "ready"
    assert [f["finishReason"] for f in result["finishes"]] == ["tool-calls", "stop"]
    _, answer = result["messages"]
    assert [p["type"] for p in answer["parts"]] == [
        "step-start",
        "reasoning",
        "tool-get_weather",
        "step-start",
        "text",
    ]
    assert answer["parts"][1]["text"] == THINKING
    tool = answer["parts"][2]
    assert (tool["toolCallId"], tool["input"], tool["output"]) == (
        "toolu_w",
        {"city": "Paris"},
        output,
    )
    assert answer["parts"][4]["text"] == "It is 21 degrees in Paris."
    sent = fake.fake.last.body["messages"]
    assert sent[-1] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_w",
                "content": json.dumps(output, separators=(",", ":")),
            }
        ],
    }
