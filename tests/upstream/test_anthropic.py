"""AnthropicUpstream against the fake upstream's Messages wire on a real uvicorn: every block
kind, stop reason and fault mapped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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
from surestream.testing._fake_anthropic import signature_of
from surestream.testing.fake_upstream import DEFAULT_TEXT
from surestream.upstream import AnthropicUpstream, ChatRequest, UpstreamHTTPError
from tests.support.servers import RunningFake
from tests.support.upstreams import API_KEY, wait_ended

pytestmark = pytest.mark.anyio

CALLS = '[{"name":"get_weather","arguments":{"city":"Paris"},"id":"toolu_1"}]'


def request(**kwargs: Any) -> ChatRequest:
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello to the tests"},
    ]
    return ChatRequest("ours", messages, **kwargs)


def adapter(fake: RunningFake, **kwargs: Any) -> AnthropicUpstream:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("model_map", {"ours": "claude-fake"})
    return AnthropicUpstream(fake.url, **kwargs)


@pytest.fixture
async def upstream(fake: RunningFake) -> AsyncIterator[AnthropicUpstream]:
    up = adapter(fake)
    yield up
    await up.aclose()


async def collect(up: AnthropicUpstream, req: ChatRequest | None = None) -> list[Event]:
    async with await up.open(req or request()) as opened:
        return [event async for event in opened]


async def failure_after(up: AnthropicUpstream) -> tuple[str, SourceFailed]:
    """The text streamed before the stream failed, and the failure."""
    texts: list[str] = []
    opened = await up.open(request())
    with pytest.raises(SourceFailed) as info:
        async for event in opened:
            assert isinstance(event, Text), event
            texts.append(event.text)
    await opened.aclose()
    return "".join(texts), info.value


# --- the normal path ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
async def test_streams_text_with_usage_and_cache_tokens(fake: RunningFake, suffix: str) -> None:
    fake.fake.enqueue(Scenario(cache_read=5, cache_creation=2))
    up = AnthropicUpstream(fake.url + suffix, api_key=API_KEY, model_map={"ours": "claude-fake"})
    try:
        events = await collect(up, request(max_tokens=50, temperature=0.2))
    finally:
        await up.aclose()
    assert "".join(e.text for e in events if isinstance(e, Text)) == DEFAULT_TEXT
    assert events[-1] == Done(
        "stop",
        {
            "prompt_tokens": 7 + 2 + 5,
            "completion_tokens": 13,
            "total_tokens": 27,
            "prompt_tokens_details": {"cached_tokens": 5},
            "input_tokens": 7,
            "output_tokens": 13,
            "cache_creation_input_tokens": 2,
            "cache_read_input_tokens": 5,
        },
    )
    record = fake.fake.last
    assert record.path == "/v1/messages" and record.completed
    assert record.headers["x-api-key"] == API_KEY
    assert record.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in record.headers
    assert record.body == {
        "model": "claude-fake",
        "max_tokens": 50,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Say hello to the tests"}],
        "temperature": 0.2,
        "stream": True,
    }


async def test_thinking_text_and_tool_use(fake: RunningFake, upstream: AnthropicUpstream) -> None:
    fake.fake.enqueue(Scenario(reasoning="Let me see", text="Checking.", tool_calls=CALLS))
    events = await collect(upstream, request(params={"reasoning_effort": "low"}))
    assert events == [
        Reasoning("Let"),
        Reasoning(" me"),
        Reasoning(" see"),
        Reasoning("", signature=signature_of("Let me see")),
        Text("Checking."),
        ToolCallStart("toolu_1", "get_weather"),
        ToolCallDelta("toolu_1", '{"city":'),
        ToolCallDelta("toolu_1", '"Paris"}'),
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
        events[-1],
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls"
    assert fake.fake.last.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
async def test_stop_reasons(
    fake: RunningFake, upstream: AnthropicUpstream, stop_reason: str, finish_reason: str
) -> None:
    fake.fake.enqueue(Scenario(text="a b", finish_reason=stop_reason))
    events = await collect(upstream)
    assert isinstance(events[-1], Done) and events[-1].finish_reason == finish_reason


async def test_a_body_in_single_bytes_and_a_trickle_longer_than_idle_timeout(
    fake: RunningFake,
) -> None:
    fake.fake.enqueue(
        Scenario(text="a b c d e f", fragment=1), Scenario(text="a b c d", delay=0.08)
    )
    up = adapter(fake, idle_timeout=0.25)
    try:
        fragmented, trickled = await collect(up), await collect(up)
    finally:
        await up.aclose()
    assert [e.text for e in fragmented if isinstance(e, Text)] == [
        "a",
        " b",
        " c",
        " d",
        " e",
        " f",
    ]
    assert isinstance(fragmented[-1], Done)
    assert "".join(e.text for e in trickled if isinstance(e, Text)) == "a b c d"
    assert isinstance(trickled[-1], Done)


async def test_a_whole_json_answer_is_read_as_its_events(
    fake: RunningFake, upstream: AnthropicUpstream
) -> None:
    fake.fake.enqueue(
        Scenario(reasoning="Hm", text="Hi there", tool_calls=CALLS, json_response=True)
    )
    events = await collect(upstream)
    assert events[:3] == [
        Reasoning("Hm", signature_of("Hm")),
        Text("Hi there"),
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
    ]
    assert isinstance(events[3], Done) and events[3].finish_reason == "tool_calls"


async def test_models_from_the_map_or_from_the_upstream(fake: RunningFake) -> None:
    mapped, listed = adapter(fake), adapter(fake, model_map={})
    try:
        assert [m.id for m in await mapped.models()] == ["ours"]
        assert [m.id for m in await listed.models()] == ["fake-model", "other-model"]
    finally:
        await mapped.aclose()
        await listed.aclose()


# --- refusals before the stream ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [(400, 400, "invalid_request"), (529, 502, "upstream_error"), (500, 502, "upstream_error")],
)
async def test_refusals_map_like_the_openai_compatible_upstream(
    fake: RunningFake, upstream: AnthropicUpstream, upstream_status: int, status: int, code: str
) -> None:
    fake.fake.enqueue(Scenario(status=upstream_status, error_message="Overloaded"))
    with pytest.raises(UpstreamHTTPError) as info:
        await upstream.open(request())
    err = info.value
    assert (err.status, err.code, err.upstream_status, err.message) == (
        status,
        code,
        upstream_status,
        "Overloaded",
    )


async def test_429_keeps_retry_after(fake: RunningFake, upstream: AnthropicUpstream) -> None:
    fake.fake.enqueue(Scenario(status=429, retry_after="7", error_message="slow down"))
    with pytest.raises(UpstreamHTTPError) as info:
        await upstream.open(request())
    err = info.value
    assert (err.status, err.code, err.retry_after, err.message) == (
        429,
        "rate_limited",
        7.0,
        "slow down",
    )


async def test_a_wrong_key_is_502_and_never_echoed(fake: RunningFake) -> None:
    up = adapter(fake, api_key="sk-ant-wrong-WXYZ")
    try:
        with pytest.raises(UpstreamHTTPError) as info:
            await up.open(request())
    finally:
        await up.aclose()
    assert (info.value.status, info.value.upstream_status) == (502, 401)
    assert "WXYZ" not in info.value.message


async def test_what_the_messages_api_cannot_carry_is_refused_before_any_request(
    fake: RunningFake, upstream: AnthropicUpstream
) -> None:
    with pytest.raises(UpstreamHTTPError) as info:
        await upstream.open(request(seed=3))
    assert (info.value.status, info.value.code) == (422, "unsupported_by_model")
    assert fake.fake.requests == []


# --- failures mid-stream -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "code", "retryable"),
    [
        ("overloaded_error", "upstream_error", True),
        ("rate_limit_error", "rate_limited", True),
        ("api_error", "upstream_error", False),
    ],
)
async def test_an_error_event_mid_stream(
    fake: RunningFake, upstream: AnthropicUpstream, error_type: str, code: str, retryable: bool
) -> None:
    message = f"Overloaded, key {API_KEY}\nTraceback: ..."
    fake.fake.enqueue(
        Scenario(text="a b c", error_after=2, error_type=error_type, error_message=message)
    )
    text, failure = await failure_after(upstream)
    assert text == "a b"
    assert (failure.code, failure.retryable) == (code, retryable)
    assert failure.message == "Overloaded, key ***"


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(text="a b c", cut_after=2),
        Scenario(text="a b c", cut_after=2, reset=True),
        Scenario(text="a b c", done=False),
        Scenario(text="a b c", finish=False, done=False),
    ],
    ids=["cut", "reset", "no-message-stop", "no-message-delta"],
)
async def test_a_stream_without_message_stop_is_truncated(
    fake: RunningFake, upstream: AnthropicUpstream, scenario: Scenario
) -> None:
    fake.fake.enqueue(scenario)
    text, failure = await failure_after(upstream)
    assert text == ("a b" if scenario.cut_after else "a b c")
    assert failure.code == "upstream_truncated"


async def test_a_stall_beyond_idle_timeout(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="a b c d", stall_after=2))
    up = adapter(fake, idle_timeout=0.3)
    try:
        text, failure = await failure_after(up)
    finally:
        await up.aclose()
    assert (text, failure.code) == ("a b", "upstream_timeout")
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed


async def test_pings_are_activity(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="a b c d", stall_after=2, stall=0.6, ping=0.05))
    up = adapter(fake, idle_timeout=0.25)
    try:
        events = await collect(up)
    finally:
        await up.aclose()
    assert "".join(e.text for e in events if isinstance(e, Text)) == "a b c d"
    assert isinstance(events[-1], Done)


async def test_aclose_mid_stream_closes_the_upstream_connection(
    fake: RunningFake, upstream: AnthropicUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="a b c", stall_after=1))
    opened = await upstream.open(request())
    assert await anext(aiter(opened)) == Text("a")
    await opened.aclose()
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed and not fake.fake.last.completed
