"""One surestream gateway as another's Anthropic upstream: the front gateway reads the back
one's ``POST /v1/messages`` as it reads the Messages API (``upstream_kinds``), the key sent as
``x-api-key``. The back gateway's heartbeat in the ``anthropic`` dialect is the API's own
``event: ping``, which the front one counts as activity: a model silent for longer than the
front's ``upstream_idle_timeout`` (but pinged meanwhile) still ends ``done``, and a failure
behind both reaches the client with its own code."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.support.gateways import RunningGateway, fake_settings, read_native, run_gateway
from tests.support.servers import RunningFake

from surestream.events import Done, Error, Text
from surestream.gateway.settings import load_settings
from surestream.sse import HEARTBEAT
from surestream.testing.scenario import DEFAULT_TEXT

pytestmark = pytest.mark.anyio

BACK_KEY = "sk-back-gateway-0001"
BODY = {"model": "chained", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 50}


@pytest.fixture(scope="module")
def back(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with run_gateway(fake_settings(running_fake, api_keys=[BACK_KEY], heartbeat=0.05)) as gw:
        yield gw


@pytest.fixture(scope="module")
def front(back: RunningGateway) -> Iterator[RunningGateway]:
    settings = load_settings(
        flags={
            "upstreams": {"back": back.url},
            "upstream_kinds": {"back": "anthropic"},
            "models": {"chained": "back:fake"},
            "upstream_idle_timeout": 0.4,
            "demo_tokens_per_second": 0,
        },
        env={"SURESTREAM_UPSTREAM_KEY_BACK": BACK_KEY},
    )
    with run_gateway(settings) as gw:
        yield gw


async def _answer(front: RunningGateway) -> list[object]:
    async with (
        httpx.AsyncClient(base_url=front.url, timeout=20) as client,
        client.stream("POST", "/v1/chat/stream", json=BODY) as response,
    ):
        assert response.status_code == 200
        return [event for _, event in await read_native(response)]


async def test_a_silent_but_pinged_model_is_not_idle_to_the_front_gateway(
    front: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("stall_after=2,stall=1.0")
    events = await _answer(front)
    assert "".join(e.text for e in events if isinstance(e, Text)) == DEFAULT_TEXT
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"
    assert fake.fake.last.body["model"] == "fake-model"


async def test_a_failure_behind_both_keeps_its_code(
    front: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("cut_after=2")
    events = await _answer(front)
    assert "".join(e.text for e in events if isinstance(e, Text)) == "Hello from"
    assert events[-1] == Error("upstream_truncated", events[-1].message, False)  # type: ignore[union-attr]


async def test_the_back_gateway_pings_in_the_apis_own_shape(
    back: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("stall_after=1,stall=0.3")
    body = {**BODY, "model": "fake", "stream": True}
    async with httpx.AsyncClient(timeout=20) as client:
        answer = await client.post(
            f"{back.url}/v1/messages", json=body, headers={"x-api-key": BACK_KEY}
        )
    assert b'event: ping\ndata: {"type":"ping"}\n\n' in answer.content
    assert HEARTBEAT not in answer.content
