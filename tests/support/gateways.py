"""Real gateways for tests: the app under uvicorn on loopback, the fake upstream behind it.

``run_gateway(settings)`` serves ``create_app(settings)`` under a real uvicorn in a thread;
``fake_settings`` routes the model ``fake`` to a running ``FakeUpstream``; ``kind_gateway``
serves a gateway with a model routed to the fake as an upstream of a given kind (its OpenAI
or its Anthropic wire), behind the upstream key it then requires. ``read_native`` and
``read_sse`` read a response's raw bytes with ``surestream.sse.Decoder`` (and the native
dialect decoder); ``error_of`` checks a JSON error answer's shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from surestream.dialects import get_dialect
from surestream.events import Event
from surestream.gateway.app import create_app
from surestream.gateway.service import Gateway
from surestream.gateway.settings import Settings, load_settings
from surestream.sse import Decoder, ServerSentEvent
from tests.support.servers import RunningFake, serve_in_thread

__all__ = [
    "CHAT",
    "FAKE_CHAT",
    "RunningGateway",
    "error_of",
    "fake_settings",
    "kind_gateway",
    "read_native",
    "read_sse",
    "run_gateway",
    "sse_events",
]


CHAT = {"model": "demo", "messages": [{"role": "user", "content": "Tell me about streams"}]}
"""A small valid request for the demo model."""

FAKE_CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hello fake"}]}
"""A small valid request for the model routed to the fake upstream."""


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


def fake_settings(fake: RunningFake, **overrides: Any) -> Settings:
    """Settings that route the model ``fake`` to the fake upstream (``fake-model`` there)."""
    values: dict[str, Any] = {
        "demo_tokens_per_second": 0,
        "upstreams": {"fk": fake.base_url},
        "models": {"fake": "fk:fake-model"},
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def kind_gateway(
    fake: RunningFake,
    kind: str,
    upstream_key: str,
    *,
    name: str = "claude",
    model: str = "sonnet",
    upstream_model: str = "claude-fake",
) -> Iterator[RunningGateway]:
    """A gateway whose ``model`` routes to ``fake`` as the upstream ``name`` of ``kind``
    (``openai`` or ``anthropic``) as ``upstream_model``, its key ``upstream_key`` (which the
    fake requires meanwhile)."""
    fake.fake.api_key = upstream_key
    settings = load_settings(
        flags={
            "upstreams": {name: fake.url},
            "upstream_kinds": {name: kind},
            "models": {model: f"{name}:{upstream_model}"},
            "demo_tokens_per_second": 0,
        },
        env={f"SURESTREAM_UPSTREAM_KEY_{name.upper()}": upstream_key},
    )
    try:
        with run_gateway(settings) as running:
            yield running
    finally:
        fake.fake.api_key = None


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
