"""``DetachStreams``: a stream runs after the framework's request stack has returned."""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surestream.events import Done, Start, Text
from surestream.server import DetachStreams, EventStreamResponse
from tests.server._helpers import Gate, Probe, decode, scripted
from tests.support.servers import serve_in_thread


class Marker:
    """Something the request object holds (not ``request.state``: that lives in the scope)."""


class CountingMiddleware:
    """Records the status and every body byte that passes through its ``send``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.status = 0
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            elif message["type"] == "http.response.body":
                self.body += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, counting)


class Failing:
    """A middleware below ``DetachStreams`` that fails after the endpoint returned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope.get("path") == "/fail":
            raise RuntimeError("a middleware below failed")


class App:
    """``GET /s``: three texts, then the gate, then done; the request holds a ``Marker`` and
    the endpoint a dependency with ``yield``."""

    def __init__(self, probe: Probe, gate: Gate, *, detach: bool) -> None:
        self.markers: list[weakref.ref[Marker]] = []
        self.closed_dependencies: list[str] = []
        self.dependencies_closed = threading.Event()
        self.asgi = self.build(probe, gate, detach)

    def build(self, probe: Probe, gate: Gate, detach: bool) -> FastAPI:
        async def session() -> AsyncIterator[str]:
            yield "session"
            self.closed_dependencies.append("session")
            self.dependencies_closed.set()

        application = FastAPI()

        @application.get("/s")
        @application.get("/fail")
        async def stream(request: Request, _: str = Depends(session)) -> EventStreamResponse:
            marker = Marker()
            request.marker = marker  # type: ignore[attr-defined]
            self.markers.append(weakref.ref(marker))
            return EventStreamResponse(
                scripted(probe, ["a", Text("b"), "c"], then=gate), on_close=probe.on_close
            )

        application.add_middleware(Failing)
        if detach:
            application.add_middleware(DetachStreams)
        return application


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    with contextlib.suppress(RuntimeError):  # the server's loop may be closed by now
        gate.open()


@pytest.mark.parametrize("detach", [True, False])
def test_the_request_is_released_while_the_stream_is_open_only_when_detached(
    detach: bool, gate: Gate
) -> None:
    probe = Probe()
    application = App(probe, gate, detach=detach)
    outer = CountingMiddleware(application.asgi)
    with (
        serve_in_thread(outer) as server,
        httpx.Client(timeout=30) as client,
        client.stream("GET", server.url + "/s") as response,
    ):
        chunks = response.iter_raw()
        received = b""
        while b"\n\n" not in received:  # the first event is out: the stream is running
            received += next(chunks)
        assert gate.waiting.wait(10)
        if detach:  # the framework's request stack has returned (in the server's thread)
            assert application.dependencies_closed.wait(10)
        gc.collect()
        assert (application.markers[0]() is None) is detach
        if detach:
            assert application.closed_dependencies == ["session"]
        gate.open()
        received += b"".join(chunks)
    _, events = decode(received)
    assert [type(event) for event in events] == [Start, Text, Text, Text, Done]
    assert outer.status == 200 and outer.body == received
    assert probe.outcomes == [Done()]


def test_a_failure_below_after_the_endpoint_returned_closes_the_unsent_stream(gate: Gate) -> None:
    probe = Probe()
    application = App(probe, gate, detach=True)
    with serve_in_thread(application.asgi) as server, httpx.Client(timeout=30) as client:
        response = client.get(server.url + "/fail")
    assert response.status_code == 500
    assert not probe.started.is_set()  # the source never ran ...
    assert probe.outcomes == [None]  # ... and on_close heard that nothing was sent
