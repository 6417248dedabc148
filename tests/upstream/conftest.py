"""One fake OpenAI-compatible upstream (real uvicorn on loopback) for the upstream tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from surestream.testing import FakeUpstream
from surestream.upstream import OpenAICompatibleUpstream
from tests.support.servers import RunningFake, serve_in_thread
from tests.support.upstreams import API_KEY


@pytest.fixture(scope="package")
def running_fake() -> Iterator[RunningFake]:
    fake = FakeUpstream(models=["fake-model", "other-model"], api_key=API_KEY)
    with serve_in_thread(fake.app, timeout_graceful_shutdown=2) as server:
        yield RunningFake(fake, server.url)


@pytest.fixture
def fake(running_fake: RunningFake) -> Iterator[RunningFake]:
    running_fake.fake.reset()
    yield running_fake
    running_fake.fake.reset()


@pytest.fixture
async def upstream(fake: RunningFake) -> AsyncIterator[OpenAICompatibleUpstream]:
    up = OpenAICompatibleUpstream(fake.base_url, api_key=API_KEY, model_map={"ours": "fake-model"})
    yield up
    await up.aclose()
