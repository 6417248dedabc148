"""Servers that misbehave on purpose: whatever they send, the client ends with ``done``,
``error`` or an interruption that says why, and never raises anything else.

Each server is a real uvicorn on loopback writing its bytes by hand: a ``retry:`` of 400
digits, an id of 5,000 digits or of a non-ASCII digit, a 5 MB event, an event the dialect
cannot read, a redirect loop on the resume URL, opaque ids replayed from the start with
``retry: 0``, a resume answered by another stream, and bodies compressed although the client
asked for none.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from surestream.client import Limits, StreamFailed, StreamInterrupted, aconnect
from surestream.events import Done, Event, Start, Text, dumps
from surestream.sse import encode
from tests.support.servers import ServerThread, serve_in_thread

pytestmark = pytest.mark.anyio

FAST = {"retry_delay": 0.01, "max_retry_delay": 0.05}
WORDS = ["Hel", "lo", " wor", "ld"]


def block(event: Event, event_id: str | None) -> bytes:
    return encode(dumps(event).decode(), id=event_id)


@dataclass
class Seen:
    """What one route's requests looked like."""

    requests: int = 0
    last_event_ids: list[str | None] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def saw(self, request: Request) -> str | None:
        self.requests += 1
        raw = request.headers.get("last-event-id")
        last_id = None if raw is None else raw.encode("latin-1").decode("utf-8")
        self.last_event_ids.append(last_id)
        self.headers.append(dict(request.headers))
        return last_id


Body = Callable[[str | None, int], list[bytes]]


def sse_route(path: str, seen: Seen, body: Body, **headers: str) -> Route:
    """A GET route answering ``body(last_event_id, request_number)`` as an event stream."""

    async def endpoint(request: Request) -> Response:
        last_id = seen.saw(request)

        async def blocks() -> AsyncIterator[bytes]:
            for piece in body(last_id, seen.requests):
                yield piece

        return StreamingResponse(blocks(), media_type="text/event-stream", headers=headers)

    return Route(path, endpoint, methods=["GET", "POST"])


def split(whole: list[bytes], resumed: list[bytes]) -> Body:
    """``whole`` to a first reader, ``resumed`` to one that sends ``Last-Event-ID``."""
    return lambda last_id, _: whole if last_id is None else resumed


ROUTES: dict[str, Seen] = {}


def route(path: str, body: Body, **headers: str) -> Route:
    ROUTES[path] = Seen()
    return sse_route(path, ROUTES[path], body, **headers)


OPAQUE_IDS = [f"e{i}" for i in range(len(WORDS) + 1)]
OPAQUE = [block(Start("st_1"), OPAQUE_IDS[0])] + [
    block(Text(word), event_id) for word, event_id in zip(WORDS, OPAQUE_IDS[1:], strict=True)
]


def replay_from_start(last_id: str | None, n: int) -> list[bytes]:
    """Every connection: ``retry: 0``, the stream from its start, cut before its end (the
    20th ends it, so that a client that reconnects forever fails instead of hanging)."""
    return [b"retry: 0\n\n", *OPAQUE, *([block(Done(), "end")] if n >= 20 else [])]


def replay_growing(last_id: str | None, n: int) -> list[bytes]:
    """Every connection replays from the start and brings one event more, then ``done``."""
    if n > len(WORDS):
        return [b"retry: 0\n\n", *OPAQUE, block(Done(), "end")]
    return [b"retry: 0\n\n", *OPAQUE[: n + 1]]


def other_stream(first_ids: list[str]) -> Body:
    mine = [block(Start("st_a"), "0"), block(Text("a1"), "1"), block(Text("a2"), "2")]
    theirs = [block(Start("st_b"), first_ids[0])] + [
        block(Text(f"b{i}"), first_ids[i]) for i in range(1, len(first_ids))
    ]
    return split(mine, [*theirs, block(Done(), "99")])


NUMBERED = [f"{i}" for i in range(6)]
GZIP_EVENTS = [block(Start("st_1"), "0")] + [block(Text(f"w{i} "), str(i + 1)) for i in range(5000)]
GZIP_BODY = gzip.compress(b"".join([*GZIP_EVENTS, block(Done(), "5001")]))
GZIP_TEXT = "".join(f"w{i} " for i in range(5000))


def app() -> Starlette:
    huge_id = "9" * 5000
    start = block(Start("st_1"), "0")
    routes = [
        route(
            "/huge-retry",
            split(
                [b"retry: " + b"9" * 400 + b"\n\n", start, block(Text("Hel"), "1")],
                [block(Text("lo"), "2"), block(Done(), "3")],
            ),
        ),
        route(
            "/huge-id",
            split(
                [start, block(Text("Hel"), huge_id)],
                [block(Text("lo"), "x"), block(Done(), "y")],
            ),
        ),
        route(
            "/non-ascii-id",
            split([start, block(Text("Hel"), "³")], [block(Text("lo"), "4"), block(Done(), "5")]),
        ),
        route("/huge-event", lambda *_: [start, b"data: " + b"x" * 5_000_000 + b"\n\n"]),
        route(
            "/unreadable",
            lambda *_: [start, b'id: 1\ndata: {"type":"text"}\n\n', block(Done(), "2")],
            **{"Surestream-Protocol": "1"},
        ),
        route(
            "/create-then-loop",
            lambda *_: [start, block(Text("Hel"), "1")],
            Location="/loop",
        ),
        route("/replay-from-start", replay_from_start),
        route("/replay-growing", replay_growing),
        route("/other-stream-numbered", other_stream(NUMBERED)),
        route("/other-stream-opaque", other_stream([f"x{i}" for i in range(6)])),
        route("/gzip", lambda *_: [GZIP_BODY], **{"Content-Encoding": "gzip"}),
        route("/brotli", lambda *_: [b"\x0b\x00\x80"], **{"Content-Encoding": "br"}),
        route("/bad-gzip", lambda *_: [b"\x1f\x8b" + b"junk" * 10], **{"Content-Encoding": "gzip"}),
    ]

    async def loop(request: Request) -> Response:
        ROUTES.setdefault("/loop", Seen()).saw(request)
        return RedirectResponse("/loop", status_code=302)

    return Starlette(routes=[*routes, Route("/loop", loop)])


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve_in_thread(app()) as running:
        yield running


async def collect(url: str, **options: object) -> tuple[list[Event], str | None, int]:
    """Events, interruption and attempts of one stream, read whole."""
    async with aconnect(url, **options) as stream:  # type: ignore[arg-type]
        events = [event async for event in stream]
    return events, stream.interruption, stream.attempts


def texts(events: list[Event]) -> str:
    return "".join(event.text for event in events if isinstance(event, Text))


async def test_a_retry_of_400_digits_is_capped_not_an_overflow(server: ServerThread) -> None:
    events, interruption, attempts = await collect(f"{server.url}/huge-retry", **FAST)
    assert interruption is None
    assert texts(events) == "Hello" and events[-1] == Done()
    assert attempts == 2


async def test_an_id_of_5000_digits_is_an_opaque_resume_id(server: ServerThread) -> None:
    events, interruption, _ = await collect(f"{server.url}/huge-id", **FAST)
    assert interruption is None
    assert texts(events) == "Hello"
    assert ROUTES["/huge-id"].last_event_ids[-1] == "9" * 5000


async def test_a_non_ascii_id_is_sent_back_as_utf8(server: ServerThread) -> None:
    events, interruption, _ = await collect(f"{server.url}/non-ascii-id", **FAST)
    assert interruption is None
    assert texts(events) == "Hello"
    assert ROUTES["/non-ascii-id"].last_event_ids[-1] == "³"


async def test_a_5mb_event_ends_the_stream_naming_the_limit(server: ServerThread) -> None:
    events, interruption, attempts = await collect(f"{server.url}/huge-event", **FAST)
    assert events == [Start("st_1")]
    assert interruption is not None and "max_event_size" in interruption
    assert attempts == 1  # coming back would bring the same event
    events, interruption, _ = await collect(
        f"{server.url}/huge-event", limits=Limits(max_event_size=8_000_000), **FAST
    )
    assert interruption is not None and "max_event_size" not in interruption


async def test_an_event_the_dialect_cannot_read_is_an_interruption(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/unreadable", **FAST) as stream:
        with pytest.raises(StreamInterrupted) as info:
            await stream.text()
    assert "cannot be read" in info.value.reason and "'text'" in info.value.reason
    assert stream.attempts == 1


async def test_a_redirect_loop_while_resuming_is_an_interruption(server: ServerThread) -> None:
    events, interruption, attempts = await collect(
        f"{server.url}/create-then-loop", method="POST", json={}, **FAST
    )
    assert texts(events) == "Hel"
    assert interruption is not None and "redirects" in interruption
    assert attempts == 2


async def test_a_redirect_loop_on_the_first_request_is_an_interruption(
    server: ServerThread,
) -> None:
    events, interruption, attempts = await collect(f"{server.url}/loop", **FAST)
    assert events == []
    assert interruption is not None and "redirects" in interruption
    assert attempts == 1


async def test_opaque_ids_replayed_from_the_start_are_delivered_once_and_bounded(
    server: ServerThread,
) -> None:
    # retry: 0 and the default backoff floor; each connection replays what was delivered.
    events, interruption, attempts = await collect(
        f"{server.url}/replay-from-start", max_retries=3, max_retry_delay=0.2
    )
    assert texts(events) == "".join(WORDS)
    assert events[0] == Start("st_1") and len(events) == len(WORDS) + 1
    assert interruption is not None and "gave up after 3" in interruption
    assert attempts == 4 == ROUTES["/replay-from-start"].requests
    assert ROUTES["/replay-from-start"].last_event_ids == [None, "e4", "e4", "e4"]


async def test_a_replay_from_the_start_that_progresses_delivers_each_event_once(
    server: ServerThread,
) -> None:
    events, interruption, _ = await collect(f"{server.url}/replay-growing", **FAST)
    assert interruption is None
    assert events == [Start("st_1"), *(Text(word) for word in WORDS), Done()]


async def test_the_reconnection_budget_bounds_a_stream_that_keeps_being_cut(
    server: ServerThread,
) -> None:
    ROUTES["/replay-growing"].requests = 0
    events, interruption, attempts = await collect(
        f"{server.url}/replay-growing", limits=Limits(max_reconnects=2), **FAST
    )
    assert texts(events) == "".join(WORDS[:3])  # one more event per connection
    assert interruption is not None and "max_reconnects" in interruption
    assert attempts == 3


@pytest.mark.parametrize("ids", ["numbered", "opaque"])
async def test_a_resume_into_another_stream_is_reported_not_spliced(
    server: ServerThread, ids: str
) -> None:
    async with aconnect(f"{server.url}/other-stream-{ids}", **FAST) as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamInterrupted) as info:
            await stream.text()
    assert events == [Start("st_a"), Text("a1"), Text("a2")]
    assert stream.outcome is None
    assert "different stream" in info.value.reason and "'st_b'" in info.value.reason
    assert stream.attempts == 2


@pytest.mark.parametrize("transport", ["default", "stock httpx"])
async def test_a_gzip_body_is_read_although_identity_was_asked(
    server: ServerThread, transport: str
) -> None:
    async with (
        httpx.AsyncClient() as stock,
        aconnect(
            f"{server.url}/gzip", http_client=stock if transport != "default" else None
        ) as stream,
    ):
        assert await stream.text() == GZIP_TEXT
    assert ROUTES["/gzip"].headers[-1]["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("limits", "named"),
    [(Limits(max_bytes=64 * 1024), "max_bytes"), (Limits(max_events=1000), "max_events")],
)
async def test_a_gzip_bomb_stops_at_the_byte_and_event_limits(
    server: ServerThread, limits: Limits, named: str
) -> None:
    async with aconnect(f"{server.url}/gzip", limits=limits, **FAST) as stream:
        with pytest.raises(StreamInterrupted) as info:
            await stream.text()
    assert named in info.value.reason
    assert stream.attempts == 1


@pytest.mark.parametrize(("path", "says"), [("/brotli", "not supported"), ("/bad-gzip", "gzip")])
async def test_a_body_that_cannot_be_decoded_is_an_interruption(
    server: ServerThread, path: str, says: str
) -> None:
    events, interruption, attempts = await collect(f"{server.url}{path}", **FAST)
    assert events == []
    assert interruption is not None and says in interruption
    assert attempts == 1


async def test_text_never_raises_anything_but_stream_errors(server: ServerThread) -> None:
    for path in ROUTES:
        async with aconnect(f"{server.url}{path}", max_retries=1, **FAST) as stream:
            with contextlib.suppress(StreamFailed, StreamInterrupted):
                await stream.text()
        assert stream.outcome is not None or stream.interruption is not None
