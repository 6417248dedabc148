"""The gateway on the Redis store (the test redis-server): create, stream, resume, cancel, and
two gateway instances sharing one journal (a stream made on one is read and resumed on the
other).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import httpx
import pytest
from tests.support.gateways import CHAT, RunningGateway, read_native, run_gateway
from tests.support.servers import ServerProcess

from surestream.events import Done, Start, Text
from surestream.gateway.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

KEY = "sk-redis-test-00000000000"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _settings(redis_server: ServerProcess, prefix: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "store": f"{redis_server.url}/0",
        "redis_prefix": prefix,
        "demo_tokens_per_second": 0,
        "api_keys": [KEY],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"gwtest-{secrets.token_hex(4)}:"


@pytest.fixture(scope="module")
def pair(
    redis_server: ServerProcess, prefix: str
) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    with (
        run_gateway(_settings(redis_server, prefix)) as one,
        run_gateway(_settings(redis_server, prefix)) as two,
    ):
        yield one, two


async def test_create_stream_and_resume_on_redis(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    one, two = pair
    async with httpx.AsyncClient(base_url=one.url, headers=AUTH) as client:
        created = await client.post("/v1/streams", json=CHAT)
        assert created.status_code == 201, created.text
        url = created.json()["events_url"]
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            whole = await read_native(response)
        async with client.stream("GET", url, headers={"Last-Event-ID": "2"}) as response:
            resumed = await read_native(response)
        async with client.stream("GET", f"{url}?last_event_id=4") as response:
            by_query = await read_native(response)
        at_end = await client.get(url, headers={"Last-Event-ID": str(len(whole) - 1)})
        future = await client.get(url, headers={"Last-Event-ID": "100000"})
        missing = await client.get("/v1/streams/st_nothinghere000000000000/events")
    assert isinstance(whole[0][1], Start)
    assert isinstance(whole[-1][1], Done) and whole[-1][1].finish_reason == "stop"
    assert [sse_id for sse_id, _ in whole] == [str(n) for n in range(len(whole))]
    assert sum(type(e) is Text for _, e in whole) > 3
    assert resumed == whole[3:]
    assert by_query == whole[5:]
    assert at_end.status_code == 204
    assert future.status_code == 400
    assert missing.status_code == 404
    async with (
        httpx.AsyncClient(base_url=two.url, headers=AUTH) as other,
        other.stream("GET", url, headers={"Last-Event-ID": "1"}) as response,
    ):
        assert response.status_code == 200
        elsewhere = await read_native(response)
    assert elsewhere == whole[2:]


async def test_chat_stream_and_cancel_on_redis(pair: tuple[RunningGateway, RunningGateway]) -> None:
    one, two = pair
    async with httpx.AsyncClient(base_url=one.url, headers=AUTH) as client:
        async with client.stream("POST", "/v1/chat/stream", json=CHAT) as response:
            events = await read_native(response)
            location = response.headers["location"]
        assert isinstance(events[-1][1], Done)
        again = await client.get(location, headers={"Last-Event-ID": "0"})
        assert again.status_code == 200
    with run_gateway(_settings_for(one, demo_tokens_per_second=1)) as slow:
        async with httpx.AsyncClient(base_url=slow.url, headers=AUTH) as client:
            created = (await client.post("/v1/streams", json=CHAT)).json()
            async with httpx.AsyncClient(base_url=two.url, headers=AUTH) as other:
                cancelled = await other.delete(created["cancel_url"])
            assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
            async with client.stream("GET", created["events_url"]) as response:
                tail = await read_native(response)
    last = tail[-1][1]
    assert isinstance(last, Done) and last.finish_reason == "cancelled"


def _settings_for(running: RunningGateway, **overrides: object) -> Settings:
    values = running.gateway.settings.model_dump()
    values["api_keys"] = [KEY]
    values.update(overrides)
    return Settings(**values)


async def test_max_subscribers_holds_across_two_instances(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    one = pair[0]
    with (
        run_gateway(_settings_for(one, demo_tokens_per_second=1, max_subscribers=3)) as a,
        run_gateway(_settings_for(one, demo_tokens_per_second=1, max_subscribers=3)) as b,
    ):
        async with (
            httpx.AsyncClient(base_url=a.url, headers=AUTH) as on_a,
            httpx.AsyncClient(base_url=b.url, headers=AUTH) as on_b,
        ):
            created = (await on_a.post("/v1/streams", json=CHAT)).json()
            url = created["events_url"]
            async with contextlib.AsyncExitStack() as readers:
                for client in (on_a, on_b, on_b):
                    response = await readers.enter_async_context(client.stream("GET", url))
                    assert response.status_code == 200
                for client in (on_a, on_b):
                    refused = await client.get(url)
                    assert refused.status_code == 429, refused.text
                    assert "max_subscribers" in refused.json()["error"]["message"]
                    assert refused.headers["retry-after"] == "1"
            await on_b.delete(created["cancel_url"])
