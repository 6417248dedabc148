"""EventStreamResponse against a real uvicorn on 127.0.0.1; every body checked by our decoder."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

import surestream.server
from surestream.errors import SourceFailed
from surestream.events import Data, Done, Error, Start, Status, Text
from surestream.server import EventStreamResponse
from tests.server._helpers import (
    Gate,
    Probe,
    RawClient,
    app_with,
    assert_verdict,
    decode,
    fetch,
    scripted,
    serving,
    verdict_code,
)
from tests.support.servers import serve_in_thread


def texts(events: list[Any]) -> list[str]:
    return [e.text for e in events if isinstance(e, Text)]


def test_public_names_are_pinned() -> None:
    assert surestream.server.__all__ == [
        "DEFAULT_CLOSE_TIMEOUT",
        "DEFAULT_HEARTBEAT",
        "DEFAULT_IDLE_TIMEOUT",
        "DEFAULT_MAX_BUFFER",
        "DEFAULT_RETRY",
        "DEFAULT_SEND_TIMEOUT",
        "DETACH_SCOPE_KEY",
        "HEARTBEAT",
        "RETRY_AFTER",
        "SHUTDOWN_POLL_INTERVAL",
        "DetachStreams",
        "EventStreamResponse",
        "OnClose",
        "SourceItem",
        "request_shutdown",
    ]
    for name in surestream.server.__all__:
        assert hasattr(surestream.server, name)


def test_headers_add_to_and_override_the_defaults_which_responses_share() -> None:
    async def nothing() -> AsyncIterator[str]:
        yield "x"

    plain = EventStreamResponse(nothing())
    custom = EventStreamResponse(
        nothing(), headers={"Cache-Control": "no-store", "Location": "/v1/streams/st_1/events"}
    )
    openai = EventStreamResponse(nothing(), dialect="openai")
    assert dict(custom.raw_headers) == {
        b"cache-control": b"no-store",
        b"x-accel-buffering": b"no",
        b"surestream-protocol": b"1",
        b"content-type": b"text/event-stream; charset=utf-8",
        b"location": b"/v1/streams/st_1/events",
    }
    assert b"surestream-protocol" not in dict(openai.raw_headers)
    # the encoded defaults are built once per dialect, not once per open stream
    again = EventStreamResponse(nothing()).raw_headers
    assert all(a is b for a, b in zip(plain.raw_headers, again, strict=True))
    assert custom.raw_headers[0] is plain.raw_headers[1]  # x-accel-buffering, shared


def test_headers_retry_first_then_start_and_text() -> None:
    probe = Probe()
    source = scripted(probe, ["Hel", Text("lo")])
    resp = lambda r: EventStreamResponse(source, stream_id="st_1", model="demo")  # noqa: E731
    with serving(resp) as server:
        got = fetch(server.url + "/s")
    assert got.status == 200
    assert got.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert got.headers["cache-control"] == "no-cache, no-transform"
    assert got.headers["x-accel-buffering"] == "no"
    assert got.headers["surestream-protocol"] == "1"
    assert "content-encoding" not in got.headers
    assert got.raw.startswith(b"retry: 3000\nid: 0\ndata: {"), "retry in the first block"
    assert got.events == [Start("st_1", "demo"), Text("Hel"), Text("lo"), Done()]
    assert [s.id for s in got.sse] == ["0", "1", "2", "3"]
    assert got.sse[0].retry == 3000
    assert probe.closed.is_set()


def test_never_compressed_even_behind_gzip_middleware() -> None:
    long_text = "compressible " * 200
    resp = lambda r: EventStreamResponse(scripted(Probe(), [long_text] * 5))  # noqa: E731
    app = GZipMiddleware(app_with(resp), minimum_size=0)
    with serve_in_thread(app) as server:
        got = fetch(server.url + "/s", **{"accept-encoding": "gzip"})
    assert "content-encoding" not in got.headers
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(got.raw)
    assert texts(got.events) == [long_text] * 5
    assert_verdict(got.events)


def test_source_end_gives_done_and_its_own_done_is_kept() -> None:
    own = Done("length", {"prompt_tokens": 3, "completion_tokens": 2})
    plain, kept = Probe(), Probe()
    sources = {"plain": scripted(plain, ["a", "b"]), "kept": scripted(kept, ["a", own, "never"])}
    resp = lambda r: EventStreamResponse(sources[r.query_params["k"]])  # noqa: E731
    with serving(resp) as server:
        first = fetch(server.url + "/s?k=plain")
        second = fetch(server.url + "/s?k=kept")
    assert assert_verdict(first.events) == Done("stop")
    assert assert_verdict(second.events) == own
    assert texts(second.events) == ["a"]
    assert kept.yielded == 2, "nothing is read after the source's own terminal event"
    assert plain.closed.is_set() and kept.closed.is_set()


def test_error_in_the_middle_ends_the_stream_there() -> None:
    probe = Probe()
    failure = Error("rate_limited", "slow down", True)
    resp = lambda r: EventStreamResponse(scripted(probe, ["a", failure, "b"]))  # noqa: E731
    with serving(resp) as server:
        got = fetch(server.url + "/s")
    assert assert_verdict(got.events) == failure
    assert texts(got.events) == ["a"]
    assert probe.closed.is_set()


def test_source_raising_gives_internal_error_with_a_safe_message_and_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def leaky() -> AsyncIterator[str]:
        yield "partial"
        raise RuntimeError("token sk-SECRET rejected")

    caplog.set_level(logging.ERROR, logger="surestream.server")
    with serving(lambda r: EventStreamResponse(leaky())) as server:
        got = fetch(server.url + "/s")
    verdict = assert_verdict(got.events)
    assert verdict == Error("internal_error", "internal error", False)
    assert b"sk-SECRET" not in got.raw and b"Traceback" not in got.raw
    logged = [r for r in caplog.records if r.name == "surestream.server"]
    assert logged and logged[0].exc_info is not None
    assert "sk-SECRET" in str(logged[0].exc_info[1])


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            SourceFailed("upstream_error", "the model provider failed"),
            Error("upstream_error", "the model provider failed", False),
        ),
        (
            SourceFailed("upstream_truncated", "the provider stream ended early"),
            Error("upstream_truncated", "the provider stream ended early", False),
        ),
        (SourceFailed("upstream_timeout"), Error("upstream_timeout", "upstream timeout", True)),
        (
            SourceFailed("upstream_error", "busy", retryable=True),
            Error("upstream_error", "busy", True),
        ),
    ],
)
def test_source_failed_ends_with_its_code(failure: SourceFailed, expected: Error) -> None:
    async def failing() -> AsyncIterator[str]:
        yield "partial"
        raise failure

    with serving(lambda r: EventStreamResponse(failing())) as server:
        got = fetch(server.url + "/s")
    assert assert_verdict(got.events) == expected
    assert texts(got.events) == ["partial"]


def test_a_bad_item_from_the_source_is_an_internal_error() -> None:
    probe = Probe()
    resp = lambda r: EventStreamResponse(scripted(probe, ["ok", b"bytes?"]))  # noqa: E731
    with serving(resp) as server:
        got = fetch(server.url + "/s")
    assert verdict_code(got.events) == "internal_error"
    assert probe.closed.is_set()


def test_idle_source_gets_heartbeats_then_idle_timeout() -> None:
    probe, never = Probe(), Gate()
    resp = lambda r: EventStreamResponse(  # noqa: E731
        scripted(probe, ["a"], then=never), heartbeat=0.05, idle_timeout=0.3
    )
    with serving(resp) as server:
        got = fetch(server.url + "/s")
    verdict = assert_verdict(got.events)
    assert verdict == Error("idle_timeout", "the source sent nothing for 0.3 s", False)
    body = got.raw.split(b'"text":"a"}\n\n', 1)[1]
    assert body.startswith(b": ping\n\n: ping\n\n"), "heartbeats while the source is silent"
    assert texts(got.events) == ["a"], "a heartbeat is not an event"
    assert probe.closed.is_set(), "the silent source was cancelled"


def test_slow_but_healthy_source_is_not_killed() -> None:
    async def slow() -> AsyncIterator[str]:
        for word in ["one", "two", "three", "four", "five"]:
            await asyncio.sleep(0.1)
            yield word

    resp = lambda r: EventStreamResponse(slow(), heartbeat=0.04, idle_timeout=0.4)  # noqa: E731
    with serving(resp) as server:
        got = fetch(server.url + "/s")
    assert assert_verdict(got.events) == Done()
    assert texts(got.events) == ["one", "two", "three", "four", "five"]
    assert got.raw.count(b": ping\n\n") >= 2


def test_first_event_timeout_and_its_precedence_over_idle() -> None:
    never = Gate()

    async def late_first_token() -> AsyncIterator[Any]:
        await asyncio.sleep(0.4)
        yield "finally"
        yield Status("then quick")

    def resp(request: Request) -> EventStreamResponse:
        if request.query_params["k"] == "never":
            return EventStreamResponse(
                scripted(Probe(), [], then=never), first_event_timeout=0.2, idle_timeout=None
            )
        return EventStreamResponse(late_first_token(), first_event_timeout=5, idle_timeout=0.2)

    with serving(resp) as server:
        silent = fetch(server.url + "/s?k=never")
        late = fetch(server.url + "/s?k=late")
    assert verdict_code(silent.events) == "first_event_timeout"
    assert silent.events[0] == Start(), "the response's own Start is not a first event"
    assert assert_verdict(late.events) == Done()
    assert texts(late.events) == ["finally"]


def test_max_duration_ends_a_busy_stream() -> None:
    probe = Probe()

    async def endless() -> AsyncIterator[str]:
        probe.start()
        try:
            while True:
                await asyncio.sleep(0.02)
                yield "tick"
        finally:
            probe.close()

    with serving(lambda r: EventStreamResponse(endless(), max_duration=0.25)) as server:
        got = fetch(server.url + "/s")
    verdict = assert_verdict(got.events)
    assert verdict == Error("max_duration", "the stream ran for 0.25 s", False)
    assert texts(got.events)
    assert probe.closed.is_set()


@pytest.mark.parametrize("when", ["before the first token", "mid-stream, source silent"])
def test_disconnect_while_the_source_is_silent_cancels_it_within_1s(when: str) -> None:
    probe, never = Probe(), Gate()
    items = [] if when == "before the first token" else ["first", "second"]
    resp = lambda r: EventStreamResponse(  # noqa: E731
        scripted(probe, items, then=never), on_close=probe.on_close
    )
    with serving(resp) as server:
        client = RawClient(server.port)
        client.read_until(b'"type":"start"' if not items else b'"second"')
        assert never.waiting.wait(10), "the source is waiting on its upstream"
        hung_up_at = client.hang_up()
        assert probe.closed.wait(10)
        assert probe.closed_at - hung_up_at < 1.0
        assert probe.closed_outcome.wait(10)
    assert probe.outcomes == [None], "no verdict reached the client"


def test_disconnect_while_writing_cancels_the_source_within_1s() -> None:
    probe = Probe()

    async def firehose() -> AsyncIterator[str]:
        probe.start()
        try:
            n = 0
            while True:
                n += 1
                probe.yielded = n
                if n % 100 == 0:
                    await asyncio.sleep(0)
                yield f"token {n}"
        finally:
            probe.close()

    with serving(lambda r: EventStreamResponse(firehose())) as server:
        client = RawClient(server.port)
        client.read_until(b'"token 5000"')
        hung_up_at = client.hang_up()
        assert probe.closed.wait(10)
        assert probe.closed_at - hung_up_at < 1.0


def test_disconnect_is_noticed_through_base_http_middleware() -> None:
    probe, never = Probe(), Gate()

    async def passthrough(request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)

    app = app_with(lambda r: EventStreamResponse(scripted(probe, ["a"], then=never)))
    with serve_in_thread(BaseHTTPMiddleware(app, dispatch=passthrough)) as server:
        client = RawClient(server.port)
        client.read_until(b'"text":"a"')
        assert never.waiting.wait(10)
        hung_up_at = client.hang_up()
        assert probe.closed.wait(10)
        assert probe.closed_at - hung_up_at < 1.0


def test_aclose_of_a_plain_async_iterator_is_called() -> None:
    closed: list[str] = []

    class Upstream:
        def __init__(self) -> None:
            self.items = ["x", "y"]

        def __aiter__(self) -> Upstream:
            return self

        async def __anext__(self) -> str:
            if not self.items:
                raise StopAsyncIteration
            return self.items.pop(0)

        async def aclose(self) -> None:
            closed.append("aclose")

    with serving(lambda r: EventStreamResponse(Upstream())) as server:
        got = fetch(server.url + "/s")
    assert texts(got.events) == ["x", "y"]
    assert closed == ["aclose"]


def test_slow_consumer_is_dropped_and_memory_stays_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe = Probe()
    token = "x" * 1000

    async def firehose() -> AsyncIterator[str]:
        probe.start()
        try:
            while True:
                probe.yielded += 1
                if probe.yielded % 50 == 0:
                    await asyncio.sleep(0)
                yield token
        finally:
            probe.close()

    caplog.set_level(logging.WARNING, logger="surestream.server")
    resp = lambda r: EventStreamResponse(firehose(), send_timeout=0.5)  # noqa: E731
    with serving(resp) as server:
        client = RawClient(server.port, rcvbuf=4096)
        client.read_until(b"\r\n\r\n")
        assert probe.closed.wait(30), "the stuck client was dropped and the source cancelled"
        pulled = probe.yielded * len(token)
        client.sock.settimeout(10)
        with pytest.raises(OSError):
            while client.sock.recv(1 << 20):
                pass
            raise ConnectionResetError("closed by the server")
        client.hang_up()
    # Unbounded buffering would pull hundreds of MB in 0.5 s; what is held is our buffer plus
    # the kernel's socket buffers (a few MB on loopback).
    assert pulled < 32 * 1024 * 1024, pulled
    assert any("dropping" in r.getMessage() for r in caplog.records)


class CountBodySends:
    """ASGI middleware counting the ``http.response.body`` messages the app sends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.body_sends = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.body_sends += 1
            await send(message)

        await self.app(scope, receive, counting)


def test_fast_source_is_written_in_batches_not_one_send_per_event() -> None:
    n = 20_000

    async def fast() -> AsyncIterator[str]:
        for i in range(n):
            yield f"t{i}"

    app = CountBodySends(app_with(lambda r: EventStreamResponse(fast())))
    with serve_in_thread(app) as server:
        got = fetch(server.url + "/s")
    assert texts(got.events) == [f"t{i}" for i in range(n)]
    assert assert_verdict(got.events) == Done()
    assert app.body_sends < n / 100, app.body_sends


def test_a_source_that_yields_to_the_loop_between_events_is_batched_but_not_held_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No clock in the outcome: events gather for as long as the source keeps producing.
    monkeypatch.setattr(surestream.server._run, "BATCH_GAP", 60.0)
    n = 2_000
    gate = Gate()

    async def yielding() -> AsyncIterator[str]:
        for i in range(n):
            await asyncio.sleep(0)
            yield f"t{i}"
        await gate.wait()

    app = CountBodySends(app_with(lambda r: EventStreamResponse(yielding())))
    with serve_in_thread(app) as server:
        client = RawClient(server.port)
        client.read_until(f'"t{n - 1}"'.encode())
        sends_before_the_pause = app.body_sends
        gate.open()
        client.read_until(b'"type":"done"')
        client.hang_up()
    assert sends_before_the_pause < n / 100, sends_before_the_pause


def test_a_slow_source_is_not_held_back() -> None:
    gate = Gate()

    async def two_tokens() -> AsyncIterator[str]:
        yield "first"
        await gate.wait()
        yield "second"

    with serving(lambda r: EventStreamResponse(two_tokens())) as server:
        client = RawClient(server.port)
        client.read_until(b'"first"')
        gate.open()
        raw = client.read_until(b'"type":"done"')
        client.hang_up()
    assert b'"second"' in raw


def test_journal_source_keeps_its_seqs_and_resumes_from_last_event_id() -> None:
    journal: list[Any] = [Start("st_j"), Text("a"), Text("b"), Text("c"), Done()]

    async def replay(after: int) -> AsyncIterator[tuple[int, Any]]:
        for seq in range(after + 1, len(journal)):
            yield seq, journal[seq]

    def resp(request: Request) -> EventStreamResponse:
        after = int(request.headers.get("last-event-id", "-1"))
        return EventStreamResponse(replay(after), journal=True, first_seq=after + 1)

    with serving(resp) as server:
        whole = fetch(server.url + "/s")
        resumed = fetch(server.url + "/s", **{"last-event-id": "2"})
    assert [s.id for s in whole.sse] == ["0", "1", "2", "3", "4"]
    assert whole.events == journal
    assert [s.id for s in resumed.sse] == ["3", "4"]
    assert resumed.events == [Text("c"), Done()], "events n+1... exactly once, in order"


def test_journal_stream_ended_by_the_server_keeps_the_resume_point() -> None:
    never = Gate()

    async def tail(after: int) -> AsyncIterator[tuple[int, Any]]:
        if after == 6:
            yield 7, Text("h")
        await never.wait()

    def resp(request: Request) -> EventStreamResponse:
        after = int(request.headers.get("last-event-id", "-1"))
        return EventStreamResponse(tail(after), journal=True, first_seq=after + 1, idle_timeout=0.1)

    with serving(resp) as server:
        live = fetch(server.url + "/s", **{"last-event-id": "6"})
        quiet = fetch(server.url + "/s", **{"last-event-id": "7"})
        fresh = fetch(server.url + "/s", **{"last-event-id": "-1"})
    assert verdict_code(live.events) == "idle_timeout"
    assert [s.id for s in live.sse] == ["7", "7"], "the made-up error does not move the id on"
    assert [s.id for s in quiet.sse] == ["7"], "before any event: the client's own Last-Event-ID"
    assert [s.id for s in fresh.sse] == [None], "no event, no Last-Event-ID: no id at all"


def test_a_journal_source_needs_start_false() -> None:
    async def pairs() -> AsyncIterator[tuple[int, Any]]:
        yield 0, Text("a")

    with serving(lambda r: EventStreamResponse(pairs())) as server:
        got = fetch(server.url + "/s")
    assert verdict_code(got.events) == "internal_error"


def test_source_start_is_skipped_when_the_response_writes_its_own() -> None:
    items: list[Any] = [Start("st_src", "m"), Data({"k": 1}, "cite"), "t"]

    def resp(request: Request) -> EventStreamResponse:
        own = request.query_params["own"] == "1"
        return EventStreamResponse(scripted(Probe(), list(items)), start=not own)

    with serving(resp) as server:
        ours = fetch(server.url + "/s?own=0")
        theirs = fetch(server.url + "/s?own=1")
    assert ours.events == [Start(), Data({"k": 1}, "cite"), Text("t"), Done()]
    assert theirs.events == [Start("st_src", "m"), Data({"k": 1}, "cite"), Text("t"), Done()]


@pytest.mark.parametrize(
    ("dialect", "header"),
    [("openai", None), ("vercel-ai", "x-vercel-ai-ui-message-stream")],
)
def test_other_dialects_end_with_their_verdict(dialect: str, header: str | None) -> None:
    resp = lambda r: EventStreamResponse(  # noqa: E731
        scripted(Probe(), ["Hel", "lo"]), dialect=dialect, stream_id="st_9", model="demo"
    )
    with serving(resp) as server:
        got = fetch(server.url + "/s", dialect=dialect)
    if header is not None:
        assert got.headers[header] == "v1"
    assert got.sse[-1].data == "[DONE]"
    assert texts(got.events) == ["Hel", "lo"]
    assert isinstance(got.events[-1], Done)


def test_head_answers_headers_without_starting_the_source() -> None:
    probe = Probe()
    with serving(lambda r: EventStreamResponse(scripted(probe, ["a"]))) as server:
        response = httpx.head(server.url + "/s")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == b""
    assert not probe.started.is_set()


def test_on_close_gets_the_verdict_the_client_received() -> None:
    probe = Probe()

    async def record(terminal: Done | Error | None) -> None:
        probe.on_close(terminal)

    resp = lambda r: EventStreamResponse(scripted(Probe(), ["a"]), on_close=record)  # noqa: E731
    with serving(resp) as server:
        fetch(server.url + "/s")
        assert probe.closed_outcome.wait(10)
    assert probe.outcomes == [Done()]


@pytest.mark.parametrize(
    "bad",
    [
        {"heartbeat": 0},
        {"idle_timeout": -1},
        {"first_event_timeout": float("nan")},
        {"send_timeout": 0},
        {"close_timeout": None},
        {"max_buffer": 0},
    ],
)
def test_limits_are_checked(bad: dict[str, Any]) -> None:
    async def empty() -> AsyncIterator[str]:
        return
        yield

    with pytest.raises(ValueError):
        EventStreamResponse(empty(), **bad)


def test_decode_helper_reads_heartbeats_as_nothing() -> None:
    raw = b'retry: 10\n\n: ping\n\nid: 0\ndata: {"type":"text","text":"a"}\n\n'
    sse, events = decode(raw)
    assert events == [Text("a")] and len(sse) == 1
