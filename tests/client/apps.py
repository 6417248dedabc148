"""Starlette endpoints that write SSE bytes by hand, for the client tests.

``Journal`` is a tiny in-test journal: a list of pre-encoded SSE blocks, block ``i`` carrying
``id: i`` (or none), served from ``Last-Event-ID`` + 1. ``app(journals)`` serves each journal
at ``GET /streams/{name}`` and creates it with ``POST /create/{name}`` (which answers with
``Location: /streams/{name}``). Every request is counted and its ``Last-Event-ID`` recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from surestream.events import Done, Event, Start, Text, dumps
from surestream.sse import encode

SSE_HEADERS = {"Cache-Control": "no-cache"}


def native_blocks(events: Sequence[Event], *, ids: bool = True) -> list[bytes]:
    """The native SSE block of each event, ``id: i`` on block ``i``."""
    return [encode(dumps(e).decode(), id=str(i) if ids else None) for i, e in enumerate(events)]


def answer(words: Sequence[str], end: Event | None = None) -> list[Event]:
    """``Start``, one ``Text`` per word, then ``end`` (``Done()`` by default)."""
    return [Start("st_1", "demo"), *(Text(w) for w in words), end or Done()]


@dataclass
class Journal:
    """Pre-encoded blocks of one stream and what the server saw of its readers."""

    blocks: list[bytes]
    preamble: bytes = b"retry: 10\n\n"
    headers: dict[str, str] = field(default_factory=dict)
    replay_all: bool = False
    """Ignore Last-Event-ID and replay from the start (a server that replays too much)."""
    hold_open: bool = False
    """After the last block, keep the connection open until the client leaves."""
    resume_status: int | None = None
    """Answer a request with Last-Event-ID with this status instead of the stream."""
    stop_at: int | None = None
    """Never serve block ``stop_at`` or later: close the connection there, no terminal event."""
    first_cut: tuple[int, bytes] | None = None
    """``(n, tail)``: a reader without Last-Event-ID gets blocks ``0..n-1``, then ``tail``, and
    the connection closes (e.g. a retryable error written by a server going down)."""
    resume_tail: bytes | None = None
    """A reader with Last-Event-ID gets only these bytes, then the connection closes (e.g. a
    verdict the server made up at the resume point, carrying that point's id)."""
    location: bool = True
    """Name the events URL in ``Location`` when the stream is created by POST."""
    gets: int = 0
    posts: int = 0
    last_event_ids: list[str | None] = field(default_factory=list)

    def start_index(self, last_event_id: str | None) -> int:
        """The first block to serve to a reader that has seen ``last_event_id``."""
        if last_event_id is None or self.replay_all:
            return 0
        return int(last_event_id) + 1

    async def body(self, start: int) -> AsyncIterator[bytes]:
        """The stream from block ``start``, as the journal's options say."""
        yield self.preamble
        if start > 0 and self.resume_tail is not None:
            yield self.resume_tail
            return
        if start == 0 and self.first_cut is not None:
            count, tail = self.first_cut
            for block in self.blocks[:count]:
                yield block
            yield tail
            return
        for block in self.blocks[start : self.stop_at]:
            yield block
        if self.hold_open:
            await asyncio.Event().wait()


def app(journals: dict[str, Journal], extra: Sequence[Route] = ()) -> Starlette:
    """The test server for ``journals``."""

    def serve(journal: Journal, request: Request, status: int = 200) -> Response:
        last_id = request.headers.get("last-event-id")
        journal.last_event_ids.append(last_id)
        if last_id is not None and journal.resume_status is not None:
            return JSONResponse({"error": "gone"}, status_code=journal.resume_status)
        headers = {**SSE_HEADERS, **journal.headers}
        if request.method == "POST" and journal.location:
            headers["Location"] = f"/streams/{request.path_params['name']}"
        return StreamingResponse(
            journal.body(journal.start_index(last_id)),
            status_code=status,
            media_type="text/event-stream",
            headers=headers,
        )

    async def get_stream(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in journals:
            return JSONResponse({"error": "no such stream"}, status_code=404)
        journal = journals[name]
        journal.gets += 1
        return serve(journal, request)

    async def create(request: Request) -> Response:
        journal = journals[request.path_params["name"]]
        journal.posts += 1
        await request.json()
        return serve(journal, request, 201)

    routes = [
        Route("/streams/{name}", get_stream, methods=["GET"]),
        Route("/create/{name}", create, methods=["POST"]),
        *extra,
    ]
    return Starlette(routes=routes)


def raw_route(path: str, blocks: Callable[[], AsyncIterator[bytes]], **headers: str) -> Route:
    """A GET route streaming whatever ``blocks()`` yields."""

    async def endpoint(request: Request) -> Response:
        return StreamingResponse(
            blocks(), media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
        )

    return Route(path, endpoint)
