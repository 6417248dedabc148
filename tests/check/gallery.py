"""A gallery of small real SSE servers, each reproducing one failure our users hit.

One Starlette app, one route per server, run under real uvicorn on loopback by the tests.
Every route is written the way the people who hit the failure wrote theirs (the seeds in
/work/shared/seeds): plain ``StreamingResponse`` generators, a hand-rolled ``sendEvent``,
sse-starlette for the healthy one. Pacing is short (tens of ms) so the gallery stays fast;
the timeouts and silences that matter are query parameters the tests lower.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route

from surestream.events import Done, Event, Start, Status, Text
from surestream.server import EventStreamResponse

TOKENS = ("Hel", "lo", ",", " wor", "ld")
"""The answer every gallery server streams."""
PACE = 0.01
"""Seconds between two tokens."""


def _sse(data: Any, event: str | None = None, id: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = (f"id: {id}\n" if id is not None else "") + (f"event: {event}\n" if event else "")
    return f"{head}data: {text}\n\n".encode()


def _stream(body: AsyncIterator[bytes], media_type: str = "text/event-stream") -> Response:
    return StreamingResponse(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


async def mismatch(request: Request) -> Response:
    """The seed's route.ts: every event is ``event: content``; the client listens for
    ``complete``, which never comes. The end hides in ``isFinal: true``."""

    def send_event(kind: str, payload: dict[str, Any]) -> bytes:
        return _sse({"type": kind, **payload}, event="content")

    async def body() -> AsyncIterator[bytes]:
        yield send_event("status", {"message": "Generating..."})
        for token in TOKENS:
            await asyncio.sleep(PACE)
            yield send_event("content", {"content": token})
        yield send_event("content", {"content": "".join(TOKENS), "isFinal": True})
        yield send_event("status", {"message": "[DONE]"})

    return _stream(body())


async def no_end(request: Request) -> Response:
    """Text chunks, then the generator returns: the connection closes with no end marker."""

    async def body() -> AsyncIterator[bytes]:
        for token in TOKENS:
            await asyncio.sleep(PACE)
            yield _sse({"text": token})

    return _stream(body())


async def done_flag_body() -> AsyncIterator[bytes]:
    """A well-formed stream ending in ``{"done": true}`` (the seed's proposed fix)."""
    for i, token in enumerate(TOKENS):
        await asyncio.sleep(PACE)
        yield _sse({"text": token}, id=str(i))
    yield _sse({"done": True}, id=str(len(TOKENS)))


async def gzipped(request: Request) -> Response:
    """A good stream behind a gzip middleware that compresses text/event-stream too (what
    older Starlette, and many other stacks, do); today's flushes after every chunk."""
    return _stream(done_flag_body())


async def gzip_buffered(request: Request) -> Response:
    """The same stream gzipped the way Starlette's middleware did before it flushed after
    every chunk (a ``GzipFile`` written, never flushed): the compressor keeps the events until
    the end."""
    compressor = zlib.compressobj(wbits=31)

    async def body() -> AsyncIterator[bytes]:
        async for block in done_flag_body():
            yield compressor.compress(block)
        yield compressor.flush()

    response = _stream(body())
    response.headers["Content-Encoding"] = "gzip"
    return response


async def inter_chunk_timeout(request: Request) -> Response:
    """The seed's server loop: wait at most ``timeout`` s (default 10) for the next upstream
    chunk, else break and close. The upstream sends a few tokens, then thinks for longer."""
    timeout = float(request.query_params.get("timeout", "10"))
    stall = asyncio.Event()

    async def upstream() -> AsyncIterator[str]:
        for token in TOKENS[:3]:
            await asyncio.sleep(PACE)
            yield token
        await stall.wait()  # the model is thinking; it would answer later
        yield TOKENS[3]

    async def body() -> AsyncIterator[bytes]:
        chunks = upstream()
        while True:
            try:
                token = await asyncio.wait_for(anext(chunks), timeout)
            except (TimeoutError, StopAsyncIteration):
                break
            yield _sse({"text": token})

    return _stream(body())


async def silent(request: Request) -> Response:
    """Two tokens, ``silence`` s of nothing (or ``: ping`` every ``heartbeat`` s), the rest."""
    silence = float(request.query_params.get("silence", "0.7"))
    heartbeat = float(request.query_params.get("heartbeat", "0"))

    async def body() -> AsyncIterator[bytes]:
        for i, token in enumerate(TOKENS[:2]):
            yield _sse({"text": token}, id=str(i))
        if heartbeat > 0:
            waited = 0.0
            while waited < silence:
                await asyncio.sleep(heartbeat)
                waited += heartbeat
                yield b": ping\n\n"
        else:
            await asyncio.sleep(silence)
        for i, token in enumerate(TOKENS[2:], start=2):
            yield _sse({"text": token}, id=str(i))
        yield _sse({"done": True}, id=str(len(TOKENS)))

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def text_plain(request: Request) -> Response:
    """A good SSE body sent as ``text/plain``: EventSource refuses it."""
    return _stream(done_flag_body(), media_type="text/plain")


async def named_only(request: Request) -> Response:
    """Every event named (``event: token``, ``event: done``): ``onmessage`` sees nothing."""

    async def body() -> AsyncIterator[bytes]:
        for i, token in enumerate(TOKENS):
            await asyncio.sleep(PACE)
            yield _sse({"token": token}, event="token", id=str(i))
        yield _sse({}, event="done", id=str(len(TOKENS)))

    return _stream(body())


async def fixed_length(request: Request) -> Response:
    """The whole SSE body built first and returned at once (with a Content-Length)."""
    body = b"".join([_sse({"text": t}) for t in TOKENS]) + _sse({"done": True})
    return Response(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def forever(request: Request) -> Response:
    """A ticker that never ends."""

    async def body() -> AsyncIterator[bytes]:
        i = 0
        while True:
            await asyncio.sleep(PACE * 5)
            yield _sse({"tick": i}, id=str(i))
            i += 1

    return _stream(body())


SUPERSCRIPT_IDS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
"""Characters ``str.isdigit`` takes for digits that are not ASCII digits."""


async def unicode_ids(request: Request) -> Response:
    """Ids that look like numbers to ``isdigit`` but are not (``id: ³``), then ``done``."""

    async def body() -> AsyncIterator[bytes]:
        for i, token in enumerate(TOKENS):
            await asyncio.sleep(PACE)
            yield _sse({"text": token}, id=SUPERSCRIPT_IDS[i])
        yield _sse({"done": True}, id=SUPERSCRIPT_IDS[len(TOKENS)])

    return _stream(body())


async def end_event(request: Request) -> Response:
    """sse-starlette's way to end: text events, then ``event: end`` with ``data: {}``."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        for i, token in enumerate(TOKENS):
            await asyncio.sleep(PACE)
            yield {"id": str(i), "data": json.dumps({"text": token})}
        yield {"event": "end", "data": "{}"}

    return EventSourceResponse(events())


HEALTHY_EVENTS = 12
"""How many text events the healthy stream sends before ``{"done": true}``."""


async def healthy(request: Request) -> Response:
    """sse-starlette, done right: ids, heartbeats, ``{"done": true}`` last.

    ``?resume=honour`` (default) continues after ``Last-Event-ID``; ``ignore`` starts over
    (repeats events); ``skip`` continues two events too late (loses events).
    """
    mode = request.query_params.get("resume", "honour")
    last = request.headers.get("last-event-id")
    start = 0
    if last is not None and last.isdigit() and mode != "ignore":
        start = int(last) + 1 + (2 if mode == "skip" else 0)

    async def events() -> AsyncIterator[dict[str, Any]]:
        for i in range(start, HEALTHY_EVENTS):
            await asyncio.sleep(PACE)
            yield {"id": str(i), "data": json.dumps({"text": f"token {i}"})}
        yield {"id": str(HEALTHY_EVENTS), "data": json.dumps({"done": True})}

    return EventSourceResponse(events(), ping=5)


OWN_SCRIPT: tuple[Event, ...] = (
    Start("st_gallery", "demo"),
    *[Text(t) for t in TOKENS],
    Status("done thinking"),
    Done("stop", {"prompt_tokens": 3, "completion_tokens": 5}),
)
"""What ``/ours/{dialect}`` streams, event ``seq`` being ``OWN_SCRIPT[seq]``."""


async def ours(request: Request) -> Response:
    """``/ours/{dialect}``: our own ``EventStreamResponse`` in that dialect, resumable.

    The source is a journal (``(seq, event)`` pairs) replayed after ``Last-Event-ID``, the
    way the gateway serves a journaled stream.
    """
    last = request.headers.get("last-event-id")
    after = int(last) if last is not None and last.isdigit() else -1

    async def journal() -> AsyncIterator[tuple[int, Event]]:
        for seq, event in enumerate(OWN_SCRIPT):
            if seq > after:
                await asyncio.sleep(PACE)
                yield seq, event

    return EventStreamResponse(
        journal(),
        dialect=request.path_params["dialect"],
        journal=True,
        first_seq=after + 1,
        stream_id="st_gallery",
        model="demo",
    )


def create_gallery() -> Starlette:
    """The gallery app: one route per server."""
    gzip_app = GZipMiddleware(
        Starlette(routes=[Route("/", gzipped)]), minimum_size=0, exclude_content_types=()
    )
    return Starlette(
        routes=[
            Route("/mismatch", mismatch),
            Route("/no-end", no_end),
            Mount("/gzip", app=gzip_app),
            Route("/gzip-buffered", gzip_buffered),
            Route("/inter-chunk-timeout", inter_chunk_timeout),
            Route("/silent", silent),
            Route("/text-plain", text_plain),
            Route("/named-only", named_only),
            Route("/fixed-length", fixed_length),
            Route("/forever", forever),
            Route("/healthy", healthy),
            Route("/unicode-ids", unicode_ids),
            Route("/end-event", end_event),
            Route("/ours/{dialect}", ours),
        ]
    )
