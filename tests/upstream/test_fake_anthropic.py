"""The fake upstream's Messages wire read by the official ``anthropic`` SDK: the fake speaks
the real wire (thinking, text, tool use, usage, errors), and a stream cut before
``message_stop`` ends the SDK's stream quietly: the blind spot AnthropicUpstream closes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import pytest

from surestream.testing import Scenario
from surestream.testing._fake_anthropic import signature_of
from tests.support.servers import RunningFake
from tests.support.upstreams import API_KEY

CALLS = [{"id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}}]
QUESTION: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Weather?"}]


@pytest.fixture
def client(fake: RunningFake) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=fake.url, api_key=API_KEY, max_retries=0, timeout=20) as c:
        yield c


def test_stream_helper_accumulates_thinking_text_and_tool_use(
    fake: RunningFake, client: anthropic.Anthropic
) -> None:
    fake.fake.enqueue(
        Scenario(
            reasoning="Let me see", text="Checking.", tool_calls=json.dumps(CALLS), cache_read=3
        )
    )
    with client.messages.stream(model="claude-fake", max_tokens=64, messages=QUESTION) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool_use = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Let me see"
    assert thinking.signature == signature_of("Let me see")
    assert text.type == "text" and text.text == "Checking."
    assert tool_use.type == "tool_use"
    assert (tool_use.id, tool_use.name, tool_use.input) == (
        "toolu_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (1, 3)
    assert message.usage.output_tokens == 4
    assert "message_stop" in kinds
    assert fake.fake.last.headers["anthropic-version"]


def test_whole_message(fake: RunningFake, client: anthropic.Anthropic) -> None:
    fake.fake.enqueue(Scenario(text="Hi there", finish_reason="max_tokens"))
    message = client.messages.create(model="claude-fake", max_tokens=64, messages=QUESTION)
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", "Hi there")]
    assert message.stop_reason == "max_tokens"


def test_an_error_event_raises(fake: RunningFake, client: anthropic.Anthropic) -> None:
    fake.fake.enqueue(Scenario(text="a b c", error_after=2, error_message="Overloaded"))
    texts: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        client.messages.stream(model="claude-fake", max_tokens=64, messages=QUESTION) as stream,
    ):
        texts.extend(stream.text_stream)
    assert "".join(texts) == "a b"


def test_refusals_raise_by_status(fake: RunningFake, client: anthropic.Anthropic) -> None:
    fake.fake.enqueue(Scenario(status=429, retry_after="2"), Scenario(status=529))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="claude-fake", max_tokens=64, messages=QUESTION)
    assert limited.value.response.headers["retry-after"] == "2"
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(model="claude-fake", max_tokens=64, messages=QUESTION)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_the_sdk_ends_a_truncated_stream_quietly(
    fake: RunningFake, client: anthropic.Anthropic
) -> None:
    fake.fake.enqueue(Scenario(text="a b c", cut_after=2))
    with client.messages.stream(model="claude-fake", max_tokens=64, messages=QUESTION) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == "a b"
    assert message.stop_reason is None
