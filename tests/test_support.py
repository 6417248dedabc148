"""The test kit itself: servers start, answer and stop; a fast run starts no process; helpers
live in ``tests/support``, not in ``conftest.py`` files."""

import ast
import os
import re
import subprocess
from pathlib import Path

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


def test_a_fast_run_does_not_collect_whole_multiprocess_or_slow_directories_and_files() -> None:
    assert skip_in_fast_run("/repo/tests/browser")
    assert skip_in_fast_run("/repo/tests/chaos/")
    assert skip_in_fast_run("/repo/tests/gateway/test_npm_clients.py")
    assert skip_in_fast_run("/repo/tests/gateway/test_random_resume.py")
    assert not skip_in_fast_run("/repo/tests/gateway")
    assert not skip_in_fast_run("/repo/tests/browser/test_markdown.py")
    assert not skip_in_fast_run("/repo/tests/server/test_shutdown.py")


TESTS = Path(__file__).parent


def _test_files() -> list[Path]:
    """Every Python file under tests/, not descending into node_modules."""
    files = []
    for root, dirs, names in os.walk(TESTS):
        dirs[:] = [d for d in dirs if d != "node_modules"]
        files += [Path(root, name) for name in names if name.endswith(".py")]
    return files


def _conftest_definitions(path: Path) -> list[str]:
    """Top-level names a conftest defines that are neither fixtures nor pytest hooks."""
    out = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if not fixture and not node.name.startswith("pytest_"):
                out.append(node.name)
        elif isinstance(node, ast.ClassDef | ast.Assign | ast.AnnAssign):
            names = [node.name] if isinstance(node, ast.ClassDef) else []
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
            out.extend(name for name in names if name != "__all__")
    return out


def test_conftest_files_hold_fixtures_and_hooks_and_no_test_imports_them() -> None:
    files = _test_files()
    helpers = {
        str(p.relative_to(TESTS)): _conftest_definitions(p)
        for p in files
        if p.name == "conftest.py"
    }
    assert {path: names for path, names in helpers.items() if names} == {}
    importing = [
        str(p.relative_to(TESTS))
        for p in files
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("conftest")
    ]
    assert importing == []


def test_property_tests_ask_for_their_examples_through_the_fast_run_scale() -> None:
    literal = re.compile(r"max_examples\s*=\s*\d")
    bypassing = [str(p.relative_to(TESTS)) for p in _test_files() if literal.search(p.read_text())]
    assert bypassing == [], "use max_examples=examples(n) (tests/support/markers.py)"
