"""examples/openai_agents_app.py served by a real uvicorn, its model on ``FakeUpstream``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from surestream.events import Done
from tests.integrations._helpers import kinds, post
from tests.integrations.agents_fake import agent, fake_client
from tests.integrations.upstream_fake import WatchedFake, watched_fake
from tests.support.servers import ServerThread, serve_in_thread


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerThread, WatchedFake]]:
    from examples import openai_agents_app

    with watched_fake() as upstream:
        client = fake_client(upstream.base_url)

        @contextlib.asynccontextmanager
        async def closing_the_client(app: object) -> AsyncIterator[None]:
            yield  # the server's loop used the client: it closes it there, at shutdown
            await client.close()

        monkeypatch.setattr(openai_agents_app.agent, "model", agent(client).model)
        monkeypatch.setattr(openai_agents_app.app.router, "lifespan_context", closing_the_client)
        with serve_in_thread(openai_agents_app.app) as server:
            yield server, upstream


def test_the_agents_example_streams_a_run_that_ends_with_done(
    example: tuple[ServerThread, WatchedFake],
) -> None:
    server, upstream = example
    upstream.start("Weather in Paris?")
    got = post(f"{server.url}/chat", {"question": "Weather in Paris?"})
    assert kinds(got.events)[:3] == ["start", "step", "reasoning"]
    assert "tool_result" in kinds(got.events)
    assert isinstance(got.events[-1], Done) and got.events[-1].finish_reason == "stop"
