"""The stream API over real HTTP: create, read in each dialect, resume, cancel, 404 / 410 / 400.

Every stream is read as raw bytes through ``surestream.sse.Decoder`` and the native dialect
decoder, so what is asserted is what a client on the wire gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

import anyio
import httpx
import orjson
import pytest
from tests.support.gateways import (
    CHAT,
    FAKE_CHAT,
    RunningGateway,
    error_of,
    fake_settings,
    read_native,
    read_sse,
    run_gateway,
    sse_events,
)
from tests.support.servers import RunningFake
from tests.support.upstreams import wait_ended

from surestream.dialects import DIALECTS
from surestream.events import Done, Error, Start, Text
from surestream.gateway.app import DialectName
from surestream.gateway.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    with run_gateway() as running:
        yield running


async def _create(client: httpx.AsyncClient, body: object = CHAT) -> dict[str, str]:
    created = await client.post("/v1/streams", json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, str] = created.json()
    assert created.headers["location"] == answer["events_url"]
    return answer


async def test_chat_stream_is_a_done_terminated_native_stream(gw: RunningGateway) -> None:
    async with (
        httpx.AsyncClient(base_url=gw.url) as client,
        client.stream("POST", "/v1/chat/stream", json=CHAT) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["surestream-protocol"] == "1"
        location = response.headers["location"]
        events = await read_native(response)
    stream_id = response.headers["surestream-stream-id"]
    assert location == f"/v1/streams/{stream_id}/events"
    ids = [sse_id for sse_id, _ in events]
    assert ids == [str(n) for n in range(len(events))]
    assert isinstance(events[0][1], Start) and events[0][1].stream == stream_id
    assert all(type(e) is Text for _, e in events[1:-1]) and len(events) > 3
    last = events[-1][1]
    assert isinstance(last, Done) and last.finish_reason == "stop"
    assert last.usage is not None and last.usage["completion_tokens"] == len(events) - 2
    async with (
        httpx.AsyncClient(base_url=gw.url) as client,
        client.stream("GET", location, headers={"Last-Event-ID": "1"}) as again,
    ):
        assert again.status_code == 200
        assert await read_native(again) == events[2:]


async def test_create_then_read_events_url(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await _create(client)
        assert created["id"].startswith("st_")
        assert created["cancel_url"] == f"/v1/streams/{created['id']}"
        assert "read_token" not in created
        async with client.stream("GET", created["events_url"]) as response:
            assert response.status_code == 200
            events = await read_native(response)
    assert isinstance(events[0][1], Start) and events[0][1].model == "demo"
    text = "".join(e.text for _, e in events if type(e) is Text)
    assert len(text.split()) > 3
    assert isinstance(events[-1][1], Done)


@pytest.mark.parametrize("dialect", ["openai", "vercel-ai"])
async def test_events_url_in_other_dialects(gw: RunningGateway, dialect: str) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await _create(client)
        async with client.stream("GET", created["events_url"] + f"?dialect={dialect}") as resp:
            assert resp.status_code == 200
            events = await read_sse(resp)
        native = await client.get(created["events_url"])
    assert events[-1].data == "[DONE]"
    payloads = [orjson.loads(e.data) for e in events[:-1]]
    if dialect == "openai":
        text = "".join(
            p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"]
        )
        assert payloads[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        assert resp.headers["x-vercel-ai-ui-message-stream"] == "v1"
        text = "".join(p["delta"] for p in payloads if p["type"] == "text-delta")
        assert payloads[-1]["type"] == "finish"
    native_text = "".join(
        orjson.loads(line[6:]).get("text", "")
        for line in native.text.splitlines()
        if line.startswith("data: ")
    )
    assert text == native_text and text


async def test_unknown_dialect_is_400_naming_it(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await _create(client)
        response = await client.get(created["events_url"] + "?dialect=klingon")
    assert response.status_code == 400
    assert error_of(response)["field"] == "dialect"
    assert "native" in error_of(response)["message"]


def test_the_dialect_parameter_lists_every_dialect() -> None:
    assert set(get_args(DialectName)) == set(DIALECTS)


async def test_resume_with_header_and_query(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await _create(client)
        async with client.stream("GET", created["events_url"]) as response:
            whole = await read_native(response)
        async with client.stream(
            "GET", created["events_url"], headers={"Last-Event-ID": "2"}
        ) as response:
            by_header = await read_native(response)
        async with client.stream("GET", created["events_url"] + "?last_event_id=3") as response:
            by_query = await read_native(response)
        last = str(len(whole) - 1)
        after_terminal = await client.get(created["events_url"], headers={"Last-Event-ID": last})
    assert by_header == whole[3:]
    assert by_query == whole[4:]
    assert after_terminal.status_code == 204 and after_terminal.content == b""


@pytest.mark.parametrize(
    ("header", "query"),
    [("abc", None), (None, "1.5"), ("99999", None), (None, "-7"), ("1" * 19, None)],
)
async def test_bad_or_future_resume_ids_are_400(
    gw: RunningGateway, header: str | None, query: str | None
) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await _create(client)
        url = created["events_url"] + (f"?last_event_id={query}" if query is not None else "")
        headers = {"Last-Event-ID": header} if header is not None else {}
        response = await client.get(url, headers=headers)
    assert response.status_code == 400, response.text
    detail = error_of(response)
    assert detail["code"] in {"invalid_last_event_id", "invalid_request"}
    assert "last" in detail["message"].lower() or "resume" in detail["message"].lower()


@pytest.mark.parametrize("stream_id", ["st_doesnotexist0000000000", "x" * 65, "bad%20id"])
async def test_unknown_stream_is_404(gw: RunningGateway, stream_id: str) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        events = await client.get(f"/v1/streams/{stream_id}/events")
        cancel = await client.delete(f"/v1/streams/{stream_id}")
    for response in (events, cancel):
        assert response.status_code == 404, response.text
        assert error_of(response)["code"] == "not_found"


async def test_expired_journal_is_410() -> None:
    with run_gateway(Settings(demo_tokens_per_second=0, retention=0.2)) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            created = await _create(client)
            async with client.stream("GET", created["events_url"]) as response:
                events = await read_native(response)
            assert isinstance(events[-1][1], Done)
            for _ in range(200):  # the journal expires 0.2 s after its end
                response = await client.get(created["events_url"])
                if response.status_code != 200:
                    break
                await anyio.sleep(0.05)
            assert response.status_code == 410
            assert error_of(response)["code"] == "gone"
            cancel = await client.delete(created["cancel_url"])
            assert cancel.status_code == 410


async def test_delete_cancels_subscribers_and_closes_the_upstream(fake: RunningFake) -> None:
    fake.fake.enqueue("stall_after=2")
    with run_gateway(fake_settings(fake)) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            created = await _create(client, FAKE_CHAT)
            texts: list[str] = []
            async with client.stream("GET", created["events_url"]) as response:
                decoder_events = sse_events(response)
                async for sse in decoder_events:
                    payload = orjson.loads(sse.data)
                    if payload["type"] == "text":
                        texts.append(payload["text"])
                    if len(texts) == 2:
                        break
                cancel = await client.delete(created["cancel_url"])
                assert cancel.status_code == 200
                assert cancel.json() == {"id": created["id"], "cancelled": True}
                rest = [orjson.loads(sse.data) async for sse in decoder_events]
            again = await client.delete(created["cancel_url"])
    assert texts == ["Hello", " from"]
    assert rest == [{"type": "done", "done": True, "finish_reason": "cancelled"}]
    assert again.status_code == 200 and again.json()["cancelled"] is False
    record = fake.fake.last
    assert await wait_ended(record)
    assert record.client_closed and not record.completed


async def test_two_subscribers_see_the_same_stream(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await _create(client)
        results: list[list[object]] = []

        async def read() -> None:
            async with client.stream("GET", created["events_url"]) as response:
                results.append(await read_native(response))

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            tg.start_soon(read)
    assert results[0] == results[1]
    assert isinstance(results[0][-1], tuple) and isinstance(results[0][-1][1], Done)


async def test_failed_stream_is_an_error_event_not_a_hang(fake: RunningFake) -> None:
    fake.fake.enqueue("error_after=1")
    with run_gateway(fake_settings(fake)) as gw:
        async with (
            httpx.AsyncClient(base_url=gw.url) as client,
            client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
        ):
            events = await read_native(response)
    last = events[-1][1]
    assert isinstance(last, Error) and last.code == "upstream_error"
