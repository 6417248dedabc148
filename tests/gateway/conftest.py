"""Real gateways for the gateway tests: uvicorn on loopback, the fake upstream behind them.

``run_gateway(settings)`` serves ``create_app(settings)`` under a real uvicorn in a thread;
``fake`` is a package-wide ``FakeUpstream`` on its own uvicorn, reset for every test, and
``fake_settings`` routes the model ``fake`` to it. ``read_native`` and ``read_sse`` read a
response's raw bytes with ``surestream.sse.Decoder`` (and the native dialect decoder).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from tests.support.servers import RunningFake, serve_in_thread

from surestream.dialects import get_dialect
from surestream.events import Event
from surestream.gateway.app import create_app
from surestream.gateway.service import Gateway
from surestream.gateway.settings import Settings
from surestream.sse import Decoder, ServerSentEvent
from surestream.testing import FakeUpstream, ReceivedRequest

CHAT = {"model": "demo", "messages": [{"role": "user", "content": "Tell me about streams"}]}
"""A small valid request for the demo model."""

FAKE_CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hello fake"}]}
"""A small valid request for the model routed to the fake upstream."""

WAIT_LIMIT = 10.0


@dataclass
class RunningGateway:
    """A gateway app served by uvicorn: its base URL and its ``Gateway`` state."""

    url: str
    gateway: Gateway
    app: Any


@contextlib.contextmanager
def run_gateway(settings: Settings | None = None, **config: Any) -> Iterator[RunningGateway]:
    """Serve ``create_app(settings)`` (demo unpaced by default) on a free loopback port."""
    settings = settings or Settings(demo_tokens_per_second=0)
    app = create_app(settings)
    config.setdefault("timeout_graceful_shutdown", 2)
    with serve_in_thread(app, **config) as server:
        yield RunningGateway(server.url, app.state.gateway, app)


@pytest.fixture(scope="package")
def running_fake() -> Iterator[RunningFake]:
    fake = FakeUpstream(models=["fake-model"])
    with serve_in_thread(fake.app, timeout_graceful_shutdown=1) as server:
        yield RunningFake(fake, server.url)


@pytest.fixture
def fake(running_fake: RunningFake) -> Iterator[RunningFake]:
    running_fake.fake.reset()
    yield running_fake
    running_fake.fake.reset()


def fake_settings(fake: RunningFake, **overrides: Any) -> Settings:
    """Settings that route the model ``fake`` to the fake upstream (``fake-model`` there)."""
    values: dict[str, Any] = {
        "demo_tokens_per_second": 0,
        "upstreams": {"fk": fake.base_url},
        "models": {"fake": "fk:fake-model"},
    }
    values.update(overrides)
    return Settings(**values)


async def wait_ended(record: ReceivedRequest) -> bool:
    """Wait (in a worker thread, at most WAIT_LIMIT s) until the fake finished ``record``."""
    return await anyio.to_thread.run_sync(record.wait_ended, WAIT_LIMIT)


async def sse_events(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """The SSE events of a streamed response, decoded from its raw bytes."""
    decoder = Decoder()
    async for chunk in response.aiter_raw():
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


async def read_sse(response: httpx.Response) -> list[ServerSentEvent]:
    """Every SSE event of a streamed response until the server closes it."""
    return [event async for event in sse_events(response)]


async def read_native(response: httpx.Response) -> list[tuple[str | None, Event]]:
    """``(id, event)`` for every native event of a streamed response, until it closes."""
    decoder = get_dialect("native").decoder()
    out: list[tuple[str | None, Event]] = []
    async for sse in sse_events(response):
        out.extend((sse.id, event) for event in decoder.decode(sse))
    return out


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer (asserting its shape)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    detail: dict[str, Any] = body["error"]
    return detail
