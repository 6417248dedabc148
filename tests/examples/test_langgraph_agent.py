"""examples/langgraph_agent.py served by a real uvicorn, its model swapped for the fake one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surestream.events import Done
from tests.integrations._helpers import kinds, post
from tests.integrations.langchain_fake import FakeChatModel
from tests.support.servers import ServerThread, serve_in_thread


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    from examples import langgraph_agent

    monkeypatch.setattr(langgraph_agent, "MODEL", FakeChatModel())
    with serve_in_thread(langgraph_agent.app) as server:
        yield server


def test_the_langgraph_example_streams_a_run_that_ends_with_done(example: ServerThread) -> None:
    got = post(f"{example.url}/chat", {"question": "Weather in Paris?"})
    assert kinds(got.events)[:4] == ["start", "step", "reasoning", "text"]
    assert "tool_result" in kinds(got.events)
    assert isinstance(got.events[-1], Done) and got.events[-1].finish_reason == "stop"
