"""``StreamingTransport`` under httpx against a real uvicorn: framing, bodies, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from surestream.client import StreamingTransport
from tests.support.servers import ServerThread, free_port, serve_in_thread

pytestmark = pytest.mark.anyio


async def echo(request: Request) -> Response:
    return JSONResponse({"method": request.method, "body": (await request.body()).decode()})


async def chunks(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for i in range(1000):
            yield b"%d," % i

    return StreamingResponse(body(), media_type="text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    routes = [Route("/echo", echo, methods=["GET", "POST"]), Route("/chunks", chunks)]
    with serve_in_thread(Starlette(routes=routes)) as running:
        yield running


async def test_content_length_and_request_body(server: ServerThread) -> None:
    async with httpx.AsyncClient(transport=StreamingTransport()) as client:
        response = await client.post(f"{server.url}/echo", json={"a": 1})
    assert response.status_code == 200
    assert response.json() == {"method": "POST", "body": '{"a":1}'}
    assert response.http_version == "HTTP/1.1"


async def test_chunked_body_in_blocks(server: ServerThread) -> None:
    async with httpx.AsyncClient(transport=StreamingTransport(read_size=7)) as client:
        response = await client.get(f"{server.url}/chunks")
    assert response.text == "".join(f"{i}," for i in range(1000))


async def test_refused_connection_is_httpx_connect_error() -> None:
    async with httpx.AsyncClient(transport=StreamingTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/")


async def test_unsupported_scheme() -> None:
    async with httpx.AsyncClient(transport=StreamingTransport()) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("ftp://127.0.0.1/")
