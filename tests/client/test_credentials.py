"""Credentials stay with the origin the caller named: a ``Location`` or a redirect that points
elsewhere gets the protocol's headers only, never ``Authorization``, an API key or a cookie.

Two real servers on two ports (two origins): ``home`` creates the stream and cuts it after two
events, naming the events URL on ``away`` (directly, or through a redirect); ``away`` records
what each request carried and serves the rest of the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from surestream.client import aconnect
from surestream.events import Done, Start, dumps
from surestream.sse import encode
from tests.support.servers import ServerThread, serve_in_thread

pytestmark = pytest.mark.anyio

FAST = {"retry_delay": 0.01, "max_retry_delay": 0.05}
SECRETS = {"Authorization": "Bearer sk-secret", "X-Api-Key": "key-secret", "Cookie": "s=secret"}
FIRST = [
    encode(dumps(Start("st_1")).decode(), id="0"),
    encode('{"type":"text","text":"Hel"}', id="1"),
]
REST = [encode('{"type":"text","text":"lo"}', id="2"), encode(dumps(Done()).decode(), id="3")]


def stream(blocks: list[bytes], **headers: str) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for piece in blocks:
            yield piece

    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


class Origins:
    """The two servers and what the stream's requests carried."""

    def __init__(self) -> None:
        self.home: ServerThread | None = None
        self.away: ServerThread | None = None
        self.seen: list[tuple[str, dict[str, str]]] = []

    def record(self, request: Request) -> None:
        self.seen.append((f"{request.url.port}{request.url.path}", dict(request.headers)))

    def home_app(self) -> Starlette:
        async def create(request: Request) -> Response:
            self.record(request)
            assert self.away is not None
            where = request.query_params["to"]
            location = {
                "away": f"{self.away.url}/events",
                "home": "/events",
                "redirect": "/moved",
            }[where]
            return stream(FIRST, Location=location)

        async def events(request: Request) -> Response:
            self.record(request)
            return stream(REST)

        async def moved(request: Request) -> Response:
            self.record(request)
            assert self.away is not None
            return RedirectResponse(f"{self.away.url}/events", status_code=307)

        return Starlette(
            routes=[
                Route("/create", create, methods=["POST"]),
                Route("/events", events),
                Route("/moved", moved),
            ]
        )

    def away_app(self) -> Starlette:
        async def events(request: Request) -> Response:
            self.record(request)
            return stream(REST)

        return Starlette(routes=[Route("/events", events)])


@pytest.fixture(scope="module")
def origins() -> Iterator[Origins]:
    origins = Origins()
    with serve_in_thread(origins.home_app()) as home, serve_in_thread(origins.away_app()) as away:
        origins.home, origins.away = home, away
        yield origins


def secrets_in(headers: dict[str, str]) -> set[str]:
    return {name for name in SECRETS if name.lower() in headers}


@pytest.mark.parametrize("to", ["away", "redirect"])
async def test_a_resume_on_another_origin_carries_no_credentials(origins: Origins, to: str) -> None:
    assert origins.home is not None and origins.away is not None
    origins.seen.clear()
    async with aconnect(
        f"{origins.home.url}/create?to={to}", method="POST", json={}, headers=SECRETS, **FAST
    ) as stream:
        assert await stream.text() == "Hello"
    created, *resumed = origins.seen
    assert secrets_in(created[1]) == set(SECRETS)
    away = [headers for where, headers in resumed if where.startswith(str(origins.away.port))]
    assert len(away) == 1
    assert secrets_in(away[0]) == set()
    assert away[0]["last-event-id"] == "1"
    assert away[0]["accept"] == "text/event-stream"


async def test_a_resume_on_the_same_origin_keeps_the_callers_headers(origins: Origins) -> None:
    assert origins.home is not None
    origins.seen.clear()
    async with aconnect(
        f"{origins.home.url}/create?to=home", method="POST", json={}, headers=SECRETS, **FAST
    ) as stream:
        assert await stream.text() == "Hello"
    assert [secrets_in(headers) for _, headers in origins.seen] == [set(SECRETS)] * 2


async def test_a_clients_own_auth_and_headers_stay_home_too(origins: Origins) -> None:
    assert origins.home is not None and origins.away is not None
    origins.seen.clear()
    async with (
        httpx.AsyncClient(
            auth=("user", "password"), headers={"X-Api-Key": "key-secret"}, follow_redirects=True
        ) as client,
        aconnect(
            f"{origins.home.url}/create?to=away", method="POST", json={}, http_client=client, **FAST
        ) as stream,
    ):
        assert await stream.text() == "Hello"
    (_, created), (_, away) = origins.seen
    assert created["authorization"].startswith("Basic ") and "x-api-key" in created
    assert "authorization" not in away and "x-api-key" not in away
