"""examples/adk_agent.py served by a real uvicorn, its Gemini model swapped for the fake one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surestream.events import Done
from tests.integrations._helpers import kinds, post
from tests.integrations.adk_agents.weather.agent import FakeLlm
from tests.support.servers import ServerThread, serve_in_thread


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    from examples import adk_agent

    monkeypatch.setattr(adk_agent.agent, "model", FakeLlm())
    with serve_in_thread(adk_agent.app) as server:
        yield server


def test_the_adk_example_streams_a_run_that_ends_with_done(example: ServerThread) -> None:
    body = {
        "user_id": "u",
        "session_id": "s1",
        "streaming": True,
        "new_message": {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
    }
    got = post(f"{example.url}/run_sse", body)
    assert kinds(got.events)[:4] == ["start", "step", "reasoning", "text"]
    assert isinstance(got.events[-1], Done) and got.events[-1].finish_reason == "stop"
    vercel = post(
        f"{example.url}/run_sse?dialect=vercel-ai",
        {**body, "session_id": "s2"},
        dialect="vercel-ai",
    )
    assert vercel.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert vercel.raw.endswith(b"data: [DONE]\n\n")
