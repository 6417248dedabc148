"""pydantic-ai: ``pydantic_ai_events`` over ``Agent.run_stream_events`` with ``FakeUpstream``
as the agent's Chat Completions model; in process, and served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic_ai.ui.vercel_ai import VercelAIAdapter

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
from tests.integrations import fakes
from tests.integrations._helpers import check, tag
from tests.integrations._served import IDLE, ServedAdapterTests, serve_adapter
from tests.integrations.pydantic_ai_fake import agent, run
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
async def test_a_model_retry_from_a_tool_is_a_tool_result_with_an_error(
    upstream: WatchedFake,
) -> None:
    events = await collect(upstream, "tool-error")
    assert events == [
        *first_call("Atlantis"),
        ToolResult("call_1", error=fakes.TOOL_ERROR),
        *FINAL,
        events[-1],
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


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


def ui_body(text: str) -> dict[str, Any]:
    """What ``useChat`` posts: a submitted user message."""
    message = {"id": "m1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"trigger": "submit-message", "id": "chat-1", "messages": [message]}


@pytest.fixture(scope="module")
def own_server(upstream: WatchedFake) -> Iterator[ServerThread]:
    """pydantic-ai's own ``VercelAIAdapter.dispatch_request`` for the same agent."""
    app = FastAPI()

    @app.post("/ui")
    async def ui(request: Request) -> Response:
        body = await request.json()
        upstream.start(body["messages"][-1]["parts"][0]["text"])
        return await VercelAIAdapter.dispatch_request(request, agent=agent(upstream.base_url))

    with serve_in_thread(app) as server:
        yield server


def test_pydantic_ais_own_vercel_ai_server_beside_ours(
    own_server: ServerThread, upstream: WatchedFake, tmp_path: Path
) -> None:
    """It ends with ``finish`` (a verdict), but without the headers and ids streams need, with
    the model's raw error text, and it stays silent when the model hangs."""
    report = check(f"{own_server.url}/ui", ui_body("weather"), tmp_path)
    assert "Vercel AI finish" in report and "verdict: WARNING" in report, report
    assert "[x_accel_buffering_missing]" in report and "[no_event_ids]" in report
    with httpx.Client(timeout=60) as client:
        failed = client.post(f"{own_server.url}/ui", json=ui_body("boom")).content
    assert fakes.SECRET.encode() in failed
    name = tag()
    timeout = httpx.Timeout(60, read=2 * IDLE + 1)
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("POST", f"{own_server.url}/ui", json=ui_body(f"hang #{name}")) as hung,
    ):
        received = b""
        with pytest.raises(httpx.ReadTimeout):
            for chunk in hung.iter_raw():
                received += chunk
    assert b"ping" not in received and b'"finish"' not in received
    assert upstream.cancelled(name)
