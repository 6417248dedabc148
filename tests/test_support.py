"""The test servers themselves start, answer and stop."""

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.servers import ServerProcess, serve_in_thread


def test_uvicorn_thread_serves() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    with serve_in_thread(app) as server:
        assert httpx.get(server.url).text == "ok"


def test_redis_server_answers_ping(redis_server: ServerProcess) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    assert client.ping() is True
    client.close()
