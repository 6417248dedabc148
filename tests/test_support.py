"""The test kit itself: servers start, answer and stop; a fast run starts no process."""

import subprocess

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.markers import refuse_processes, skip_in_fast_run
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


def test_a_fast_run_refuses_to_start_a_process_and_says_where_to_mark_it() -> None:
    with refuse_processes(), pytest.raises(RuntimeError, match=r"tests/support/markers\.py"):
        subprocess.run(["true"], check=False)
    assert subprocess.run(["true"], check=False).returncode == 0


def test_a_fast_run_does_not_collect_whole_multiprocess_directories() -> None:
    assert skip_in_fast_run("/repo/tests/browser")
    assert skip_in_fast_run("/repo/tests/chaos/")
    assert not skip_in_fast_run("/repo/tests/gateway")
    assert not skip_in_fast_run("/repo/tests/browser/test_markdown.py")
