"""A tool-calling stream through the gateway in the vercel-ai dialect, read by the real AI SDK.

The ``agent`` model (``ScriptedModel``) answers with an agent's turn: reasoning, a streamed
tool call, its result, a second step with text. The AI SDK (``ai`` 6, ``read_ui_stream.mjs``)
reads ``?dialect=vercel-ai`` whole, and resumed with ``Last-Event-ID`` at every event id of
the journal: each resumed stream alone is valid (the gateway primes the dialect's encoder
with the journal's history). The resume after the terminal event is a 204.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.dialects._agent_events import AGENT, WEATHER, assert_agent_message
from tests.support.node import read_ui_streams
from tests.support.scripted import ScriptedModel
from tests.support.servers import serve_in_thread

from surestream.events import Reasoning, Text, ToolResult
from surestream.gateway.app import create_app
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import Settings

SCRIPT = AGENT[1:]
"""The agent's answer (the gateway writes ``Start`` itself), so the journal has ``AGENT``'s
length and order."""


@pytest.fixture(scope="module")
def events_url() -> Iterator[str]:
    """The events URL of one finished ``agent`` stream on a running gateway."""
    settings = Settings(demo_tokens_per_second=0, models={"agent": "agent"})
    upstreams = {**build_upstreams(settings), "agent": ScriptedModel(SCRIPT, name="agent")}
    with serve_in_thread(create_app(settings, upstreams=upstreams)) as server:
        body = {"model": "agent", "messages": [{"role": "user", "content": "Weather in Paris?"}]}
        created = httpx.post(f"{server.url}/v1/streams", json=body, timeout=10)
        assert created.status_code == 201, created.text
        url = server.url + created.json()["events_url"]
        assert b'"type":"done"' in httpx.get(url, timeout=10).content, "the journal is complete"
        yield url + "?dialect=vercel-ai"


def test_the_ai_sdk_gets_reasoning_and_the_tool_part(events_url: str) -> None:
    [result] = read_ui_streams([(events_url, None)])

    assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, [])
    assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}
    assert_agent_message(result["message"]["parts"])


def test_a_resume_at_every_event_id_is_valid_on_its_own(events_url: str) -> None:
    resume_points = range(len(AGENT))
    results = read_ui_streams(
        [(events_url, {"headers": {"Last-Event-ID": str(after)}}) for after in resume_points]
    )

    *resumed, after_the_end = results
    assert after_the_end["status"] == 204
    for after, result in enumerate(resumed):
        rest = SCRIPT[after:]
        assert result["status"] == 200, after
        assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, []), after
        assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}, after
        parts = result["message"]["parts"]
        for kind, event_type in (("text", Text), ("reasoning", Reasoning)):
            got = "".join(p["text"] for p in parts if p["type"] == kind)
            assert got == "".join(e.text for e in rest if type(e) is event_type), after
        tools = [(p["state"], p["input"], p["output"]) for p in parts if "toolCallId" in p]
        has_result = any(type(e) is ToolResult for e in rest)
        assert tools == ([("output-available", WEATHER, {"celsius": 21})] if has_result else [])
