"""examples/pydantic_ai_app.py served by a real uvicorn, its model on ``FakeUpstream``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surestream.events import Done
from tests.integrations._helpers import kinds, post
from tests.integrations.pydantic_ai_fake import agent
from tests.integrations.upstream_fake import WatchedFake, watched_fake
from tests.support.servers import ServerThread, serve_in_thread


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerThread, WatchedFake]]:
    from examples import pydantic_ai_app

    with watched_fake() as upstream:
        monkeypatch.setattr(pydantic_ai_app.agent, "model", agent(upstream.base_url).model)
        with serve_in_thread(pydantic_ai_app.app) as server:
            yield server, upstream


def test_the_pydantic_ai_example_streams_a_run_that_ends_with_done(
    example: tuple[ServerThread, WatchedFake],
) -> None:
    server, upstream = example
    upstream.start("Weather in Paris?")
    got = post(f"{server.url}/chat", {"question": "Weather in Paris?"})
    assert kinds(got.events)[:3] == ["start", "step", "reasoning"]
    assert "tool_result" in kinds(got.events)
    assert isinstance(got.events[-1], Done) and got.events[-1].finish_reason == "stop"
