"""``stream()`` in Node against real misbehaving servers: whatever the peer does, the stream
ends with ``done``, ``StreamFailed`` or ``StreamInterrupted`` — never a raw exception, never an
endless reconnection, never the same event twice, never credentials sent to another origin."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tests.jsclient.streams import kinds, run_stream, states
from tests.support.hostile import HostileServer, event, hostile_server, sse
from tests.support.node import run_node

START = {"type": "start", "stream": "st_a", "model": "demo"}
DONE = {"type": "done", "done": True, "finish_reason": "stop"}


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def shutdown() -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"code": "server_shutdown", "message": "bye", "retryable": True},
    }


def texts(result: dict[str, Any]) -> list[str]:
    return [e["text"] for e, _ in result["seen"] if e["type"] == "text"]


FAST = {"minRetryDelay": 20, "retryDelay": 20, "jitter": 0}
"""Quick reconnections, so a test that reconnects a few times stays short."""


@pytest.mark.parametrize(
    ("retry", "expected_delay"),
    [("9" * 400, 300), ("0", 120)],
    ids=["retry-of-400-digits", "retry-0"],
)
def test_retry_values_stay_between_the_minimum_and_the_maximum_delay(
    retry: str, expected_delay: int
) -> None:
    def answer(request: Request, n: int) -> Response:
        if n == 0:
            return sse(f"retry: {retry}\n\n", event(START, "0"), event(text("Hel"), "1"))
        return sse(event(text("lo"), "2"), event(DONE, "3"))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", minRetryDelay=120, maxRetryDelay=300, jitter=0)
    assert result["ok"]["text"] == "Hello"
    assert [s["delay"] for s in states(result, "resuming")] == [expected_delay]
    assert [r.last_event_id for r in server.requests] == [None, "1"]


def test_the_default_minimum_delay_holds_against_retry_0() -> None:
    delays = run_node(
        """
        import { backoffDelay, DEFAULT_MIN_RETRY_DELAY } from "surestream";
        const delays = [1, 2, 3].map((n) => backoffDelay(n, 0, { jitter: 0 }));
        console.log(JSON.stringify([DEFAULT_MIN_RETRY_DELAY, ...delays]));
        """
    )
    assert delays == [500, 500, 500, 500]


@pytest.mark.parametrize(
    "first_id",
    ["9" * 5000, "日本-1", "12345678901234567890123"],
    ids=["5000-digits", "non-ascii", "past-18-digits"],
)
def test_huge_and_non_ascii_ids_are_resumed_from_exactly(first_id: str) -> None:
    def answer(request: Request, n: int) -> Response:
        if n == 0:
            return sse(event(START, "a"), event(text("Hel"), first_id))
        return sse(event(text("lo"), "b"), event(DONE, "c"))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert result["ok"]["text"] == "Hello"
    assert result["ok"]["lastEventId"] == "c"
    assert [r.last_event_id for r in server.requests] == [None, first_id]


def test_an_id_too_large_for_the_server_ends_interrupted() -> None:
    """A 200,000-digit id is sent as Last-Event-ID; the server refuses the request: the
    stream ends interrupted, it does not throw."""
    huge = "7" * 200_000

    def answer(request: Request, n: int) -> Response:
        return sse(event(START, "0"), event(text("Hel"), huge))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", maxRetries=2, **FAST)
    assert result["name"] == "StreamInterrupted", result
    assert result["text"] == "Hel"
    assert texts(result) == ["Hel"]


def test_an_event_over_the_size_limit_fails_with_a_protocol_error() -> None:
    def answer(request: Request, n: int) -> Response:
        return sse(event(START, "0"), event(text("x" * 5_000_000), "1"), event(DONE, "2"))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert (result["name"], result["code"]) == ("StreamFailed", "protocol_error")
    assert "max_event_size" in result["message"]
    assert len(server.requests) == 1, "no reconnection"
    assert kinds(result) == ["start"]


def test_a_redirect_loop_while_resuming_ends_interrupted() -> None:
    def answer(request: Request, n: int) -> Response:
        if n == 0:
            return sse(event(START, "0"), event(text("Hel"), "1"))
        return RedirectResponse(f"/events?hop={n}", status_code=302)

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", maxRedirects=4, **FAST)
    assert result["name"] == "StreamInterrupted"
    assert "more than 4 redirects while resuming" in result["reason"]
    assert len(server.requests) == 1 + 5, "one stream, one resume and its 4 redirects"
    assert result["text"] == "Hel"


REPLAYED = [event(START, "a"), event(text("Hel"), "b"), event(text("lo"), "c")]


def test_a_server_that_replays_from_the_start_is_read_once_and_given_up() -> None:
    """Non-numeric ids, ``retry: 0``, every reconnection replays the stream from its start
    and closes: the text arrives once, the delays respect the minimum, the attempts end."""

    def answer(request: Request, n: int) -> Response:
        return sse("retry: 0\n\n", *REPLAYED)

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", maxRetries=3, **FAST)
    assert result["name"] == "StreamInterrupted"
    assert "gave up after 3 attempts in a row" in result["reason"]
    assert len(server.requests) == 4
    assert [r.last_event_id for r in server.requests] == [None, "c", "c", "c"]
    assert texts(result) == ["Hel", "lo"] and kinds(result) == ["start", "text", "text"]
    assert all(s["delay"] >= 20 for s in states(result, "resuming"))


def test_a_server_that_replays_from_the_start_then_finishes_delivers_each_event_once() -> None:
    def answer(request: Request, n: int) -> Response:
        if n < 2:
            return sse("retry: 0\n\n", *REPLAYED)
        return sse(*REPLAYED, event(text("!"), "d"), event(DONE, "e"))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert result["ok"]["text"] == "Hello!"
    assert kinds(result) == ["start", "text", "text", "text", "done"]


def test_a_replay_from_the_start_with_new_ids_is_reported_not_spliced() -> None:
    """The ids change on every connection, so replays cannot be told from new events; the
    second ``start`` shows the server restarted the stream: interrupted, nothing doubled."""

    def answer(request: Request, n: int) -> Response:
        return sse(*(event(e, f"{n}-{i}") for i, e in enumerate([START, text("Hel")])))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert result["name"] == "StreamInterrupted"
    assert "restarted the stream" in result["reason"]
    assert texts(result) == ["Hel"] and len(server.requests) == 2


def test_events_without_ids_are_not_resumed_into_duplicates() -> None:
    def answer(request: Request, n: int) -> Response:
        return sse(event(START), event(text("Hel")))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert result["name"] == "StreamInterrupted"
    assert "no id to resume from" in result["reason"]
    assert len(server.requests) == 1 and texts(result) == ["Hel"]


@pytest.mark.parametrize("by", ["start-event", "header"])
def test_a_resume_that_answers_another_stream_is_reported(by: str) -> None:
    def answer(request: Request, n: int) -> Response:
        if n == 0:
            return sse(event(START, "0"), event(text("Hi"), "1"))
        if by == "header":
            headers = {"Surestream-Stream-Id": "st_b"}
            return sse(event(text(" from b"), "2"), event(DONE, "3"), headers=headers)
        other = {**START, "stream": "st_b"}
        return sse(event(other, "0"), event(text("Other"), "1"), event(DONE, "2"))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert result["name"] == "StreamInterrupted"
    assert "the resume answered another stream (st_b, not st_a)" in result["reason"]
    assert result["text"] == "Hi" and kinds(result) == ["start", "text"]


def test_a_retryable_error_made_up_again_at_the_resume_point_is_the_outcome() -> None:
    """Every connection ends with ``server_shutdown`` (retryable) at the same id: one
    reconnection, then that error is the outcome, delivered once."""

    def answer(request: Request, n: int) -> Response:
        if n == 0:
            return sse(event(START, "0"), event(text("Hel"), "1"), event(shutdown(), "1"))
        return sse(event(shutdown(), "1"))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **FAST)
    assert (result["name"], result["code"]) == ("StreamFailed", "server_shutdown")
    assert len(server.requests) == 2
    assert kinds(result) == ["start", "text", "error"]


def test_a_retryable_error_with_a_new_id_every_time_ends_within_the_budget() -> None:
    def answer(request: Request, n: int) -> Response:
        return sse(*([event(START, "0")] if n == 0 else []), event(shutdown(), str(n + 1)))

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", maxRetries=3, **FAST)
    assert (result["name"], result["code"]) == ("StreamFailed", "server_shutdown")
    assert len(server.requests) == 4
    assert kinds(result) == ["start", "error"]


BOMB_EVENTS = 200_000
BOMB = gzip.compress(
    (event(START, "0") + "".join(event(text("w"), str(i)) for i in range(1, BOMB_EVENTS))).encode()
)
"""A gzip body of about 100 KB that Node's ``fetch`` turns into 200,000 events (7 MB)."""


@pytest.mark.parametrize(
    ("limits", "named"),
    [({"maxBytes": 64 * 1024}, "max_bytes (65536 bytes)"), ({"maxEvents": 1000}, "max_events")],
    ids=["max-bytes", "max-events"],
)
def test_a_gzip_bomb_stops_at_the_byte_and_event_limits(limits: dict[str, int], named: str) -> None:
    def answer(request: Request, n: int) -> Response:
        return Response(
            BOMB,
            media_type="text/event-stream",
            headers={"Content-Encoding": "gzip", "Cache-Control": "no-cache"},
        )

    with hostile_server(answer) as server:
        result = run_stream(server.url + "/events", **limits, **FAST)
    assert result["name"] == "StreamInterrupted", result["name"]
    assert f"the stream exceeded {named}" in result["reason"]
    assert len(server.requests) == 1, "no reconnection"
    assert 0 < len(texts(result)) < 70_000


CREDENTIALS = {"Authorization": "Bearer sk-secret", "X-Api-Key": "key-secret"}


def leaked(seen: dict[str, str]) -> set[str]:
    """Which credential headers a request carried."""
    return {name for name in ("authorization", "x-api-key", "cookie") if name in seen}


@contextlib.contextmanager
def two_origins(how: str) -> Iterator[tuple[HostileServer, HostileServer]]:
    """A stream server and another origin that finishes the stream; the stream's resume gets
    there by its ``Location`` (``how="location"``) or by a redirect (``"redirect"``)."""

    def elsewhere(request: Request, n: int) -> Response:
        return sse(event(text("lo"), "2"), event(DONE, "3"))

    with hostile_server(elsewhere) as other:

        def answer(request: Request, n: int) -> Response:
            if n == 0:
                target = f"{other.url}/events" if how == "location" else "/events"
                return sse(event(START, "0"), event(text("Hel"), "1"), headers={"Location": target})
            return RedirectResponse(f"{other.url}/events", status_code=307)

        with hostile_server(answer) as server:
            yield server, other


@pytest.mark.parametrize("how", ["location", "redirect"])
def test_credentials_never_go_to_another_origin(how: str) -> None:
    """The stream's ``Location`` (or a redirect of the resume) names another origin: the
    resume goes there without the caller's headers; same-origin requests keep them."""
    with two_origins(how) as (server, other):
        result = run_stream(
            server.url + "/v1/chat/stream",
            method="POST",
            body={"model": "demo"},
            headers=CREDENTIALS,
            **FAST,
        )
    assert result["ok"]["text"] == "Hello"
    assert leaked(server.requests[0].headers) == {"authorization", "x-api-key"}
    if how == "redirect":
        assert leaked(server.requests[1].headers) == {"authorization", "x-api-key"}
    assert len(other.requests) == 1
    assert leaked(other.requests[0].headers) == set()
    assert other.requests[0].last_event_id == "1"
