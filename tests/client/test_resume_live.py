"""Resume against a real server behind a breakable proxy: exactly once, in order, never re-POST."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from surestream.client import StreamFailed, StreamInterrupted, aconnect
from surestream.events import Error, Text, dumps
from tests.client.apps import Journal, answer, app, native_blocks
from tests.support.proxy import Proxy
from tests.support.servers import ServerThread, serve_in_thread

pytestmark = pytest.mark.anyio

WORDS = [f"w{i} " for i in range(40)]
EVENTS = answer(WORDS)
TEXT = "".join(WORDS)
FAST = {"retry_delay": 0.01, "max_retry_delay": 0.05}


def journal(**options: object) -> Journal:
    return Journal(native_blocks(EVENTS), **options)  # type: ignore[arg-type]


@pytest.fixture
def journals() -> dict[str, Journal]:
    shutdown = Error("server_shutdown", "bye", True)
    return {
        "s": journal(),
        "replayer": journal(replay_all=True),
        "gone404": journal(resume_status=404),
        "gone410": journal(resume_status=410),
        "stuck": journal(stop_at=10),
        "no-location": journal(location=False),
        "shutdown-gone": journal(
            first_cut=(10, b"data: " + dumps(shutdown) + b"\n\n"), resume_status=410
        ),
        "shutdown": journal(first_cut=(10, b"data: " + dumps(shutdown) + b"\n\n")),
        "verdict-at-resume": journal(
            resume_tail=b"id: 6\ndata: " + dumps(Error("idle_timeout", "idle")) + b"\n\n"
        ),
    }


@pytest.fixture
def server(journals: dict[str, Journal]) -> Iterator[ServerThread]:
    with serve_in_thread(app(journals)) as running:
        yield running


HEAD_END = b"\r\n\r\n"


def chunk(block: bytes) -> int:
    """Bytes of ``block`` as one HTTP/1.1 chunk."""
    return len(b"%x\r\n" % len(block)) + len(block) + 2


def cut_point(blocks: list[bytes], whole: int) -> int:
    """Body bytes up to the middle of block ``whole`` (blocks 0..whole-1 arrive whole)."""
    return chunk(b"retry: 10\n\n") + sum(chunk(b) for b in blocks[:whole]) + 9


async def test_cut_mid_event_resumes_with_last_event_id_exactly_once(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals["s"].blocks, 7), after=HEAD_END)
        async with aconnect(f"{proxy.url}/streams/s", **FAST) as stream:
            events = [event async for event in stream]
        assert proxy.broken.is_set()
        assert proxy.connections == 2
    assert events == EVENTS
    assert stream.attempts == 2
    assert journals["s"].last_event_ids == [None, "6"]


async def test_a_verdict_made_up_at_the_resume_point_is_not_taken_for_a_duplicate(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals["verdict-at-resume"].blocks, 7), after=HEAD_END)
        async with aconnect(f"{proxy.url}/streams/verdict-at-resume", **FAST) as stream:
            with pytest.raises(StreamFailed) as failed:
                await stream.text()
    assert failed.value.error.code == "idle_timeout"
    assert stream.attempts == 2
    assert journals["verdict-at-resume"].last_event_ids == [None, "6"]


async def test_post_created_stream_resumes_from_location_and_is_never_posted_again(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals["s"].blocks, 20), after=HEAD_END)
        async with aconnect(
            f"{proxy.url}/create/s", method="POST", json={"q": "hi"}, **FAST
        ) as stream:
            assert await stream.text() == TEXT
    assert journals["s"].posts == 1
    assert journals["s"].gets == 1
    assert journals["s"].last_event_ids == [None, "19"]
    assert stream.events_url == f"{proxy.url}/streams/s"


async def test_a_server_that_replays_everything_is_deduplicated(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals["replayer"].blocks, 15), after=HEAD_END)
        async with aconnect(f"{proxy.url}/streams/replayer", **FAST) as stream:
            events = [event async for event in stream]
    assert events == EVENTS
    assert journals["replayer"].last_event_ids == [None, "14"]


@pytest.mark.parametrize("name", ["gone404", "gone410"])
async def test_404_or_410_on_reconnect_stops_at_once(
    server: ServerThread, journals: dict[str, Journal], name: str
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals[name].blocks, 5), after=HEAD_END)
        async with aconnect(f"{proxy.url}/streams/{name}", max_retries=5, **FAST) as stream:
            events = [event async for event in stream]
            with pytest.raises(StreamInterrupted) as info:
                await stream.text()
    assert events == EVENTS[:5]
    assert info.value.last_event_id == "4"
    assert info.value.attempts == 2
    assert name[-3:] in info.value.reason


async def test_attempts_exhausted_without_progress(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with aconnect(f"{server.url}/streams/stuck", max_retries=3, **FAST) as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamInterrupted) as info:
            await stream.text()
    assert events == EVENTS[:10]
    assert stream.outcome is None
    assert info.value.attempts == 4
    assert info.value.last_event_id == "9"
    assert "gave up after 3" in info.value.reason
    assert journals["stuck"].last_event_ids == [None, "9", "9", "9"]


async def test_retryable_error_is_resumed_and_the_stream_completes(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with aconnect(f"{server.url}/streams/shutdown", **FAST) as stream:
        events = [event async for event in stream]
    assert events == EVENTS
    assert stream.attempts == 2
    assert journals["shutdown"].last_event_ids == [None, "9"]


async def test_read_timeout_on_a_stalled_connection_resumes(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.stall_after(cut_point(journals["s"].blocks, 12), after=HEAD_END)
        async with aconnect(
            f"{proxy.url}/streams/s", http_timeout=httpx.Timeout(5.0, read=0.3), **FAST
        ) as stream:
            assert await stream.text() == TEXT
    assert stream.attempts == 2
    assert journals["s"].last_event_ids == [None, "11"]


async def test_resume_off_reports_the_cut_as_interrupted(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals["s"].blocks, 3), after=HEAD_END)
        async with aconnect(f"{proxy.url}/streams/s", resume=False) as stream:
            events = [event async for event in stream]
    assert events == EVENTS[:3]
    assert stream.outcome is None
    assert stream.attempts == 1
    assert all(isinstance(e, Text) for e in events[1:])


async def test_retryable_error_that_cannot_be_resumed_is_the_outcome(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with aconnect(f"{server.url}/streams/shutdown-gone", **FAST) as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamFailed) as info:
            await stream.text()
    assert events == [*EVENTS[:10], Error("server_shutdown", "bye", True)]
    assert info.value.error.code == "server_shutdown"
    assert stream.attempts == 2


async def test_post_without_location_is_not_resumed_and_never_posted_again(
    server: ServerThread, journals: dict[str, Journal]
) -> None:
    async with Proxy(server.port) as proxy:
        proxy.cut_after(cut_point(journals["no-location"].blocks, 4), after=HEAD_END)
        async with aconnect(
            f"{proxy.url}/create/no-location", method="POST", json={}, **FAST
        ) as stream:
            events = [event async for event in stream]
            with pytest.raises(StreamInterrupted) as info:
                await stream.text()
    assert events == EVENTS[:4]
    assert stream.events_url is None
    assert info.value.attempts == 1
    assert journals["no-location"].posts == 1
    assert journals["no-location"].gets == 0
