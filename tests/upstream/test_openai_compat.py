"""OpenAICompatibleUpstream against the fake upstream on a real uvicorn: every fault mapped."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from surestream.errors import SourceFailed
from surestream.events import Done, Event, Reasoning, Text
from surestream.testing import Scenario
from surestream.testing.fake_upstream import DEFAULT_TEXT
from surestream.upstream import (
    ChatRequest,
    OpenAICompatibleUpstream,
    UpstreamHTTPError,
    generate,
)
from tests.support.servers import RunningFake, free_port
from tests.support.upstreams import API_KEY, wait_ended

pytestmark = pytest.mark.anyio


def request(model: str = "ours", **kwargs: Any) -> ChatRequest:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello to the tests"},
    ]
    return ChatRequest(model, messages, **kwargs)


async def collect(up: OpenAICompatibleUpstream, req: ChatRequest) -> list[Event]:
    events: list[Event] = []
    async with await up.open(req) as opened:
        async for event in opened:
            events.append(event)
    return events


async def collect_until_failure(
    up: OpenAICompatibleUpstream, req: ChatRequest
) -> tuple[list[str], SourceFailed]:
    texts: list[str] = []
    opened = await up.open(req)
    with pytest.raises(SourceFailed) as info:
        async for event in opened:
            assert isinstance(event, Text), event
            texts.append(event.text)
    await opened.aclose()
    return texts, info.value


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Text))


def adapter(fake: RunningFake, **kwargs: Any) -> OpenAICompatibleUpstream:
    kwargs.setdefault("api_key", API_KEY)
    return OpenAICompatibleUpstream(fake.base_url, **kwargs)


# --- the normal path -------------------------------------------------------------------------


async def test_streams_text_and_carries_usage(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    events = await collect(upstream, request(max_tokens=50, temperature=0.2, seed=7))
    assert text_of(events) == DEFAULT_TEXT
    assert events[-1] == Done(
        "stop", {"prompt_tokens": 7, "completion_tokens": 13, "total_tokens": 20}
    )
    assert sum(isinstance(e, Done) for e in events) == 1
    record = fake.fake.last
    assert record.completed and not record.client_closed


async def test_sends_key_mapped_model_and_options_but_not_metadata(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    req = request(max_tokens=50, temperature=0.2, seed=7)
    req = ChatRequest(req.model, req.messages, 50, 0.2, 7, {"user": "u1"})
    await collect(upstream, req)
    record = fake.fake.last
    assert record.path == "/v1/chat/completions"
    assert record.headers["authorization"] == f"Bearer {API_KEY}"
    assert record.body == {
        "model": "fake-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello to the tests"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 50,
        "temperature": 0.2,
        "seed": 7,
    }


async def test_unmapped_model_passes_through_and_options_are_configurable(
    fake: RunningFake,
) -> None:
    up = adapter(fake, include_usage=False, max_tokens_field="max_completion_tokens")
    try:
        events = await collect(up, request("fake-model", max_tokens=9))
    finally:
        await up.aclose()
    body = fake.fake.last.body
    assert body["model"] == "fake-model"
    assert "stream_options" not in body
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body
    assert events[-1] == Done("stop", None)


async def test_usage_in_the_finish_chunk_as_llama_cpp_sends_it(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(usage="finish", finish_reason="length"))
    events = await collect(upstream, request())
    assert text_of(events) == DEFAULT_TEXT
    assert events[-1] == Done(
        "length", {"prompt_tokens": 7, "completion_tokens": 13, "total_tokens": 20}
    )


async def test_body_split_into_single_bytes_decodes_the_same(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="Grüße, 世界 — ok", fragment=1))
    events = await collect(upstream, request())
    assert text_of(events) == "Grüße, 世界 — ok"
    assert isinstance(events[-1], Done)


async def test_trickle_slower_in_total_than_idle_timeout_still_completes(
    fake: RunningFake,
) -> None:
    fake.fake.enqueue(Scenario(text="one two three four five six", delay=0.1))
    up = adapter(fake, idle_timeout=0.4)
    try:
        events = await collect(up, request())
    finally:
        await up.aclose()
    assert text_of(events) == "one two three four five six"
    assert isinstance(events[-1], Done)


async def test_server_that_ignores_stream_true_and_answers_json(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(json_response=True))
    events = await collect(upstream, request())
    assert events == [
        Text(DEFAULT_TEXT),
        Done("stop", {"prompt_tokens": 7, "completion_tokens": 13, "total_tokens": 20}),
    ]


async def test_models_from_the_map_or_from_the_upstream(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    assert [m.id for m in await upstream.models()] == ["ours"]
    up = adapter(fake)
    try:
        assert [m.id for m in await up.models()] == ["fake-model", "other-model"]
    finally:
        await up.aclose()


# --- refusals before the first token: UpstreamHTTPError ---------------------------------------


@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [
        (400, 400, "invalid_request"),
        (422, 400, "invalid_request"),
        (413, 413, "request_too_large"),
        (403, 502, "upstream_error"),
        (404, 502, "upstream_error"),
        (500, 502, "upstream_error"),
        (503, 502, "upstream_error"),
        (504, 504, "upstream_timeout"),
    ],
)
async def test_upstream_status_maps_to_gateway_status(
    fake: RunningFake,
    upstream: OpenAICompatibleUpstream,
    upstream_status: int,
    status: int,
    code: str,
) -> None:
    spec = f"status={upstream_status},error_message=context+length+exceeded"
    with pytest.raises(UpstreamHTTPError) as info:
        await upstream.open(request(f"fake:{spec}"))
    err = info.value
    assert (err.status, err.code, err.upstream_status) == (status, code, upstream_status)
    if upstream_status in (403, 404):
        assert "context length" not in err.message and str(upstream_status) in err.message
    else:
        assert err.message == "context length exceeded"


async def test_429_keeps_retry_after(fake: RunningFake, upstream: OpenAICompatibleUpstream) -> None:
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
    assert err.stream_code == "rate_limited"


async def test_wrong_api_key_is_502_and_never_echoes_the_key(fake: RunningFake) -> None:
    up = adapter(fake, api_key="sk-wrong-key-WXYZ")
    try:
        with pytest.raises(UpstreamHTTPError) as info:
            await up.open(request())
    finally:
        await up.aclose()
    err = info.value
    assert (err.status, err.code, err.upstream_status) == (502, "upstream_error", 401)
    assert "WXYZ" not in err.message and "sk-" not in err.message


async def test_connection_refused_is_504() -> None:
    up = OpenAICompatibleUpstream(f"http://127.0.0.1:{free_port()}/v1", connect_timeout=5)
    try:
        with pytest.raises(UpstreamHTTPError) as info:
            await up.open(request())
    finally:
        await up.aclose()
    assert (info.value.status, info.value.upstream_status) == (504, None)


async def test_no_response_head_within_first_token_timeout_is_504(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(header_delay=3600))
    up = adapter(fake, first_token_timeout=0.3)
    try:
        with pytest.raises(UpstreamHTTPError) as info:
            await up.open(request())
    finally:
        await up.aclose()
    assert (info.value.status, info.value.code) == (504, "upstream_timeout")
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed


# --- failures mid-stream: SourceFailed --------------------------------------------------------


async def test_no_first_chunk_within_first_token_timeout(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(first_delay=3600))
    up = adapter(fake, first_token_timeout=0.3)
    try:
        texts, failure = await collect_until_failure(up, request())
    finally:
        await up.aclose()
    assert texts == []
    assert failure.code == "upstream_timeout"
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed


async def test_stall_mid_stream_beyond_idle_timeout(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="a b c d", stall_after=2))
    up = adapter(fake, idle_timeout=0.3)
    try:
        texts, failure = await collect_until_failure(up, request())
    finally:
        await up.aclose()
    assert texts == ["a", " b"]
    assert failure.code == "upstream_timeout"
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed


async def test_keepalive_comments_do_not_count_as_chunks(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="a b c d", stall_after=2, ping=0.05))
    up = adapter(fake, idle_timeout=0.3)
    try:
        texts, failure = await collect_until_failure(up, request())
    finally:
        await up.aclose()
    assert texts == ["a", " b"]
    assert failure.code == "upstream_timeout"


@pytest.mark.parametrize("reset", [False, True], ids=["clean-eof", "connection-reset"])
async def test_body_ending_without_finish_or_done_is_truncated(
    fake: RunningFake, upstream: OpenAICompatibleUpstream, reset: bool
) -> None:
    fake.fake.enqueue(Scenario(text="a b c d", cut_after=2, reset=reset))
    texts, failure = await collect_until_failure(upstream, request())
    assert texts == ["a", " b"]
    assert failure.code == "upstream_truncated"


async def test_finish_reason_without_done_marker_is_done_by_default(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="a b", done=False, usage="finish"))
    events = await collect(upstream, request())
    assert events == [
        Text("a"),
        Text(" b"),
        Done("stop", {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}),
    ]


async def test_finish_reason_without_done_marker_is_truncated_when_required(
    fake: RunningFake,
) -> None:
    fake.fake.enqueue(Scenario(text="a b", done=False))
    up = adapter(fake, require_done_marker=True)
    try:
        texts, failure = await collect_until_failure(up, request())
    finally:
        await up.aclose()
    assert texts == ["a", " b"]
    assert failure.code == "upstream_truncated"


async def test_done_marker_without_finish_reason_is_done(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="a b", finish=False))
    events = await collect(upstream, request())
    assert events[:2] == [Text("a"), Text(" b")]
    assert isinstance(events[2], Done) and events[2].finish_reason == "stop"


async def test_error_object_in_stream_is_upstream_error_with_safe_message(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    message = f"engine failed for key {API_KEY}\nTraceback (most recent call last):\n  boom"
    fake.fake.enqueue(Scenario(text="a b c", error_after=2, error_message=message))
    texts, failure = await collect_until_failure(upstream, request())
    assert texts == ["a", " b"]
    assert failure.code == "upstream_error"
    assert failure.message == "engine failed for key ***"


# --- cancellation closes the upstream request -------------------------------------------------


async def test_aclose_mid_stream_closes_the_upstream_connection(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="a b c", stall_after=1))
    opened = await upstream.open(request())
    iterator = aiter(opened)
    assert await anext(iterator) == Text("a")
    await opened.aclose()
    await opened.aclose()
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed and not fake.fake.last.completed


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(text="a b c", stall_after=1))
    first = anyio.Event()
    seen: list[Event] = []

    async def consume() -> None:
        async for event in generate(upstream, request()):
            seen.append(event)
            first.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await first.wait()
        tg.cancel_scope.cancel()
    assert seen == [Text("a")]
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed


async def test_generate_turns_a_refusal_into_source_failed(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    fake.fake.enqueue(Scenario(status=429, retry_after="1"))
    with pytest.raises(SourceFailed) as info:
        async for _ in generate(upstream, request()):
            pass
    assert info.value.code == "rate_limited"


# --- odd but real chunk shapes ----------------------------------------------------------------


def _chunk(choices: list[dict[str, Any]]) -> str:
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": choices}) + "\n\n"


async def test_other_choices_and_comments_are_not_forwarded_reasoning_is(
    fake: RunningFake, upstream: OpenAICompatibleUpstream
) -> None:
    inject = (
        ": a comment\n\n"
        + _chunk([{"index": 1, "delta": {"content": "SECOND CHOICE"}}])
        + _chunk([{"index": 0, "delta": {"reasoning_content": "thinking..."}}])
        + _chunk([{"index": 0, "delta": {"content": None, "tool_calls": []}}])
    )
    fake.fake.enqueue(Scenario(text="a b", inject=inject, inject_after=1))
    events = await collect(upstream, request())
    assert events[:3] == [Text("a"), Reasoning("thinking..."), Text(" b")]
    assert isinstance(events[3], Done)


@pytest.mark.parametrize(
    ("inject", "message"),
    [
        ("data: {not json\n\n", "the upstream sent a malformed chunk"),
        ('event: error\ndata: {"message": "overloaded"}\n\n', "overloaded"),
        ('data: {"error": "plain string error"}\n\n', "plain string error"),
    ],
    ids=["malformed", "event-error", "string-error"],
)
async def test_bad_chunks_are_upstream_errors(
    fake: RunningFake, upstream: OpenAICompatibleUpstream, inject: str, message: str
) -> None:
    fake.fake.enqueue(Scenario(text="a b c", inject=inject, inject_after=1))
    texts, failure = await collect_until_failure(upstream, request())
    assert texts == ["a"]
    assert (failure.code, failure.message) == ("upstream_error", message)


async def test_server_that_never_closes_after_finish_reason_is_done(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="a b", done=False, hang=True))
    up = adapter(fake, after_finish_timeout=0.3)
    try:
        events = await collect(up, request())
    finally:
        await up.aclose()
    assert events[:2] == [Text("a"), Text(" b")]
    assert events[2] == Done(
        "stop", {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    )
    assert await wait_ended(fake.fake.last)
    assert fake.fake.last.client_closed
