"""``useChat`` against the gateway with no glue: the AI SDK's chat core (``AbstractChat``) and
``DefaultChatTransport({api: <gateway>/v1/ui/chat})`` in Node, on both stores: turns, a
tool-calling turn, resume; the request body's conversion; isolation per key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from tests.support.gateways import error_of, run_gateway
from tests.support.node import JS_DIR, run_node
from tests.support.scripted import WEATHER_TOOL, WithTools
from tests.support.servers import ServerProcess, ServerThread, serve_in_thread

from surestream.gateway.app import create_app
from surestream.gateway.settings import Settings
from surestream.gateway.ui_chat import UIMessage, to_chat_messages
from surestream.upstream import ChatMessage, ChatRequest, DemoModel

UI_CHAT = JS_DIR / "ui_chat.mjs"


def _answer(*prompts: str) -> str:
    """The demo's answer to the conversation's last user message."""
    request = ChatRequest(model="demo", messages=[ChatMessage("user", prompts[-1])])
    return " ".join(DemoModel().answer(request))


def _text(message: dict[str, Any]) -> str:
    return "".join(p["text"] for p in message["parts"] if p["type"] == "text")


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory"
    redis: ServerProcess = request.getfixturevalue("redis_server")
    return f"{redis.url}/0"


def _settings(store: str, **values: Any) -> Settings:
    prefix = f"uichat-{uuid.uuid4().hex[:8]}:"
    return Settings(store=store, redis_prefix=prefix, **values)


def test_two_turns_through_default_chat_transport(store: str) -> None:
    prompts = ["What is a stream?", "And a verdict?"]
    with run_gateway(_settings(store, demo_tokens_per_second=0)) as gw:
        result = run_node(UI_CHAT, gw.url, "turns", json.dumps({"prompts": prompts}))

    assert result["status"] == "ready"
    assert [f.get("finishReason") for f in result["finishes"]] == ["stop", "stop"]
    assert not any(f.get("isError") or f.get("isDisconnect") for f in result["finishes"])
    roles = [m["role"] for m in result["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert _text(result["messages"][1]) == _answer(prompts[0])
    assert _text(result["messages"][3]) == _answer(*prompts)


@contextmanager
def _tools_gateway(**values: Any) -> Iterator[ServerThread]:
    """A gateway whose ``demo-tools`` model is the demo offered ``WEATHER_TOOL`` with every
    request (it reasons, calls the tool, then answers the tool's output)."""
    settings = Settings(
        **{"demo_tokens_per_second": 0, **values}, models={"demo-tools": "demo-tools"}
    )
    pace = settings.demo_tokens_per_second
    upstreams = {
        "demo": DemoModel(tokens_per_second=pace),
        "demo-tools": WithTools(DemoModel(tokens_per_second=pace), [WEATHER_TOOL]),
    }
    with serve_in_thread(create_app(settings, upstreams=upstreams)) as server:
        yield server


def test_a_tool_calling_turn_through_default_chat_transport() -> None:
    """The model calls a tool, the chat core runs it (``addToolOutput`` in ``onToolCall``)
    and sends the output back by itself (``lastAssistantMessageIsCompleteWithToolCalls``);
    the answer continues the same message, one step per request, and the chat stops."""
    output = {"temperature": 21, "sky": "clear"}
    options = {
        "prompts": ["What is the weather in Lisbon?"],
        "body": {"model": "demo-tools"},
        "toolOutput": output,
        "maxRequests": 4,
    }
    with _tools_gateway() as gw:
        result = run_node(UI_CHAT, gw.url, "tools", json.dumps(options))

    assert result["status"] == "ready"
    assert [f["finishReason"] for f in result["finishes"]] == ["tool-calls", "stop"]
    assert [c["toolName"] for c in result["calls"]] == ["get_weather"]
    user, answer = result["messages"]
    assert (user["role"], answer["role"]) == ("user", "assistant")
    assert [p["type"] for p in answer["parts"]] == [
        "step-start",
        "reasoning",
        "tool-get_weather",
        "step-start",
        "text",
    ]
    tool = answer["parts"][2]
    assert tool["state"] == "output-available" and tool["output"] == output
    assert tool["toolCallId"] == result["calls"][0]["toolCallId"]
    assert "21" in _text(answer)


def test_tools_from_the_transport_body_reach_the_model() -> None:
    options = {
        "prompts": ["What is the weather in Lisbon?"],
        "body": {"model": "demo", "tools": [WEATHER_TOOL]},
        "toolOutput": {"temperature": 21},
    }
    with _tools_gateway() as gw:
        result = run_node(UI_CHAT, gw.url, "tools", json.dumps(options))
    assert [f.get("finishReason") for f in result["finishes"]] == ["tool-calls", "stop"]


def test_a_continued_message_is_named_by_its_stream_and_its_resume() -> None:
    """After tool outputs the answer continues the client's assistant message: ``start``
    names that message (the AI SDK's own rule), on the POST and on the resume alike; every
    answer is one step."""
    previous = {
        "id": "msg_previous",
        "role": "assistant",
        "parts": [{"type": "text", "text": "Hm"}],
    }
    body = {"id": "chat-continued", "messages": [_ui("user", "go on please"), previous]}
    with (
        _tools_gateway(demo_tokens_per_second=20) as gw,
        httpx.Client(base_url=gw.url, timeout=10) as client,
        client.stream("POST", "/v1/ui/chat", json=body) as answer,
    ):
        first = _chunks(answer, 2)
        with client.stream("GET", "/v1/ui/chat/chat-continued/stream") as resumed:
            again = _chunks(resumed, 2)
    start = {"type": "start", "messageId": "msg_previous"}
    assert first == again == [start, {"type": "start-step"}]
    assert answer.headers["surestream-stream-id"] != "msg_previous"


def _chunks(response: httpx.Response, n: int) -> list[dict[str, Any]]:
    """The first ``n`` UI message chunks of ``response``."""
    assert response.status_code == 200
    chunks: list[dict[str, Any]] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            chunks.append(json.loads(line[len("data: ") :]))
            if len(chunks) == n:
                break
    return chunks


def test_the_transport_headers_carry_the_key() -> None:
    settings = Settings(api_keys=["k-one"], demo_tokens_per_second=0)
    with run_gateway(settings) as gw:
        ok = {"prompts": ["hi"], "headers": _key("k-one"), "chatId": "keyed"}
        with_key = run_node(UI_CHAT, gw.url, "turns", json.dumps(ok))
        without = run_node(UI_CHAT, gw.url, "turns", json.dumps({"prompts": ["hi"]}))
    assert [f["finishReason"] for f in with_key["finishes"]] == ["stop"]
    assert without["status"] == "error"
    assert "401" in without["finishes"][0]["error"] or "key" in without["finishes"][0]["error"]


def test_reconnect_during_an_answer_returns_the_whole_message_then_204(store: str) -> None:
    prompt = "Resume me while I am still talking, please"
    with run_gateway(_settings(store, demo_tokens_per_second=40)) as gw:
        result = run_node(UI_CHAT, gw.url, "reconnect", json.dumps({"prompts": [prompt]}))

    original = result["original"][-1]
    resumed = result["resumed"]
    assert [m["role"] for m in resumed] == ["assistant"]
    assert _text(resumed[0]) == _text(original) == _answer(prompt)
    assert result["resumedFinishes"][0]["finishReason"] == "stop"
    assert result["finishes"][0]["finishReason"] == "stop"
    # After the end the chat has no running stream: 204, and the chat core adds nothing.
    assert result["after"] == [] and result["afterStatus"] == "ready"


def test_resume_route_is_per_key() -> None:
    settings = Settings(api_keys=["k-one", "k-two"], demo_tokens_per_second=20)
    body = {"id": "shared-chat-id", "messages": [_ui("user", "a long answer please")]}
    with (
        run_gateway(settings) as gw,
        httpx.Client(base_url=gw.url, timeout=10) as client,
        client.stream("POST", "/v1/ui/chat", json=body, headers=_key("k-one")) as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["x-vercel-ai-ui-message-stream"] == "v1"
        other = client.get("/v1/ui/chat/shared-chat-id/stream", headers=_key("k-two"))
        assert other.status_code == 204
        with client.stream(
            "GET", "/v1/ui/chat/shared-chat-id/stream", headers=_key("k-one")
        ) as mine:
            assert mine.status_code == 200
            assert mine.headers["content-type"].startswith("text/event-stream")
        assert client.get("/v1/ui/chat/x/stream").status_code == 401


def test_unknown_chat_is_204() -> None:
    with run_gateway() as gw:
        assert httpx.get(f"{gw.url}/v1/ui/chat/never-seen/stream").status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"messages": [{"role": "user", "parts": []}]}, 422, "id"),
        ({"id": "c", "messages": []}, 422, "messages"),
        ({"id": "c", "messages": [{"role": "user", "parts": []}], "colour": 1}, 422, "colour"),
        ({"id": "c", "messages": [{"role": "user", "parts": []}], "model": "nope"}, 404, "nope"),
        (
            {
                "id": "c",
                "messages": [
                    {"role": "user", "parts": [{"type": "file", "mediaType": "application/pdf"}]}
                ],
            },
            422,
            "mediaType",
        ),
        ({"id": "c", "messages": [{"role": "user", "parts": [{"type": "weird"}]}]}, 422, "parts"),
    ],
)
def test_bad_chat_requests_name_what_is_wrong(
    body: dict[str, Any], status: int, names: str
) -> None:
    with run_gateway() as gw:
        response = httpx.post(f"{gw.url}/v1/ui/chat", json=body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert names in (error.get("field") or "") + error["message"]


def test_ui_messages_become_chat_messages_in_the_order_the_user_saw() -> None:
    messages = [
        UIMessage(role="system", parts=[{"type": "text", "text": "Be brief."}]),
        UIMessage(
            role="user",
            parts=[
                {"type": "text", "text": "Weather? "},
                {"type": "file", "mediaType": "image/png", "url": "data:image/png;base64,AA"},
            ],
        ),
        UIMessage(
            role="assistant",
            parts=[
                {"type": "step-start"},
                {"type": "reasoning", "text": "I should look it up."},
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool-get_weather",
                    "toolCallId": "call_1",
                    "state": "output-available",
                    "input": {"city": "Paris"},
                    "output": {"temp": 21},
                },
                {
                    "type": "dynamic-tool",
                    "toolName": "get_time",
                    "toolCallId": "call_2",
                    "state": "output-error",
                    "input": {},
                    "errorText": "no clock",
                },
                {"type": "step-start"},
                {"type": "text", "text": "It is 21 degrees."},
                {"type": "data-status", "data": {"message": "done"}},
            ],
        ),
    ]
    assert to_chat_messages(messages) == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather? "},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp":21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "error: no clock"},
        {"role": "assistant", "content": "It is 21 degrees."},
    ]


def _ui(role: str, text: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "role": role, "parts": [{"type": "text", "text": text}]}


def _key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
