"""The OpenAI Agents SDK: ``openai_agents_events`` over ``Runner.run_streamed`` with
``FakeUpstream`` as the agent's Chat Completions model; in process, and served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Runner
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

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
from surestream.integrations.openai_agents import DEFAULT_TOOL_ERROR
from tests.integrations import fakes
from tests.integrations._helpers import check
from tests.integrations._served import RunBody, ServedAdapterTests, serve_adapter
from tests.integrations.agents_fake import agent, fake_client, run
from tests.integrations.upstream_fake import WatchedFake, watched_fake
from tests.support.servers import ServerThread, serve_in_thread


@pytest.fixture(scope="module")
def upstream() -> Iterator[WatchedFake]:
    with watched_fake() as fake:
        yield fake


async def collect(upstream: WatchedFake, text: str, **options: Any) -> list[Event]:
    return [event async for event in run(upstream, text, **options)]


def words(text: str) -> list[str]:
    parts = text.split(" ")
    return [parts[0], *(" " + w for w in parts[1:])]


def first_call(city: str) -> list[Event]:
    args = f'{{"city":"{city}"}}'
    return [
        Step("weather"),
        *(Reasoning(w) for w in words(fakes.REASONING)),
        *(Text(w) for w in words("".join(fakes.FIRST_TEXT))),
        ToolCallStart("call_1", "get_weather"),
        *(ToolCallDelta("call_1", args[i : i + 8]) for i in range(0, len(args), 8)),
        ToolCall("call_1", "get_weather", {"city": city}),
    ]


FINAL = [Step("weather"), *(Text(w) for w in words("".join(fakes.FINAL_TEXT)))]


@pytest.mark.anyio
async def test_streamed_answer_with_reasoning_a_tool_call_and_text(upstream: WatchedFake) -> None:
    events = await collect(upstream, "weather in Paris?")
    assert events[:-1] == [*first_call("Paris"), ToolResult("call_1", fakes.TOOL_OUTPUT), *FINAL]
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert done.usage is not None and done.usage["completion_tokens"] > 0


@pytest.mark.anyio
async def test_a_tool_that_raises_is_a_tool_result_with_the_sdk_s_error(
    upstream: WatchedFake,
) -> None:
    events = await collect(upstream, "tool-error")
    assert events[: len(first_call("Atlantis")) + 1] == [
        *first_call("Atlantis"),
        ToolResult("call_1", error=DEFAULT_TOOL_ERROR),
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"
    assert not any(fakes.SECRET in repr(e) for e in events)


@pytest.mark.anyio
async def test_a_model_that_fails_mid_answer_fails_with_a_safe_message(
    upstream: WatchedFake, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(SourceFailed) as failed:
        await collect(upstream, "boom")
    assert (failed.value.code, failed.value.message) == ("upstream_error", "the agent failed")
    assert fakes.SECRET in caplog.text
    with pytest.raises(SourceFailed) as exposed:
        await collect(upstream, "boom", expose_errors=True)
    assert fakes.SECRET in exposed.value.message


class TestServed(ServedAdapterTests):
    KINDS = (
        "start", "step", *["reasoning"] * len(words(fakes.REASONING)),
        *["text"] * len(words("".join(fakes.FIRST_TEXT))), "tool_call_start",
        "tool_call_delta", "tool_call_delta", "tool_call", "tool_result", "step",
        *["text"] * len(words("".join(fakes.FINAL_TEXT))), "done",
    )  # fmt: skip
    upstream: WatchedFake

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls) -> Iterator[ServerThread]:
        with watched_fake() as upstream, serve_adapter(lambda text: run(upstream, text)) as server:
            cls.upstream = upstream
            yield server

    def model_hanging(self, markers: Path, name: str) -> bool:
        return self.upstream.hanging(name)

    def model_cancelled(self, markers: Path, name: str) -> bool:
        return self.upstream.cancelled(name)


def test_the_maintainers_streaming_pattern_closes_without_a_terminal_signal(
    upstream: WatchedFake, tmp_path: Path
) -> None:
    """openai-agents-python#126 / tests/fastapi/streaming_app.py: each text delta as
    ``data:`` in a ``StreamingResponse``."""
    app = FastAPI()

    @app.post("/run")
    async def stream(body: RunBody) -> StreamingResponse:
        upstream.start(body.text)

        async def deltas() -> Any:
            async with fake_client(upstream.base_url) as client:
                result = Runner.run_streamed(agent(client), input=body.text)
                async for event in result.stream_events():
                    if event.type == "raw_response_event" and event.data.type.endswith(
                        "text.delta"
                    ):
                        yield f"data: {event.data.delta}\n\n"

        return StreamingResponse(deltas(), media_type="text/event-stream")

    with serve_in_thread(app) as server:
        report = check(f"{server.url}/run", {"text": "weather"}, tmp_path)
    assert "closed without a terminal signal" in report, report
