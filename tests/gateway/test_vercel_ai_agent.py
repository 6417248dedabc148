"""Tool-calling streams through the gateway in the vercel-ai dialect, read by the real AI SDK.

The ``agent`` model (``ScriptedModel``) answers with an agent's turn: reasoning, a streamed
tool call, its result, a second step with text. The AI SDK (``ai`` 6, ``read_ui_stream.mjs``)
reads ``?dialect=vercel-ai`` whole, and resumed with ``Last-Event-ID`` at every event id of
the journal: each resumed stream alone is valid (the gateway primes the dialect's encoder
with the journal's history) and holds what came after the resume point. The resume after
the terminal event is a 204.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.dialects._agent_events import AGENT, assert_agent_message
from tests.server._helpers import decode
from tests.support.node import read_ui_streams
from tests.support.scripted import WEATHER_TOOL, ScriptedModel
from tests.support.servers import serve_in_thread

from surestream.events import Event, Reasoning, Text, ToolCall, ToolResult
from surestream.gateway.app import create_app
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import Settings

AGENT_CHAT = {"model": "agent", "messages": [{"role": "user", "content": "Weather in Paris?"}]}
"""The ``agent`` model answers ``AGENT`` (but its ``Start``, which the gateway writes)."""


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    settings = Settings(demo_tokens_per_second=0, models={"agent": "agent"})
    agent = ScriptedModel(AGENT[1:], name="agent")
    with serve_in_thread(
        create_app(settings, upstreams={**build_upstreams(settings), "agent": agent})
    ) as server:
        yield server.url


def _journal(base: str, body: dict[str, Any]) -> tuple[str, list[Event]]:
    """A finished stream's vercel-ai events URL, and its events (read natively to its end)."""
    created = httpx.post(f"{base}/v1/streams", json=body, timeout=10)
    assert created.status_code == 201, created.text
    url = base + created.json()["events_url"]
    _, events = decode(httpx.get(url, timeout=10).content)
    return url + "?dialect=vercel-ai", events


def _expected(journal: list[Event], after: int) -> tuple[str, str, list[tuple[Any, ...]]]:
    """The text, the reasoning and the tool parts a reader of the stream after ``after`` gets."""
    rest = journal[after + 1 :]
    inputs = {e.id: e.args for e in journal if isinstance(e, ToolCall)}
    tools: dict[str, tuple[Any, ...]] = {}
    for event in rest:
        if isinstance(event, ToolCall):
            tools[event.id] = ("input-available", event.args, None)
        elif isinstance(event, ToolResult):
            tools[event.id] = ("output-available", inputs.get(event.id), event.output)
    text = "".join(e.text for e in rest if type(e) is Text)
    reasoning = "".join(e.text for e in rest if type(e) is Reasoning)
    return text, reasoning, list(tools.values())


def _check_every_resume(url: str, journal: list[Event]) -> list[dict[str, Any]]:
    """Read ``url`` resumed at every event id; each must be a valid stream on its own."""
    results = read_ui_streams(
        [(url, {"headers": {"Last-Event-ID": str(after)}}) for after in range(len(journal))]
    )
    *resumed, after_the_end = results
    assert after_the_end["status"] == 204
    for after, result in enumerate(resumed):
        assert result["status"] == 200, after
        assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, []), after
        assert result["chunks"][-1]["type"] == "finish", after
        parts = result["message"]["parts"]
        text = "".join(p["text"] for p in parts if p["type"] == "text")
        reasoning = "".join(p["text"] for p in parts if p["type"] == "reasoning")
        tools = [(p["state"], p["input"], p.get("output")) for p in parts if "toolCallId" in p]
        assert (text, reasoning, tools) == _expected(journal, after), after
    return resumed


def test_the_ai_sdk_gets_reasoning_and_the_tool_part(gateway_url: str) -> None:
    url, journal = _journal(gateway_url, AGENT_CHAT)
    [result] = read_ui_streams([(url, None)])

    assert journal[1:] == AGENT[1:]
    assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, [])
    assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}
    assert_agent_message(result["message"]["parts"])


def test_a_resume_at_every_event_id_is_valid_on_its_own(gateway_url: str) -> None:
    url, journal = _journal(gateway_url, AGENT_CHAT)
    _check_every_resume(url, journal)


DEMO_TOOLS_CHAT = {
    "model": "demo",
    "messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [WEATHER_TOOL],
}
"""The built-in ``demo`` model, given tools: a short reasoning, then one call of the first."""


def test_the_demo_models_tool_call_whole_and_resumed_at_every_event_id(gateway_url: str) -> None:
    url, journal = _journal(gateway_url, DEMO_TOOLS_CHAT)
    [whole] = read_ui_streams([(url, None)])

    [call] = [e for e in journal if isinstance(e, ToolCall)]
    assert (whole["invalid"], whole["thrown"], whole["errors"]) == ([], None, [])
    assert whole["chunks"][-1] == {"type": "finish", "finishReason": "tool-calls"}
    parts = whole["message"]["parts"]
    assert [p["type"] for p in parts] == ["reasoning", "tool-get_weather"]
    assert parts[0]["text"] and parts[0]["state"] == "done"
    assert (parts[1]["toolCallId"], parts[1]["state"]) == (call.id, "input-available")
    assert parts[1]["input"] == call.args and isinstance(call.args["city"], str)
    _check_every_resume(url, journal)
