"""The client against real uvicorn servers: outcomes, timers, dialects, plain SSE servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from surestream.client import StreamFailed, StreamInterrupted, aconnect
from surestream.events import Data, Done, Error, Start, Text
from tests.client.apps import Journal, answer, app, native_blocks, raw_route
from tests.support.servers import ServerThread, free_port, serve_in_thread

pytestmark = pytest.mark.anyio

WORDS = ["Hello", " ", "world", "!"]
FAST = {"retry_delay": 0.01, "max_retry_delay": 0.05}


class Pings:
    """Counts heartbeats a never-ending stream sent."""

    sent = 0


async def heartbeats_only() -> AsyncIterator[bytes]:
    yield b'id: 0\ndata: {"type":"start"}\n\n'
    while True:
        await asyncio.sleep(0.02)
        Pings.sent += 1
        yield b": ping\n\n"


JOURNALS = {
    "ok": Journal(native_blocks(answer(WORDS))),
    "failed": Journal(native_blocks(answer(WORDS[:2], Error("upstream_error", "boom", False)))),
    "held": Journal(native_blocks(answer(WORDS)), hold_open=True),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    extra = [raw_route("/heartbeats", heartbeats_only)]
    with serve_in_thread(app(JOURNALS, extra)) as running:
        yield running


async def test_completed_stream_gives_typed_events_and_text(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/streams/ok") as stream:
        events = [event async for event in stream]
        assert await stream.text() == "Hello world!"
    assert events == answer(WORDS)
    assert stream.outcome == Done()
    assert stream.last_event_id == str(len(WORDS) + 1)
    assert stream.attempts == 1
    assert stream.dialect == "native"


async def test_error_event_is_the_outcome_and_text_raises_stream_failed(
    server: ServerThread,
) -> None:
    async with aconnect(f"{server.url}/streams/failed") as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamFailed) as info:
            await stream.text()
    assert events[-1] == Error("upstream_error", "boom", False)
    assert info.value.error == Error("upstream_error", "boom", False)
    assert stream.outcome == info.value.error


async def test_no_reconnect_after_terminal_event_even_if_the_server_keeps_the_connection(
    server: ServerThread,
) -> None:
    journal = JOURNALS["held"]
    async with aconnect(f"{server.url}/streams/held", **FAST) as stream:
        assert await stream.text() == "Hello world!"
        events = [event async for event in stream]
    assert events == []
    assert journal.gets == 1
    assert stream.attempts == 1


async def test_heartbeats_keep_the_connection_but_idle_timeout_ends_the_stream(
    server: ServerThread,
) -> None:
    Pings.sent = 0
    async with aconnect(
        f"{server.url}/heartbeats",
        idle_timeout=0.5,
        http_timeout=httpx.Timeout(5.0, read=0.3),
        **FAST,
    ) as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamInterrupted) as info:
            await stream.text()
    assert events == [Start()]
    assert stream.outcome is None
    assert "idle_timeout" in info.value.reason
    assert info.value.attempts == 1  # the 0.3 s read timeout never fired: pings are bytes
    assert info.value.last_event_id == "0"
    assert Pings.sent >= 2


async def test_a_plain_sse_starlette_stream_without_terminal_is_interrupted_never_done() -> None:
    requests = []

    async def ticks(request: Request) -> EventSourceResponse:
        requests.append(request)

        async def source() -> AsyncIterator[dict[str, str]]:
            for i in range(3):
                yield {"data": f"tick {i}"}

        return EventSourceResponse(source())

    with serve_in_thread(Starlette(routes=[Route("/ticks", ticks)])) as plain:
        async with aconnect(f"{plain.url}/ticks", **FAST) as stream:
            events = [event async for event in stream]
            with pytest.raises(StreamInterrupted) as info:
                await stream.text()
    assert events == [Data("tick 0"), Data("tick 1"), Data("tick 2")]
    assert stream.outcome is None
    assert stream.dialect is None
    assert info.value.attempts == 1  # no id to resume from: a replay would duplicate
    assert len(requests) == 1


async def test_unreachable_post_is_interrupted_and_not_retried() -> None:
    url = f"http://127.0.0.1:{free_port()}/create/x"
    async with aconnect(url, method="POST", json={}, **FAST) as stream:
        assert [event async for event in stream] == []
    assert stream.attempts == 1
    assert stream.interruption is not None and "request failed" in stream.interruption


async def test_http_error_on_first_request_raises_with_the_response(server: ServerThread) -> None:
    with pytest.raises(httpx.HTTPStatusError) as info:
        async with aconnect(f"{server.url}/streams/missing"):
            pass
    assert info.value.response.status_code == 404
    assert info.value.response.json() == {"error": "no such stream"}


async def test_text_concatenates_only_text_events(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/streams/ok") as stream:
        first = await anext(stream)
        assert first == Start("st_1", "demo")
        assert isinstance(await anext(stream), Text)
        assert await stream.text() == "Hello world!"
