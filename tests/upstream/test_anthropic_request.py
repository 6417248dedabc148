"""Our OpenAI-shaped ChatRequest as a Messages API body: every message shape and parameter."""

from __future__ import annotations

from typing import Any

import pytest

from surestream.errors import UpstreamHTTPError
from surestream.upstream import ChatRequest
from surestream.upstream.anthropic_request import messages_body

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def body(messages: list[Any], **params: Any) -> dict[str, Any]:
    kwargs = {k: params.pop(k) for k in ("max_tokens", "temperature", "seed") if k in params}
    return messages_body(ChatRequest("ours", messages, params=params, **kwargs), "claude-x")


def test_a_tool_turn_with_system_results_and_parameters() -> None:
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                },
            ],
            "reasoning_content": "They want two cities.",
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "19"}]},
        {"role": "user", "content": "Thanks"},
    ]
    got = body(
        messages,
        max_tokens=300,
        temperature=0.5,
        top_p=0.9,
        stop="END",
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        user="u-1",
    )
    assert got == {
        "model": "claude-x",
        "max_tokens": 300,
        "system": "Be brief.\n\nUse tools.",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_1",
                        "content": '{"temperature": 21}',
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": [{"type": "text", "text": "19"}],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "tools": [
            {
                "name": "get_weather",
                "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
                "description": "The weather in a city",
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", False, {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    params: dict[str, Any] = {"tools": [WEATHER]}
    if choice is not None:
        params["tool_choice"] = choice
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    assert body([{"role": "user", "content": "hi"}], **params).get("tool_choice") == expected


def test_images_and_default_limit() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    got = body([{"role": "user", "content": parts}])
    assert got["max_tokens"] == 4096
    assert got["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]
    assert "system" not in got


@pytest.mark.parametrize(
    ("effort", "max_tokens", "thinking", "sent_max"),
    [
        ("low", None, {"type": "enabled", "budget_tokens": 1024}, 1024 + 4096),
        ("high", None, {"type": "enabled", "budget_tokens": 16384}, 16384 + 4096),
        ("medium", 3000, {"type": "enabled", "budget_tokens": 2999}, 3000),
        ("medium", 9000, {"type": "enabled", "budget_tokens": 4096}, 9000),
        ("none", None, None, 4096),
        ("minimal", 50, None, 50),
    ],
)
def test_reasoning_effort_is_a_thinking_budget(
    effort: str, max_tokens: int | None, thinking: Any, sent_max: int
) -> None:
    got = body([{"role": "user", "content": "hi"}], reasoning_effort=effort, max_tokens=max_tokens)
    assert got.get("thinking") == thinking
    assert got["max_tokens"] == sent_max


def test_the_messages_api_thinking_object_is_sent_as_given() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    got = body([{"role": "user", "content": "hi"}], thinking=thinking)
    assert got["thinking"] == thinking
    assert got["max_tokens"] == 2048 + 4096


@pytest.mark.parametrize(
    ("messages", "params", "field"),
    [
        ([{"role": "user", "content": "hi"}], {"seed": 1}, "seed"),
        ([{"role": "user", "content": "hi"}], {"frequency_penalty": 0.1}, "frequency_penalty"),
        ([{"role": "user", "content": "hi"}], {"logit_bias": {"1": 2}}, "logit_bias"),
        (
            [{"role": "user", "content": "hi"}],
            {"response_format": {"type": "json_object"}},
            "response_format",
        ),
        ([{"role": "user", "content": "hi"}], {"n": 2}, "n"),
        ([{"role": "user", "content": "hi"}], {"logprobs": True}, "logprobs"),
        ([{"role": "user", "content": "hi"}], {"tools": [{"type": "web_search"}]}, "tools.0"),
        (
            [{"role": "user", "content": "hi"}],
            {"reasoning_effort": "low", "max_tokens": 1000},
            "reasoning_effort",
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            {},
            "messages.0.content.0",
        ),
        ([{"role": "function", "content": "x"}], {}, "messages.0.role"),
        (
            [{"role": "user", "content": "hi"}],
            {"tools": [WEATHER], "tool_choice": "required", "reasoning_effort": "low"},
            "tool_choice",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
                }
            ],
            {},
            "messages.0.tool_calls.0.function.arguments",
        ),
    ],
)
def test_what_has_no_anthropic_form_is_refused_naming_the_field(
    messages: list[dict[str, Any]], params: dict[str, Any], field: str
) -> None:
    with pytest.raises(UpstreamHTTPError) as info:
        body(messages, **params)
    assert (info.value.status, info.value.code) == (422, "unsupported_by_model")
    assert info.value.message.startswith(f"{field}: ")


def test_response_format_text_is_no_change() -> None:
    got = body([{"role": "user", "content": "hi"}], response_format={"type": "text"}, n=1)
    assert got == {
        "model": "claude-x",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }


SIGNED_BLOCKS: list[Any] = [
    {"type": "thinking", "thinking": "They want Paris.", "signature": "EqQB"},
    {"type": "redacted_thinking", "data": "EmwK"},
]


def test_an_assistants_signed_thinking_leads_its_turn_and_stays_off_the_openai_wire() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assistant = {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [call],
        "reasoning_content": "They want Paris.",
        "thinking_blocks": SIGNED_BLOCKS,
    }
    messages: list[Any] = [{"role": "user", "content": "Paris?"}, assistant]
    got = body(messages)
    assert got["messages"][1]["content"] == [
        *SIGNED_BLOCKS,
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    openai_wire = ChatRequest("ours", messages).messages[1].to_json()
    assert "thinking_blocks" not in openai_wire
    assert openai_wire["reasoning_content"] == "They want Paris."


def test_thinking_blocks_of_another_kind_are_refused() -> None:
    assistant = {"role": "assistant", "content": "x", "thinking_blocks": [{"type": "text"}]}
    with pytest.raises(UpstreamHTTPError) as refused:
        body([{"role": "user", "content": "hi"}, assistant])
    assert refused.value.status == 422 and "messages.1.thinking_blocks" in str(refused.value)
