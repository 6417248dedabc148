"""Every fault of the fake upstream, through the gateway, as a client on the wire sees it.

Before the first token an upstream refusal is an HTTP error on the create call (no stream is
made); after it, the stream ends with an ``error`` event. The fake plays one scenario per
request (``FakeUpstream.enqueue``); the gateway reaches it through its real settings
(``upstreams`` / ``models``), with short upstream timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from tests.support.gateways import (
    FAKE_CHAT,
    RunningGateway,
    error_of,
    fake_settings,
    read_native,
    run_gateway,
)
from tests.support.servers import RunningFake
from tests.support.upstreams import wait_ended

from surestream.events import Done, Error, Text

pytestmark = pytest.mark.anyio

TIMEOUT = 0.5
"""The upstream timeouts of this module's gateway (first token and idle), in seconds."""


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    settings = fake_settings(
        running_fake,
        upstream_first_token_timeout=TIMEOUT,
        upstream_idle_timeout=TIMEOUT,
    )
    with run_gateway(settings) as running:
        yield running


REFUSALS = [
    ("status=429,retry_after=7", 429, "rate_limited"),
    ("status=401", 502, "upstream_error"),
    ("status=403", 502, "upstream_error"),
    ("status=404", 502, "upstream_error"),
    ("status=500", 502, "upstream_error"),
    ("status=503", 502, "upstream_error"),
    ("status=400,error_message=bad+thing", 400, "invalid_request"),
    ("header_delay=30", 504, "upstream_timeout"),
]


@pytest.mark.parametrize("path", ["/v1/streams", "/v1/chat/stream", "/v1/chat/completions"])
@pytest.mark.parametrize(("spec", "status", "code"), REFUSALS)
async def test_refusal_before_the_first_token_is_an_http_error(
    gw: RunningGateway, fake: RunningFake, path: str, spec: str, status: int, code: str
) -> None:
    fake.fake.enqueue(spec)
    body = {**FAKE_CHAT, "stream": True} if path.endswith("completions") else FAKE_CHAT
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        response = await client.post(path, json=body)
    assert response.status_code == status, response.text
    detail = error_of(response)
    assert detail["code"] == code
    assert "Traceback" not in detail["message"]
    if status == 429:
        assert response.headers["retry-after"] == "7"
    if spec.startswith("status=401"):
        assert "credentials" in detail["message"]
    if spec.startswith("status=400"):
        assert detail["message"] == "bad thing"
    assert gw.gateway.hub.producing == 0
    assert await wait_ended(fake.fake.last)


async def test_non_streaming_completion_maps_refusals_too(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("status=429,retry_after=3", "status=502", "header_delay=30")
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        answers = [await client.post("/v1/chat/completions", json=FAKE_CHAT) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 502, 504]
    assert answers[0].headers["retry-after"] == "3"


MID_STREAM = [
    ("error_after=2", "upstream_error"),
    ("error_after=2,done=false", "upstream_error"),
    ("stall_after=2", "upstream_timeout"),
    ("stall_after=2,ping=0.1", "upstream_timeout"),
    ("first_delay=30", "upstream_timeout"),
    ("cut_after=2", "upstream_truncated"),
    ("cut_after=2,reset=true", "upstream_truncated"),
    ("finish=false,done=false", "upstream_truncated"),
    ("inject=data%3A+%7Bnot+json%7D%0A%0A,inject_after=2", "upstream_error"),
    ("inject=event%3A+error%0Adata%3A+%7B%7D%0A%0A,inject_after=2", "upstream_error"),
]


@pytest.mark.parametrize(("spec", "code"), MID_STREAM)
async def test_mid_stream_failure_is_an_error_event(
    gw: RunningGateway, fake: RunningFake, spec: str, code: str
) -> None:
    fake.fake.enqueue(spec)
    async with (
        httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
        client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
    ):
        assert response.status_code == 200
        events = await read_native(response)
    last = events[-1][1]
    assert isinstance(last, Error), events
    assert last.code == code
    assert last.retryable is (code == "upstream_timeout")
    assert sum(isinstance(e, Error | Done) for _, e in events) == 1
    texts = "".join(e.text for _, e in events if type(e) is Text)
    if "after=2" in spec:
        assert texts == "Hello from"
    assert await wait_ended(fake.fake.last)


async def test_mid_stream_failure_in_the_openai_dialect(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("error_after=1,error_message=model+overloaded")
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        response = await client.post("/v1/chat/completions", json={**FAKE_CHAT, "stream": True})
    assert response.status_code == 200
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    error = orjson.loads(data[-1]) if data[-1] != "[DONE]" else orjson.loads(data[-2])
    assert error["error"]["code"] == "upstream_error"
    assert error["error"]["message"] == "model overloaded"


async def test_usage_and_finish_reason_are_carried_through(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("finish_reason=length", "usage=finish")
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        for expected in ("length", "stop"):
            async with client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response:
                events = await read_native(response)
            done = events[-1][1]
            assert isinstance(done, Done)
            assert done.finish_reason == expected
            assert done.usage == {"prompt_tokens": 2, "completion_tokens": 13, "total_tokens": 15}
    sent = fake.fake.requests[0].body
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["messages"] == FAKE_CHAT["messages"]


async def test_idle_timeout_ends_a_silent_stream_while_heartbeats_flow(
    fake: RunningFake,
) -> None:
    fake.fake.enqueue("stall_after=1,ping=0.05")
    settings = fake_settings(fake, idle_timeout=0.4, heartbeat=0.1)
    with run_gateway(settings) as gw:
        async with (
            httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
            client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
        ):
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert raw.count(b": ping\n\n") >= 1
    lines = [orjson.loads(line[6:]) for line in raw.splitlines() if line.startswith(b"data: ")]
    assert lines[-1]["type"] == "error"
    assert lines[-1]["error"]["code"] == "idle_timeout"
    assert [x["text"] for x in lines if x["type"] == "text"] == ["Hello"]
    record = fake.fake.last
    assert await wait_ended(record)
    assert record.client_closed


async def test_openai_client_going_away_closes_the_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("stall_after=2,stall=60")
    async with (
        httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
        client.stream(
            "POST", "/v1/chat/completions", json={**FAKE_CHAT, "stream": True}
        ) as response,
    ):
        async for line in response.aiter_lines():
            if '"content":" from"' in line:
                break
    record = fake.fake.last
    assert await wait_ended(record)
    assert record.client_closed and not record.completed


async def test_orphaned_journaled_stream_is_cancelled_after_orphan_grace(
    fake: RunningFake,
) -> None:
    fake.fake.enqueue("stall_after=2,stall=60")
    with run_gateway(fake_settings(fake, orphan_grace=0.3)) as gw:
        async with (
            httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
            client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
        ):
            location = response.headers["location"]
            async for line in response.aiter_lines():
                if '" from"' in line:
                    break
        record = fake.fake.last
        assert await wait_ended(record)
        assert record.client_closed
        async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
            tail = await client.get(location, headers={"Last-Event-ID": "2"})
    assert tail.text.rstrip().endswith('"finish_reason":"cancelled"}')
