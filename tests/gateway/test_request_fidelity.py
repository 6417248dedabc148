"""Every OpenAI chat parameter and message shape the gateway accepts reaches an
OpenAI-compatible upstream exactly, on every generating route; what it cannot carry is a 4xx
naming the field; reasoning and tool-argument deltas keep a stream alive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from tests.support.gateways import (
    CHAT,
    RunningGateway,
    error_of,
    fake_settings,
    read_native,
    read_sse,
    run_gateway,
)
from tests.support.servers import RunningFake

from surestream.events import Done, Reasoning, Text, ToolCall, ToolCallDelta, ToolCallStart
from surestream.testing import Scenario

pytestmark = pytest.mark.anyio

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "strict": True,
    },
}
MESSAGES: list[dict[str, Any]] = [
    {"role": "developer", "content": "Be brief.", "name": "ops"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is on this picture, and the weather?"},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64,iVBORw0=", "detail": "low"},
            },
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Look up the weather.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": '{"t": 21}'}]},
    {"role": "assistant", "content": "It is 21 degrees.", "refusal": None},
    {"role": "user", "content": "And tomorrow?", "name": "ann"},
]
PARAMS: dict[str, Any] = {
    "tools": [WEATHER],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
    },
    "stop": ["\n\n", "END"],
    "top_p": 0.9,
    "frequency_penalty": 0.5,
    "presence_penalty": -0.5,
    "logit_bias": {"50256": -100},
    "user": "user-1",
    "n": 1,
    "max_completion_tokens": 40,
    "reasoning_effort": "low",
    "logprobs": False,
    "temperature": 0.3,
    "seed": 5,
    "max_tokens": 30,
}
FULL = {"model": "fake", "messages": MESSAGES, **PARAMS}
UPSTREAM = {
    "model": "fake-model",
    "messages": MESSAGES,
    "stream": True,
    "stream_options": {"include_usage": True},
    **PARAMS,
}
"""What the upstream must receive for ``FULL``: the same, in its model's name, streamed."""
FAKE_TOOLS = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}


IDLE_TIMEOUT = 0.4
"""The gateway's ``idle_timeout`` here, in seconds."""

CHUNK_GAP = 0.06
"""Seconds between two chunks of a slow upstream: well under ``IDLE_TIMEOUT``, while its 14
reasoning chunks or 15 argument pieces last twice as long."""


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with run_gateway(fake_settings(running_fake, idle_timeout=IDLE_TIMEOUT)) as running:
        yield running


async def _send(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    async with client.stream("POST", path, json=body) as response:
        await response.aread()
        return response


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/v1/chat/completions", {"stream": True}),
        ("/v1/chat/completions", {}),
        ("/v1/chat/stream", {}),
        ("/v1/streams", {"metadata": {"ticket": "T-1"}}),
    ],
)
async def test_the_upstream_receives_every_parameter_exactly(
    gw: RunningGateway, fake: RunningFake, path: str, extra: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        response = await _send(client, path, {**FULL, **extra})
        assert response.status_code in (200, 201), response.text
    assert fake.fake.last.body == UPSTREAM


async def test_only_the_parameters_given_are_sent(gw: RunningGateway, fake: RunningFake) -> None:
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        response = await _send(client, "/v1/chat/stream", {**FAKE_TOOLS, "stop": None})
    assert response.status_code == 200
    body = fake.fake.last.body
    assert set(body) == {"model", "messages", "stream", "stream_options", "tools", "stop"}
    assert body["stop"] is None and body["tools"] == [WEATHER]


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"n": 2}, "n", "n=1"),
        ({"logprobs": True}, "logprobs", "log probabilities"),
        ({"top_logprobs": 2}, "top_logprobs", "log probabilities"),
        ({"store": True}, "store", "not permitted"),
        ({"functions": []}, "functions", "not permitted"),
        ({"tool_choice": "sometimes"}, "tool_choice", "none"),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools.0.function.name",
            "pattern",
        ),
        ({"response_format": {"type": "yaml"}}, "response_format", "json_schema"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort", "high"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "4"),
        ({"logit_bias": {"not-a-token": 1}}, "logit_bias", "pattern"),
        (
            {"messages": [{"role": "user", "content": "x", "mood": "ok"}]},
            "messages.0.mood",
            "not permitted",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id", "required"),
        (
            {"messages": [{"role": "user", "content": "x", "tool_call_id": "c"}]},
            "messages.0.tool_call_id",
            "not permitted",
        ),
        ({"messages": [{"role": "user", "content": None}]}, "messages.0.content", "string"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role", "user"),
        ({"messages": [{"content": "x"}]}, "messages.0.role", "required"),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [{"type": "image_url", "image_url": {"url": "u"}}],
                    }
                ]
            },
            "messages.0.content",
            "text",
        ),
        (
            {"messages": [{"role": "assistant", "content": None, "parsed": {"a": 1}}]},
            "messages.0.parsed",
            "none",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/streams"])
async def test_what_cannot_be_carried_is_a_422_naming_it(
    gw: RunningGateway, fake: RunningFake, path: str, patch: dict[str, Any], field: str, words: str
) -> None:
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        response = await client.post(path, json={**CHAT, **patch})
    assert response.status_code == 422, response.text
    detail = error_of(response)
    assert detail["field"] == field
    assert words.lower() in detail["message"].lower()
    assert fake.fake.requests == []


async def test_the_demo_refuses_an_image_naming_the_part(gw: RunningGateway) -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "u"}},
    ]
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "demo", "messages": [{"role": "user", "content": parts}]},
        )
    assert response.status_code == 422
    assert error_of(response) == {
        "code": "unsupported_by_model",
        "message": "messages.0.content.1: the demo model reads text only, not 'image_url' parts",
    }


async def test_a_reasoning_stretch_longer_than_idle_timeout_ends_done(
    gw: RunningGateway, fake: RunningFake
) -> None:
    # The upstream thinks for twice idle_timeout in chunks a sixth of it apart, then answers.
    words = " ".join(f"step{i}" for i in range(14))
    fake.fake.enqueue(Scenario(reasoning=words, text="Answer.", delay=CHUNK_GAP))
    async with (
        httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
        client.stream("POST", "/v1/chat/stream", json={**CHAT, "model": "fake"}) as response,
    ):
        events = [event for _, event in await read_native(response)]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop", events[-1]
    assert sum(isinstance(e, Reasoning) for e in events) == 14
    assert [e for e in events if isinstance(e, Text)] == [Text("Answer.")]


async def test_tool_argument_deltas_keep_the_stream_alive_too(
    gw: RunningGateway, fake: RunningFake
) -> None:
    calls = [{"id": "c", "name": "f", "arguments": {"text": "x" * 90}}]
    fake.fake.enqueue(
        Scenario(text="", tool_calls=json.dumps(calls), args_piece=7, delay=CHUNK_GAP)
    )
    async with (
        httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
        client.stream("POST", "/v1/chat/stream", json={**CHAT, "model": "fake"}) as response,
    ):
        events = [event for _, event in await read_native(response)]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls", events[-1]
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 10
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall("c", "f", calls[0]["arguments"])
    ]


async def test_the_demo_shows_the_whole_vocabulary_natively_and_as_openai(
    gw: RunningGateway,
) -> None:
    body = {
        "model": "demo",
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [WEATHER],
    }
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        created = (await client.post("/v1/streams", json=body)).json()
        async with client.stream("GET", created["events_url"]) as response:
            native = [event for _, event in await read_native(response)]
        async with client.stream("GET", created["events_url"] + "?dialect=openai") as response:
            chunks = [
                orjson.loads(sse.data) for sse in await read_sse(response) if sse.data != "[DONE]"
            ]
    kinds = [type(e).__name__ for e in native]
    assert kinds[0] == "Start" and kinds[1] == "Reasoning"
    assert kinds.index("ToolCallStart") < kinds.index("ToolCallDelta") < kinds.index("ToolCall")
    (start,) = [e for e in native if isinstance(e, ToolCallStart)]
    assert start.name == "get_weather"
    assert native[-1] == Done("tool_calls", native[-1].usage)  # type: ignore[union-attr]
    fragments = [f for c in chunks for f in c["choices"][0]["delta"].get("tool_calls", [])]
    assert fragments[0]["id"] == start.id and fragments[0]["function"]["name"] == "get_weather"
    arguments = "".join(f["function"].get("arguments", "") for f in fragments)
    assert json.loads(arguments) == {"city": "weather"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
