"""LangGraph / LangChain: ``langgraph_events`` and ``langgraph_messages`` over a real
``create_agent`` graph with a fake chat model; in process, and served."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from langchain_core.messages import AIMessageChunk

from surestream.errors import SourceFailed
from surestream.events import (
    Done,
    Event,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from surestream.integrations.langgraph import langgraph_events, langgraph_messages
from tests.integrations import fakes
from tests.integrations._helpers import check
from tests.integrations._served import RunBody, ServedAdapterTests, serve_adapter
from tests.integrations.langchain_fake import agent
from tests.support.servers import ServerThread, serve_in_thread

USAGE = {"prompt_tokens": 22, "completion_tokens": 14, "total_tokens": 36}


def _inputs(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def events_of(text: str, **options: Any) -> AsyncIterator[Event]:
    return langgraph_events(agent().astream_events(_inputs(text), version="v2"), **options)


def messages_of(text: str, **options: Any) -> AsyncIterator[Event]:
    stream = agent().astream(_inputs(text), stream_mode="messages")
    return langgraph_messages(stream, **options)


MODES: dict[str, Callable[..., AsyncIterator[Event]]] = {
    "astream_events": events_of,
    "messages": messages_of,
}


async def collect(mode: str, text: str, **options: Any) -> list[Event]:
    return [event async for event in MODES[mode](text, **options)]


def answer(city: str = "Paris") -> list[Event]:
    return [
        Step("model"),
        Reasoning(fakes.REASONING),
        Text("Let me "),
        Text("check."),
        ToolCallStart("call_1", "get_weather"),
        ToolCallDelta("call_1", '{"city'),
        ToolCallDelta("call_1", f'": "{city}"}}'),
        ToolCall("call_1", "get_weather", {"city": city}),
    ]


FINAL = [Step("model"), *(Text(word) for word in fakes.FINAL_TEXT), Done("stop", USAGE)]


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.mark.anyio
async def test_streamed_answer_with_reasoning_a_tool_call_and_text(mode: str) -> None:
    assert await collect(mode, "weather in Paris?") == [
        *answer(),
        ToolResult("call_1", fakes.TOOL_OUTPUT),
        *FINAL,
    ]


@pytest.mark.anyio
async def test_a_tool_failure_reported_as_data_is_a_tool_result_with_an_error(mode: str) -> None:
    assert await collect(mode, "tool-error") == [
        *answer("Atlantis"),
        ToolResult("call_1", error=fakes.TOOL_ERROR),
        *FINAL,
    ]


@pytest.mark.anyio
async def test_a_tool_that_raises_fails_the_run_safely(mode: str) -> None:
    events: list[Event] = []
    with pytest.raises(SourceFailed) as failed:
        async for event in MODES[mode]("tool-raises"):
            events.append(event)
    assert failed.value.message == "the agent failed"
    assert events[: len(answer())] == answer("Nowhere")
    if mode == "astream_events":
        assert events[-1] == ToolResult("call_1", error="the tool failed")


@pytest.mark.anyio
async def test_a_model_that_raises_fails_with_a_safe_message(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(SourceFailed) as failed:
        await collect(mode, "boom")
    assert (failed.value.code, failed.value.message) == ("upstream_error", "the agent failed")
    assert fakes.SECRET in caplog.text
    with pytest.raises(SourceFailed) as exposed:
        await collect(mode, "boom", expose_errors=True)
    assert fakes.SECRET in exposed.value.message


@pytest.mark.anyio
async def test_max_tokens_ends_with_length(mode: str) -> None:
    events = await collect(mode, "max-tokens")
    assert events[-1] == Done(
        "length", {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    )


@pytest.mark.anyio
async def test_a_model_that_does_not_stream_sends_its_message_once() -> None:
    """``on_chat_model_end`` repeats the chunks; without chunks it is the only content."""
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    model = GenericFakeChatModel(messages=iter([AIMessage(content="whole answer")]))
    events = [e async for e in langgraph_events(model.astream_events("hi", version="v2"))]
    assert "".join(e.text for e in events if isinstance(e, Text)) == "whole answer"


class TestServedEvents(ServedAdapterTests):
    KINDS = (
        "start", "step", "reasoning", "text", "text", "tool_call_start", "tool_call_delta",
        "tool_call_delta", "tool_call", "tool_result", "step", "text", "text", "text", "done",
    )  # fmt: skip

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls) -> Iterator[ServerThread]:
        with serve_adapter(events_of) as server:
            yield server


class TestServedMessages(TestServedEvents):
    @pytest.fixture(scope="class")
    @classmethod
    def served(cls) -> Iterator[ServerThread]:
        with serve_adapter(messages_of) as server:
            yield server


def test_the_usual_hand_written_endpoint_closes_without_a_terminal_signal(
    tmp_path: Path,
) -> None:
    """The pattern of LangGraph FastAPI templates: ``data: <token>`` per message chunk."""
    app = FastAPI()

    async def tokens(text: str) -> AsyncIterable[str]:
        async for token, _ in agent().astream(_inputs(text), stream_mode="messages"):
            if isinstance(token, AIMessageChunk) and isinstance(token.content, str):
                yield f"data: {token.content}\n\n"

    @app.post("/run")
    async def run(body: RunBody) -> StreamingResponse:
        return StreamingResponse(tokens(body.text), media_type="text/event-stream")

    with serve_in_thread(app) as server:
        report = check(f"{server.url}/run", {"text": "weather"}, tmp_path)
    assert "closed without a terminal signal" in report, report
