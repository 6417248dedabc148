"""The official ``anthropic`` Python SDK pointed at the gateway's ``POST /v1/messages`` as a
user would point it (``base_url=<gateway>``, the gateway's key as ``api_key``): streamed with
the ``.stream()`` helper and with ``create(stream=True)``, whole, with thinking and tools, from
the demo model and from an OpenAI-compatible upstream (the fake); failures after the first
token raise in the SDK, bad requests get the API's error shape, and the stream resumes in the
``anthropic`` dialect with ``Last-Event-ID``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from tests.support.gateways import RunningGateway, fake_settings, run_gateway
from tests.support.node import run_node
from tests.support.servers import RunningFake

from surestream.testing import Scenario
from surestream.testing.scenario import DEFAULT_TEXT

KEY = "sk-gateway-anthropic-0001"
QUESTION: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather now in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
CALLS = [
    {"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris"}},
    {"id": "call_t", "name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]
THINKING = "The user wants the weather, so I call the tool."


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    settings = fake_settings(running_fake, api_keys=[KEY], max_body_bytes=200_000)
    with run_gateway(settings) as running:
        yield running


def client(gw: RunningGateway, key: str = KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=20)


def test_stream_helper_and_whole_answer_of_the_demo_model_with_thinking(
    gw: RunningGateway,
) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    with (
        client(gw) as sdk,
        sdk.messages.stream(
            model="demo", max_tokens=200, messages=QUESTION, thinking=thinking
        ) as stream,
    ):
        pieces = list(stream.text_stream)
        message = stream.get_final_message()
    with client(gw) as sdk:
        whole = sdk.messages.create(
            model="demo", max_tokens=200, messages=QUESTION, thinking=thinking
        )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking.count(".") == 1  # budget under 4096: effort low
    assert message.content[1].text == "".join(pieces) and len(pieces) > 3
    assert message.stop_reason == "end_turn" and message.model == "demo"
    assert message.usage.output_tokens > len(pieces) and message.usage.input_tokens > 0
    assert [b.to_dict() for b in whole.content] == [
        {k: v for k, v in b.to_dict().items() if k != "parsed_output"} for b in message.content
    ]
    assert (whole.stop_reason, whole.usage) == (message.stop_reason, message.usage)
    assert whole.id.startswith("msg_") and message.id.startswith("msg_st_")


def test_the_demo_model_calls_a_tool_then_answers_with_its_result(gw: RunningGateway) -> None:
    with client(gw) as sdk:
        with sdk.messages.stream(
            model="demo", max_tokens=200, messages=QUESTION, tools=[WEATHER]
        ) as stream:
            first = stream.get_final_message()
        call = next(b for b in first.content if b.type == "tool_use")
        result: Any = {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}
        answer = sdk.messages.create(
            model="demo",
            max_tokens=200,
            tools=[WEATHER],
            messages=[
                *QUESTION,
                {"role": "assistant", "content": first.content},
                {"role": "user", "content": [result]},
            ],
        )
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert (call.name, set(call.input), first.stop_reason) == ("get_weather", {"city"}, "tool_use")
    assert answer.stop_reason == "end_turn" and answer.content[-1].type == "text"
    assert "sunny, 21 C" in answer.content[-1].text


def test_create_stream_true_relays_an_openai_compatible_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    with client(gw) as sdk:
        events = list(
            sdk.messages.create(model="fake", max_tokens=50, messages=QUESTION, stream=True)
        )
    assert [e.type for e in events[:2]] == ["message_start", "content_block_start"]
    assert [e.type for e in events[-3:]] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == DEFAULT_TEXT
    delta = events[-2]
    assert delta.delta.stop_reason == "end_turn"
    assert (delta.usage.input_tokens, delta.usage.output_tokens) == (6, 13)  # the fake's words
    sent = fake.fake.last.body
    assert sent["messages"] == QUESTION and sent["max_tokens"] == 50


def test_thinking_is_a_reasoning_effort_for_an_openai_compatible_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    with client(gw) as sdk:
        sdk.messages.create(model="fake", max_tokens=3000, messages=QUESTION, thinking=thinking)
    sent = fake.fake.last.body
    assert sent["reasoning_effort"] == "low" and "thinking" not in sent


def test_signed_thinking_is_not_sent_to_an_openai_compatible_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    signed: Any = {"type": "thinking", "thinking": THINKING, "signature": "EqQB"}
    redacted: Any = {"type": "redacted_thinking", "data": "EmwK"}
    turn: Any = [
        *QUESTION,
        {"role": "assistant", "content": [signed, redacted, {"type": "text", "text": "Hm."}]},
        {"role": "user", "content": "Go on."},
    ]
    with client(gw) as sdk:
        sdk.messages.create(model="fake", max_tokens=300, messages=turn)
    sent = fake.fake.last.body["messages"][1]
    assert sent == {"role": "assistant", "content": "Hm.", "reasoning_content": THINKING}


def _tool_scenario() -> Scenario:
    return Scenario(reasoning=THINKING, text="", tool_calls=json.dumps(CALLS), args_piece=6)


def test_tool_use_streamed_then_the_results_in_a_second_turn(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue(_tool_scenario(), Scenario(text="It is sunny."))
    with (
        client(gw) as sdk,
        sdk.messages.stream(
            model="fake",
            max_tokens=300,
            messages=QUESTION,
            tools=[WEATHER],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
            system="Be brief.",
        ) as stream,
    ):
        message = stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "tool_use", "tool_use"]
    assert message.content[0].thinking == THINKING
    calls = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    assert calls == [(c["id"], c["name"], c["arguments"]) for c in CALLS]
    assert message.stop_reason == "tool_use"
    first = fake.fake.last.body
    assert first["messages"][0] == {"role": "system", "content": "Be brief."}
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["input_schema"],
                "description": WEATHER["description"],
            },
        }
    ]
    assert (first["tool_choice"], first["parallel_tool_calls"]) == ("required", False)

    results: list[Any] = [
        {"type": "tool_result", "tool_use_id": "call_w", "content": "sunny, 21 C"},
        {"type": "tool_result", "tool_use_id": "call_t", "content": "boom", "is_error": True},
        {"type": "text", "text": "And now?"},
    ]
    turn = [*QUESTION, {"role": "assistant", "content": message.content}]
    with client(gw) as sdk:
        answer = sdk.messages.create(
            model="fake",
            max_tokens=300,
            tools=[WEATHER],
            messages=[*turn, {"role": "user", "content": results}],
        )
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "It is sunny."
    sent = fake.fake.last.body["messages"]
    assert sent[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": json.dumps(c["arguments"], separators=(",", ":")),
                    },
                }
                for c in CALLS
            ],
            "reasoning_content": THINKING,
        },
        {"role": "tool", "tool_call_id": "call_w", "content": "sunny, 21 C"},
        {"role": "tool", "tool_call_id": "call_t", "content": "error: boom"},
        {"role": "user", "content": "And now?"},
    ]


def test_whole_answer_with_tool_use(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue(_tool_scenario())
    with client(gw) as sdk:
        message = sdk.messages.create(
            model="fake", max_tokens=300, messages=QUESTION, tools=[WEATHER]
        )
    assert [b.type for b in message.content] == ["thinking", "tool_use", "tool_use"]
    assert message.content[1].input == CALLS[0]["arguments"]
    assert message.stop_reason == "tool_use"


def test_a_failure_after_the_first_token_raises_in_the_sdk(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("error_after=2,error_message=boom")
    texts: list[str] = []
    with (
        client(gw) as sdk,
        pytest.raises(anthropic.APIStatusError) as info,
        sdk.messages.stream(model="fake", max_tokens=50, messages=QUESTION) as stream,
    ):
        texts.extend(stream.text_stream)
    assert "".join(texts) == "Hello from"
    assert info.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": "boom", "code": "upstream_error"},
    }


def test_a_truncated_upstream_raises_in_the_sdk(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue("cut_after=3")
    with client(gw) as sdk:
        stream = sdk.messages.create(model="fake", max_tokens=50, messages=QUESTION, stream=True)
        with pytest.raises(anthropic.APIStatusError) as info:
            for _ in stream:
                pass
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["code"] == "upstream_truncated"


def test_refusals_are_the_sdks_own_error_types(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue("status=429,retry_after=2")
    with client(gw) as sdk:
        with pytest.raises(anthropic.RateLimitError) as limited:
            sdk.messages.create(model="fake", max_tokens=5, messages=QUESTION, stream=True)
        with pytest.raises(anthropic.NotFoundError) as missing:
            sdk.messages.create(model="nope", max_tokens=5, messages=QUESTION)
        with pytest.raises(anthropic.BadRequestError) as bad:
            sdk.messages.create(
                model="demo", max_tokens=5, messages=QUESTION, extra_body={"top_k": 3}
            )
    assert limited.value.response.headers["retry-after"] == "2"
    assert missing.value.body == {
        "type": "error",
        "error": {
            "type": "not_found_error",
            "message": "unknown model 'nope'; GET /v1/models lists the models",
            "code": "model_not_found",
        },
    }
    assert isinstance(bad.value.body, dict) and "top_k" in bad.value.body["error"]["message"]
    with client(gw, key="sk-wrong") as sdk, pytest.raises(anthropic.AuthenticationError):
        sdk.messages.create(model="demo", max_tokens=5, messages=QUESTION)


BODY = {"model": "demo", "max_tokens": 5, "messages": QUESTION}


@pytest.mark.parametrize(
    ("change", "status", "kind", "named"),
    [
        ({"max_tokens": None}, 400, "invalid_request_error", "max_tokens"),
        ({"messages": []}, 400, "invalid_request_error", "messages"),
        ({"temperature": 1.5}, 400, "invalid_request_error", "temperature"),
        ({"service_tier": "auto"}, 400, "invalid_request_error", "service_tier"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            400,
            "invalid_request_error",
            "messages.0",
        ),
        ({"thinking": {"type": "enabled"}}, 400, "invalid_request_error", "thinking"),
        ({"tool_choice": {"type": "tool"}}, 400, "invalid_request_error", "tool_choice"),
        (
            {
                "messages": [
                    *QUESTION,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": "c", "name": "f", "input": {"n": 2**70}}
                        ],
                    },
                ]
            },
            400,
            "invalid_request_error",
            "64-bit",
        ),
        ({"model": "nope"}, 404, "not_found_error", "nope"),
        ({"messages": "x" * 300_000}, 413, "request_too_large", "max_body_bytes"),
    ],
)
def test_bad_requests_get_the_apis_error_shape(
    gw: RunningGateway, change: dict[str, Any], status: int, kind: str, named: str
) -> None:
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    answer = httpx.post(f"{gw.url}/v1/messages", json=body, headers={"x-api-key": KEY})
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["type"] == "error" and error["error"]["type"] == kind
    assert named in error["error"]["message"]


def test_the_sdk_lists_and_retrieves_the_models(gw: RunningGateway) -> None:
    with client(gw) as sdk:
        assert [model.id for model in sdk.models.list()] == ["demo", "fake"]
        assert sdk.models.retrieve("fake").id == "fake"
        with pytest.raises(anthropic.NotFoundError):
            sdk.models.retrieve("nope")


def test_the_key_as_x_api_key_or_bearer(gw: RunningGateway) -> None:
    url = f"{gw.url}/v1/messages"
    for headers in ({"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        assert httpx.post(url, json=BODY, headers=headers).status_code == 200
    for headers in ({"x-api-key": "sk-wrong"}, {}, {"Authorization": f"Basic {KEY}"}):
        answer = httpx.post(url, json=BODY, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["type"] == "authentication_error"
    models = httpx.get(f"{gw.url}/v1/models", headers={"x-api-key": KEY})
    assert models.status_code == 200
    not_allowed = httpx.get(url, headers={"x-api-key": KEY})
    assert (not_allowed.status_code, not_allowed.json()["type"]) == (405, "error")


def test_the_stream_resumes_in_the_anthropic_dialect_byte_for_byte(gw: RunningGateway) -> None:
    auth = {"x-api-key": KEY}
    request = {"model": "demo", "max_tokens": 30, "messages": QUESTION}
    created = httpx.post(f"{gw.url}/v1/streams", json=request, headers=auth).json()
    url = f"{gw.url}{created['events_url']}?dialect=anthropic"
    whole = httpx.get(url, headers=auth).content
    assert whole.startswith(b"retry: 3000\nid: 0\nevent: message_start\n")
    ids = [int(line[4:]) for line in whole.decode().split("\n") if line.startswith("id: ")]
    for after in ids[:-1]:
        rest = httpx.get(url, headers={**auth, "Last-Event-ID": str(after)}).content
        cut = whole.index(b"\n\n", whole.index(f"\nid: {after}\n".encode()) + 1) + 2
        assert b"retry: 3000\n" + whole[cut:] == rest, after
    assert httpx.get(url, headers={**auth, "Last-Event-ID": str(ids[-1])}).status_code == 204


NODE_SDK = """
import Anthropic from "@anthropic-ai/sdk";
const [base, key] = process.argv.slice(2);
const client = new Anthropic({ baseURL: base, apiKey: key, maxRetries: 0 });
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const out = {};
const stream = client.messages.stream({
  model: "demo",
  max_tokens: 200,
  messages,
  thinking: { type: "enabled", budget_tokens: 2048 },
});
const texts = [];
stream.on("text", (text) => texts.push(text));
const message = await stream.finalMessage();
out.text = texts.join("");
out.message = message;
const raw = await client.messages.create({ model: "fake", max_tokens: 50, messages, stream: true });
out.seen = [];
try {
  for await (const event of raw) out.seen.push(event.type);
  out.error = null;
} catch (error) {
  out.error = { name: error.constructor.name, body: error.error };
}
console.log(JSON.stringify(out));
"""


def test_the_npm_sdk_streams_and_raises_on_a_failure(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue("error_after=2,error_message=boom")
    result = run_node(NODE_SDK, gw.url, KEY)
    message = result["message"]
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][1]["text"] == result["text"] and len(result["text"]) > 20
    assert message["stop_reason"] == "end_turn" and message["usage"]["output_tokens"] > 3
    assert result["seen"][:2] == ["message_start", "content_block_start"]
    assert result["error"] == {
        "name": "APIError",
        "body": {
            "type": "error",
            "error": {"type": "api_error", "message": "boom", "code": "upstream_error"},
        },
    }
