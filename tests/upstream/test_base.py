"""The upstream vocabulary: requests, safe messages, error mapping, the public names."""

from __future__ import annotations

import pytest

import surestream.testing
import surestream.upstream
from surestream.events import Done
from surestream.upstream import (
    ChatMessage,
    ChatRequest,
    DemoModel,
    ModelInfo,
    OpenedStream,
    Upstream,
    UpstreamHTTPError,
    generate,
    map_status,
    safe_message,
)


def test_all_is_sorted_and_importable() -> None:
    for module in (surestream.upstream, surestream.testing):
        assert list(module.__all__) == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name)


def test_chat_request_accepts_mappings_and_keeps_every_wire_field() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "u"}}]
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    wire: list[dict[str, object]] = [
        {"role": "user", "content": parts, "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "21", "tool_call_id": "c1"},
    ]
    req = ChatRequest("m", [*wire, ChatMessage("assistant", "c")])
    assert req.messages[0] == ChatMessage("user", tuple(parts), name="ann")
    assert req.messages[1] == ChatMessage("assistant", None, (call,))
    assert [m.to_json() for m in req.messages] == [*wire, {"role": "assistant", "content": "c"}]
    assert [m.text for m in req.messages] == ["a", "", "21", "c"]
    assert req.prompt_text == "a\n\n21\nc"
    assert hash(req) == hash(ChatRequest("m", list(req.messages)))


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "user", "content": 3}, "content"),
        ({"role": "user", "content": ["x"]}, "content"),
        ({"role": "assistant", "content": None, "tool_calls": {"id": "x"}}, "tool_calls"),
        ({"role": "tool", "content": "x", "tool_call_id": 5}, "tool_call_id"),
        ({"role": "user", "content": "x", "name": ["n"]}, "name"),
    ],
)
def test_chat_message_from_json_names_the_bad_field(message: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ChatMessage.from_json(message)


def test_chat_request_from_dict() -> None:
    req = ChatRequest.from_dict(
        {
            "model": "demo",
            "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 5,
            "temperature": 1,
            "seed": 2,
            "metadata": {"k": "v"},
            "stream": True,
        }
    )
    assert req == ChatRequest(
        "demo", [ChatMessage("user", "hi")], None, 1.0, 2, params={"max_completion_tokens": 5}
    )
    assert req.limit == 5
    assert ChatRequest("m", max_tokens=3, params={"max_completion_tokens": 9}).limit == 3
    assert req.metadata == {"k": "v"}


def test_chat_request_from_dict_keeps_the_forwarded_parameters() -> None:
    params = {
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "auto",
        "stop": ["\n"],
        "top_p": 0.5,
        "user": "u",
        "reasoning_effort": "low",
    }
    body = {"model": "m", "messages": [], "stream": True, "unknown": 1, **params}
    req = ChatRequest.from_dict(body)
    assert req.params == params
    assert req.tools == params["tools"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "model"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [{"content": "x"}]}, "role"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "content"),
        ({"model": "m", "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "max_tokens": True}, "max_tokens"),
        ({"model": "m", "temperature": "hot"}, "temperature"),
        ({"model": "m", "seed": 1.5}, "seed"),
        ({"model": "m", "metadata": []}, "metadata"),
    ],
)
def test_chat_request_from_dict_names_the_bad_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ChatRequest.from_dict(body)


def test_safe_message_is_one_bounded_line_without_secrets() -> None:
    text = "bad key sk-SECRET given\nTraceback (most recent call last):\n  File x"
    assert safe_message(text, secrets=["sk-SECRET", None]) == "bad key *** given"
    assert safe_message("x" * 500, limit=10) == "xxxxxxx..."
    assert safe_message(None) == "" and safe_message("  \n ") == ""


@pytest.mark.parametrize(
    ("upstream_status", "expected"),
    [
        (429, (429, "rate_limited")),
        (400, (400, "invalid_request")),
        (422, (400, "invalid_request")),
        (413, (413, "request_too_large")),
        (401, (502, "upstream_error")),
        (403, (502, "upstream_error")),
        (404, (502, "upstream_error")),
        (408, (504, "upstream_timeout")),
        (500, (502, "upstream_error")),
        (502, (502, "upstream_error")),
        (504, (504, "upstream_timeout")),
        (418, (502, "upstream_error")),
    ],
)
def test_map_status(upstream_status: int, expected: tuple[int, str]) -> None:
    assert map_status(upstream_status) == expected


def test_stream_code_of_a_refusal() -> None:
    assert UpstreamHTTPError(429, "rate_limited", "x", 1.0).stream_code == "rate_limited"
    assert UpstreamHTTPError(504, "upstream_timeout", "x").stream_code == "upstream_timeout"
    assert UpstreamHTTPError(400, "invalid_request", "x").stream_code == "upstream_error"


def test_model_info_json() -> None:
    assert ModelInfo("demo").to_json() == {
        "id": "demo",
        "object": "model",
        "created": 0,
        "owned_by": "surestream",
    }


@pytest.mark.anyio
async def test_demo_satisfies_the_protocols_and_generate_closes() -> None:
    model = DemoModel(tokens_per_second=0)
    assert isinstance(model, Upstream)
    opened = await model.open(ChatRequest("demo", [{"role": "user", "content": "hi"}]))
    assert isinstance(opened, OpenedStream)
    await opened.aclose()
    events = [
        e async for e in generate(model, ChatRequest("demo", [{"role": "user", "content": "hi"}]))
    ]
    assert isinstance(events[-1], Done)
