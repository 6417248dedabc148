"""A misbehaving SSE server on loopback, for client tests: each test says what every request
gets, the server records what every request sent.

``with hostile_server(answer) as server:`` runs a Starlette app under uvicorn whose every
request (any method, any path) is answered by ``answer(request, n)`` (``n``: the request's
number, from 0) and recorded in ``server.requests`` with its method, path, lower-cased
headers and its ``Last-Event-ID`` decoded as UTF-8. CORS allows any origin and header and
exposes ``Location`` and ``Surestream-Stream-Id``, so a page of another origin can misbehave
with it too. ``sse(...)`` builds a response body from blocks.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve_in_thread

SSE_HEADERS = {"Cache-Control": "no-cache"}


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    last_event_id: str | None


@dataclass
class HostileServer:
    """The running server: its ``url`` and the ``requests`` it received, in order."""

    url: str
    requests: list[Seen] = field(default_factory=list)


Answer = Callable[[Request, int], Response]


def event(data: Any, id: str | None = None) -> str:
    """One SSE block: ``data`` as JSON (a ``str`` as is), with an ``id:`` line if given."""
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"id: {id}\n" if id is not None else "") + f"data: {payload}\n\n"


def sse(*blocks: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A ``text/event-stream`` response of ``blocks`` that then closes (no terminal unless
    a block is one)."""
    return Response(
        "".join(blocks),
        status_code=status,
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **(headers or {})},
    )


@contextlib.contextmanager
def hostile_server(answer: Answer) -> Iterator[HostileServer]:
    """Serve ``answer`` on a free loopback port for the ``with`` block."""
    lock = threading.Lock()
    server = HostileServer("")

    async def endpoint(request: Request) -> Response:
        raw = dict(request.headers.raw)
        last = raw.get(b"last-event-id")
        with lock:
            n = len(server.requests)
            server.requests.append(
                Seen(
                    request.method,
                    request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                    dict(request.headers),
                    None if last is None else last.decode("utf-8", "replace"),
                )
            )
        return answer(request, n)

    methods = ["GET", "POST", "DELETE", "PUT"]
    app = Starlette(
        routes=[Route("/{path:path}", endpoint, methods=methods)],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=methods,
                allow_headers=["*"],
                expose_headers=["Location", "Surestream-Stream-Id"],
            )
        ],
    )
    with serve_in_thread(app, lifespan="off") as running:
        server.url = running.url
        yield server
