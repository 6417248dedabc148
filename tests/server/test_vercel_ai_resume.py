"""An agent's stream from ``EventStreamResponse`` in the vercel-ai dialect, read by the AI SDK.

The real ``ai`` package (``tests/js/read_ui_stream.mjs``) validates every chunk against
``uiMessageChunkSchema`` and builds the message with ``readUIMessageStream``: once for the
whole stream and once for a resume at every event id, each resumed stream read on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.requests import Request

from surestream.events import Event, Reasoning, Text, ToolResult
from surestream.server import EventStreamResponse
from tests.dialects._agent_events import AGENT, WEATHER, assert_agent_message
from tests.server._helpers import serving
from tests.support.node import read_ui_streams


def _agent_response(request: Request) -> EventStreamResponse:
    """``AGENT`` as a journal: from the start, or after ``Last-Event-ID`` with its history."""
    after = int(request.headers.get("last-event-id", "-1"))

    async def journal() -> AsyncIterator[tuple[int, Event]]:
        for seq in range(after + 1, len(AGENT)):
            yield seq, AGENT[seq]

    return EventStreamResponse(
        journal(),
        dialect="vercel-ai",
        journal=True,
        first_seq=after + 1,
        history=AGENT[: after + 1],
    )


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serving(_agent_response) as server:
        yield server.url + "/s"


def _texts(message: dict[str, object], kind: str) -> str:
    parts = message["parts"]
    assert isinstance(parts, list)
    return "".join(p["text"] for p in parts if p["type"] == kind)


def test_the_ai_sdk_builds_the_agents_message(url: str) -> None:
    [result] = read_ui_streams([(url, None)])

    assert result["headers"]["x-vercel-ai-ui-message-stream"] == "v1"
    assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, [])
    assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}
    assert_agent_message(result["message"]["parts"])


def test_a_resume_at_every_event_id_is_valid_on_its_own(url: str) -> None:
    resume_points = range(len(AGENT) - 1)
    results = read_ui_streams(
        [(url, {"headers": {"Last-Event-ID": str(after)}}) for after in resume_points]
    )

    for after, result in zip(resume_points, results, strict=True):
        rest = AGENT[after + 1 :]
        assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, []), after
        assert result["chunks"][0]["type"] == "start", after
        assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}, after
        message = result["message"]
        assert _texts(message, "text") == "".join(e.text for e in rest if type(e) is Text)
        assert _texts(message, "reasoning") == "".join(e.text for e in rest if type(e) is Reasoning)
        tools = [p for p in message["parts"] if p["type"] == "tool-get_weather"]
        if any(type(e) is ToolResult for e in rest):
            assert [(t["state"], t["input"], t["output"]) for t in tools] == [
                ("output-available", WEATHER, {"celsius": 21})
            ], after
        else:
            assert tools == [], after
