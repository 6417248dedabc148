"""OpenAICompatibleUpstream with reasoning models and tool calls (the fake upstream streams
them as OpenAI, vLLM and OpenRouter do): every delta forwarded, calls assembled, usage whole."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from surestream.errors import SourceFailed
from surestream.events import (
    Done,
    Event,
    Reasoning,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)
from surestream.testing import Scenario
from surestream.upstream import OpenAICompatibleUpstream
from tests.support.servers import RunningFake
from tests.support.upstreams import API_KEY
from tests.upstream.test_openai_compat import adapter, collect, request

pytestmark = pytest.mark.anyio

CALLS = json.dumps(
    [
        {"id": "call_w", "name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
        {"id": "call_t", "name": "get_time", "arguments": {}},
    ]
)


def of(kind: type[Any], events: list[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_is_forwarded_and_counted_in_usage(
    fake: RunningFake, upstream: OpenAICompatibleUpstream, field: str
) -> None:
    fake.fake.enqueue(Scenario(reasoning="First, think hard.", reasoning_field=field, text="Yes."))
    events = await collect(upstream, request())
    assert events[:5] == [
        Reasoning("First,"),
        Reasoning(" think"),
        Reasoning(" hard."),
        Text("Yes."),
        Done(
            "stop",
            {
                "prompt_tokens": 7,
                "completion_tokens": 4,
                "total_tokens": 11,
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
        ),
    ]


async def test_tool_calls_stream_and_are_assembled_at_the_finish(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="", tool_calls=CALLS, args_piece=5))
    events = await collect(upstream, request())
    starts = of(ToolCallStart, events)
    assert starts == [ToolCallStart("call_w", "get_weather"), ToolCallStart("call_t", "get_time")]
    streamed = "".join(d.args for d in of(ToolCallDelta, events) if d.id == "call_w")
    assert json.loads(streamed) == {"city": "Paris", "unit": "C"}
    assert len(of(ToolCallDelta, events)) > 2  # the arguments arrived in pieces
    assert events[-3:-1] == [
        ToolCall("call_w", "get_weather", {"city": "Paris", "unit": "C"}),
        ToolCall("call_t", "get_time", {}),
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls"
    # Every start comes before its deltas, every delta before the complete call.
    order = [(type(e).__name__, getattr(e, "id", None)) for e in events]
    for call_id in ("call_w", "call_t"):
        kinds = [k for k, i in order if i == call_id]
        assert kinds[0] == "ToolCallStart" and kinds[-1] == "ToolCall"


async def test_arguments_that_are_not_json_arrive_as_their_text(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(
        Scenario(text="", tool_calls=json.dumps([{"name": "f", "arguments": '{"a": '}]))
    )
    events = await collect(upstream, request())
    assert of(ToolCall, events) == [ToolCall("call_0", "f", '{"a": ')]
    assert isinstance(events[-1], Done)


async def test_finish_without_done_marker_still_gives_the_calls(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="", tool_calls=CALLS, done=False))
    events = await collect(upstream, request())
    assert [c.id for c in of(ToolCall, events)] == ["call_w", "call_t"]
    assert events[-1] == Done("tool_calls", fake.fake.last.scenario.usage_of(fake.fake.last.body))


async def test_cut_in_the_middle_of_a_call_is_truncated_and_gives_no_call(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="", tool_calls=CALLS, args_piece=3, cut_after=3))
    opened = await upstream.open(request())
    events: list[Event] = []
    with pytest.raises(SourceFailed) as info:
        async for event in opened:
            events.append(event)
    await opened.aclose()
    assert info.value.code == "upstream_truncated"
    assert of(ToolCallStart, events) and not of(ToolCall, events)


async def test_reasoning_keeps_the_upstream_idle_timeout_quiet(fake: RunningFake) -> None:
    # A thinking stretch far longer than idle_timeout, each chunk well within it.
    words = " ".join(f"w{i}" for i in range(12))
    fake.fake.enqueue(Scenario(reasoning=words, text="Done.", delay=0.06))
    up = adapter(fake, idle_timeout=0.4)
    try:
        events = await collect(up, request())
    finally:
        await up.aclose()
    assert len(of(Reasoning, events)) == 12
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


async def test_json_answer_with_reasoning_and_tool_calls(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(json_response=True, reasoning="Hmm.", text="", tool_calls=CALLS))
    events = await collect(upstream, request())
    assert events[0] == Reasoning("Hmm.")
    assert of(ToolCall, events) == [
        ToolCall("call_w", "get_weather", {"city": "Paris", "unit": "C"}),
        ToolCall("call_t", "get_time", {}),
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls"
    assert events[-1].usage is not None
    assert events[-1].usage["completion_tokens_details"] == {"reasoning_tokens": 1}


def test_official_sdk_reads_the_fakes_tool_stream(fake: RunningFake) -> None:
    # The fake's wire is the real one: the SDK's own accumulator gets the same calls.
    client = openai.OpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
    fake.fake.enqueue(Scenario(reasoning="Let me see.", text="", tool_calls=CALLS, args_piece=4))
    with client.chat.completions.stream(
        model="fake-model", messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert getattr(message, "reasoning_content", None) == "Let me see."
    assert message.tool_calls is not None
    assert [(c.id, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("call_w", {"city": "Paris", "unit": "C"}),
        ("call_t", {}),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
