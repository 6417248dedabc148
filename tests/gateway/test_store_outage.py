"""The gateway over a store that cannot be used: Redis down from the start, or a Redis that
answers writes with ``-OOM`` / ``-READONLY`` while streams are open.

``/healthz`` stays 200 (liveness), ``/readyz`` is 503 with ``Retry-After``; a create is 503
with ``Retry-After`` and costs no upstream call; an open reader ends with ``error
store_unavailable`` (retryable); no body names where the store is.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from tests.support.gateways import FAKE_CHAT, error_of, fake_settings, run_gateway, sse_events
from tests.support.redis_faults import REFUSALS, accept_writes, refuse_writes
from tests.support.servers import RunningFake, ServerProcess, free_port, redis_process

from surestream.dialects import get_dialect
from surestream.events import Error, Text

pytestmark = pytest.mark.anyio

HANG_GUARD = 60.0


@pytest.fixture
def own_redis() -> Iterator[ServerProcess]:
    with redis_process() as server:
        yield server


def assert_unavailable(response: httpx.Response, where: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert error_of(response) == {
        "code": "unavailable",
        "message": "the stream store is unavailable",
    }
    assert where not in response.text


async def test_redis_down_from_the_start_is_live_not_ready_and_costs_no_upstream_call(
    fake: RunningFake,
) -> None:
    port = free_port()
    settings = fake_settings(fake, store=f"redis://127.0.0.1:{port}/0")
    with run_gateway(settings) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            created = await client.post("/v1/streams", json=FAKE_CHAT)
            in_one = await client.post("/v1/chat/stream", json=FAKE_CHAT)
    assert health.status_code == 200
    for response in (ready, created, in_one):
        assert_unavailable(response, str(port))
    assert fake.fake.requests == [], "the upstream must not be called"


async def test_memory_store_is_always_ready(fake: RunningFake) -> None:
    with run_gateway(fake_settings(fake)) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def read_until_texts(events: Any, decoder: Any, count: int, out: list[Any]) -> None:
    while sum(type(event) is Text for event in out) < count:
        out.extend(decoder.decode(await anext(events)))


@pytest.mark.parametrize("how", REFUSALS)
async def test_refusing_redis_ends_readers_and_refuses_creates(
    fake: RunningFake, own_redis: ServerProcess, how: str
) -> None:
    settings = fake_settings(
        fake,
        store=f"{own_redis.url}/0",
        redis_prefix=f"t{secrets.token_hex(4)}:",
        lease_ttl=1.0,
    )
    fake.fake.enqueue("stall_after=3")
    with run_gateway(settings) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=HANG_GUARD) as client:
            got: list[Any] = []
            decoder = get_dialect("native").decoder()
            async with client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response:
                events = sse_events(response)
                await read_until_texts(events, decoder, 3, got)
                await refuse_writes(own_redis.url, how)
                with anyio.fail_after(HANG_GUARD):
                    async for sse in events:
                        got.extend(decoder.decode(sse))
            created = await client.post("/v1/streams", json=FAKE_CHAT)
            ready = await client.get("/readyz")
            calls = len(fake.fake.requests)
            await accept_writes(own_redis.url, how)
            ready_again = await client.get("/readyz")
            created_again = await client.post("/v1/streams", json=FAKE_CHAT)
    assert got[-1] == Error("store_unavailable", "the stream store is unavailable", True)
    assert_unavailable(created, str(own_redis.port))
    assert_unavailable(ready, str(own_redis.port))
    assert calls == 1, "the refused create must not call the upstream"
    assert ready_again.status_code == 200
    assert created_again.status_code == 201, created_again.text
