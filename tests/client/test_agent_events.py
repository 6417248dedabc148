"""Reasoning, tool calls, tool results and steps through the client, from real servers: the
gateway in front of a scripted agent (native and openai dialects), and hand-written native
and OpenAI streams. ``text()`` stays the answer; ``reasoning`` and ``tool_calls`` hold the
rest, the calls assembled from their fragments when no complete call came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import orjson
import pytest

from surestream.client import StreamInterrupted, aconnect, connect
from surestream.events import (
    Done,
    Event,
    FinishReason,
    Reasoning,
    Start,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from surestream.gateway.app import create_app
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import Settings
from tests.client.apps import Journal, app, native_blocks, raw_route
from tests.support.proxy import Proxy
from tests.support.scripted import ScriptedModel
from tests.support.servers import ServerThread, serve_in_thread

pytestmark = pytest.mark.anyio

AGENT: list[Event] = [
    Step("plan"),
    Reasoning("The user wants the weather."),
    Reasoning(" Call get_weather."),
    ToolCallStart("call_1", "get_weather"),
    ToolCallDelta("call_1", '{"city"'),
    ToolCallDelta("call_1", ': "Paris"}'),
    ToolCall("call_1", "get_weather", {"city": "Paris"}),
    ToolResult("call_1", {"temperature": 21}),
    ToolCall("call_2", "get_time", {"zone": "Mars"}),
    ToolResult("call_2", error="unknown time zone: Mars"),
    Status("writing"),
    Step("answer"),
    Text("It is 21 °C"),
    Text(" in Paris."),
    ToolCallStart("call_3", "remember"),
    ToolCallDelta("call_3", '{"fact": '),
    ToolCallDelta("call_3", '"21 °C"}'),
    Done(FinishReason.TOOL_CALLS),
]
ANSWER = "It is 21 °C in Paris."
REASONING = "The user wants the weather. Call get_weather."
CALLS = [
    ToolCall("call_1", "get_weather", {"city": "Paris"}),
    ToolCall("call_2", "get_time", {"zone": "Mars"}),
    ToolCall("call_3", "remember", {"fact": "21 °C"}),  # assembled from its fragments
]
FAST = {"retry_delay": 0.01, "max_retry_delay": 0.05}
BODY = {"model": "agent", "messages": [{"role": "user", "content": "Weather in Paris?"}]}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerThread]:
    settings = Settings(demo_tokens_per_second=0, models={"agent": "agent"})
    upstreams = {**build_upstreams(settings), "agent": ScriptedModel(AGENT, name="agent")}
    with serve_in_thread(create_app(settings, upstreams=upstreams)) as server:
        yield server


async def test_the_gateways_native_agent_stream_in_typed_events(gateway: ServerThread) -> None:
    async with aconnect(f"{gateway.url}/v1/chat/stream", method="POST", json=BODY) as stream:
        events = [event async for event in stream]
        assert await stream.text() == ANSWER
    assert isinstance(events[0], Start)
    assert events[1:] == AGENT
    assert stream.dialect == "native"
    assert stream.reasoning == REASONING
    assert stream.tool_calls == CALLS


async def test_the_gateways_openai_dialect_brings_reasoning_apart_from_the_answer(
    gateway: ServerThread,
) -> None:
    url = f"{gateway.url}/v1/chat/stream?dialect=openai"
    async with aconnect(url, method="POST", json=BODY) as stream:
        events = [event async for event in stream]
        assert await stream.text() == ANSWER
    assert stream.dialect == "openai"
    assert [e for e in events if isinstance(e, Reasoning)] == [
        e for e in AGENT if type(e) is Reasoning
    ]
    assert stream.reasoning == REASONING
    assert isinstance(stream.outcome, Done)


def test_the_sync_client_has_reasoning_and_tool_calls_too(gateway: ServerThread) -> None:
    with connect(f"{gateway.url}/v1/chat/stream", method="POST", json=BODY) as stream:
        assert [type(e) for e in stream][1:] == [type(e) for e in AGENT]
        assert stream.text() == ANSWER
        assert stream.reasoning == REASONING
        assert stream.tool_calls == CALLS


def openai_chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def fragment(index: int, **function: str) -> dict[str, object]:
    call: dict[str, object] = {"index": index, "function": function}
    if "name" in function:
        call.update(id=f"call_{index}", type="function")
    return {"tool_calls": [call]}


OPENAI_AGENT = [
    openai_chunk({"role": "assistant", "reasoning_content": "Think"}),
    openai_chunk({"reasoning": "ing."}),  # the vLLM / OpenRouter spelling
    openai_chunk(fragment(0, name="get_weather", arguments="")),
    openai_chunk(fragment(0, arguments='{"city": ')),
    openai_chunk(fragment(0, arguments='"Paris"}')),
    openai_chunk(fragment(1, name="get_time", arguments='{"zone": "UTC"}')),
    openai_chunk({}, "tool_calls"),
    b"data: [DONE]\n\n",
]


def writer(blocks: list[bytes]) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        for piece in blocks:
            yield piece

    return body


PARTIAL = [Start("st_1"), Reasoning("hm"), ToolCallStart("c1", "f"), ToolCallDelta("c1", "{")]
JOURNALS = {
    "partial-done": Journal(native_blocks([*PARTIAL, ToolCallDelta("c1", "}"), Done()])),
    "partial-cut": Journal(native_blocks([*PARTIAL, Done()]), stop_at=len(PARTIAL)),
    "bad-args": Journal(native_blocks([*PARTIAL, Done()])),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    extra = [raw_route("/openai-agent", writer(OPENAI_AGENT))]
    with serve_in_thread(app(JOURNALS, extra)) as running:
        yield running


async def test_an_openai_agent_stream_is_recognised_and_its_calls_assembled(
    server: ServerThread,
) -> None:
    async with aconnect(f"{server.url}/openai-agent") as stream:
        events = [event async for event in stream]
        assert await stream.text() == ""
    assert stream.dialect == "openai"
    assert stream.reasoning == "Thinking."
    assert [e for e in events if isinstance(e, ToolCallStart)] == [
        ToolCallStart("call_0", "get_weather"),
        ToolCallStart("call_1", "get_time"),
    ]
    assert stream.tool_calls == [
        ToolCall("call_0", "get_weather", {"city": "Paris"}),
        ToolCall("call_1", "get_time", {"zone": "UTC"}),
    ]
    assert stream.outcome == Done(FinishReason.TOOL_CALLS)


async def test_a_call_only_in_fragments_is_assembled_once_the_stream_is_done(
    server: ServerThread,
) -> None:
    async with aconnect(f"{server.url}/streams/partial-done") as stream:
        first = [await anext(stream) for _ in range(4)]
        assert first == PARTIAL
        assert stream.tool_calls == []  # not complete before the end
        assert await stream.text() == ""
    assert stream.tool_calls == [ToolCall("c1", "f", {})]
    assert stream.reasoning == "hm"


async def test_a_call_cut_off_by_an_interruption_is_not_reported_complete(
    server: ServerThread,
) -> None:
    async with aconnect(f"{server.url}/streams/partial-cut", resume=False) as stream:
        with pytest.raises(StreamInterrupted):
            await stream.text()
    assert stream.tool_calls == []
    assert stream.reasoning == "hm"


async def test_arguments_that_are_not_json_are_kept_as_text(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/streams/bad-args") as stream:
        await stream.text()
    assert stream.tool_calls == [ToolCall("c1", "f", "{")]


async def test_the_gateways_vercel_ai_dialect_in_typed_events(gateway: ServerThread) -> None:
    url = f"{gateway.url}/v1/chat/stream?dialect=vercel-ai"
    async with aconnect(url, method="POST", json=BODY) as stream:
        events = [event async for event in stream]
        assert await stream.text() == ANSWER
    assert [e for e in events if not isinstance(e, Step)] == [
        e for e in [Start(stream.events_url.split("/")[-2]), *AGENT] if not isinstance(e, Step)
    ]
    assert stream.dialect == "vercel-ai"
    assert stream.reasoning == REASONING
    assert stream.tool_calls == CALLS


def named_steps_dropped(events: list[Event]) -> list[Event]:
    """``events`` without ``Start`` and with the steps unnamed (vercel-ai carries no names)."""
    return [Step() if isinstance(e, Step) else e for e in events if not isinstance(e, Start)]


async def body_size(url: str, **request: object) -> int:
    async with httpx.AsyncClient() as client, client.stream(url=url, **request) as response:  # type: ignore[arg-type]
        return len(await response.aread())


async def test_a_vercel_ai_stream_resumed_from_its_native_location_is_the_same_stream(
    gateway: ServerThread,
) -> None:
    # POST ?dialect=vercel-ai names the native events URL: the resumed connection says so in
    # its headers and is read as native.
    url = "/v1/chat/stream?dialect=vercel-ai"
    size = await body_size(f"{gateway.url}{url}", method="POST", json=BODY)
    for cut in range(150, size, size // 8):
        async with Proxy(gateway.port) as proxy:
            proxy.cut_after(cut, after=b"\r\n\r\n")
            async with aconnect(f"{proxy.url}{url}", method="POST", json=BODY, **FAST) as stream:
                events = [event async for event in stream]
        assert stream.attempts == 2, cut
        assert named_steps_dropped(events) == named_steps_dropped(AGENT), cut
        assert (stream.reasoning, stream.tool_calls) == (REASONING, CALLS)


async def test_a_vercel_ai_stream_resumed_in_vercel_ai_repeats_nothing(
    gateway: ServerThread,
) -> None:
    # Resumed in vercel-ai, the stream starts again and names its open calls again (to be
    # valid on its own for the AI SDK); the client already has them. The dialect drops the
    # rest of a call's argument fragments (its complete call follows).
    async with httpx.AsyncClient() as client:
        created = (await client.post(f"{gateway.url}/v1/streams", json=BODY)).json()
    path = f"{created['events_url']}?dialect=vercel-ai"
    size = await body_size(f"{gateway.url}{path}", method="GET")
    for cut in range(150, size, size // 8):
        async with Proxy(gateway.port) as proxy:
            proxy.cut_after(cut, after=b"\r\n\r\n")
            async with aconnect(f"{proxy.url}{path}", **FAST) as stream:
                events = [event async for event in stream]
        assert stream.attempts == 2, cut
        assert stream.dialect == "vercel-ai"
        assert [e for e in events if isinstance(e, Start)] == [Start(created["id"])], cut
        for call in CALLS:
            got, sent = (
                [e for e in source if isinstance(e, ToolCallDelta) and e.id == call.id]
                for source in (events, AGENT)
            )
            assert got == sent[: len(got)], cut
        assert without_fragments(events) == without_fragments(AGENT), cut
        assert (stream.reasoning, stream.tool_calls) == (REASONING, CALLS)


def without_fragments(events: list[Event]) -> list[Event]:
    return [e for e in named_steps_dropped(events) if not isinstance(e, ToolCallDelta)]
