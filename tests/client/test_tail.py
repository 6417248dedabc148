"""``surestream tail`` in a subprocess: live text, dimmed status, verdict line, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from surestream.events import Done, Error, Start, Status, Text
from tests.client.apps import Journal, app, native_blocks
from tests.support.servers import ServerThread, free_port, serve_in_thread

EVENTS = [Start(), Text("Hello"), Status("searching"), Text(" world"), Done()]
JOURNALS = {
    "done": Journal(native_blocks(EVENTS)),
    "error": Journal(native_blocks([Start(), Text("Hel"), Error("upstream_error", "boom")])),
    "cut": Journal(native_blocks(EVENTS), stop_at=2, resume_status=404),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve_in_thread(app(JOURNALS)) as running:
        yield running


def tail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "surestream.cli", "tail", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_done_prints_text_status_and_verdict_and_exits_0(server: ServerThread) -> None:
    out = tail(f"{server.url}/streams/done")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines == ["Hello", "· searching", " world", lines[-1]]
    assert lines[-1].startswith("── done (stop) · 5 events, 11 chars, 1 connection(s)")


def test_error_exits_1_with_the_code_and_message(server: ServerThread) -> None:
    out = tail(f"{server.url}/streams/error")
    assert out.returncode == 1
    assert out.stdout.splitlines()[-1].startswith("── error upstream_error: boom")


def test_interrupted_exits_2_with_the_last_event_id(server: ServerThread) -> None:
    out = tail(f"{server.url}/streams/cut")
    assert out.returncode == 2
    last = out.stdout.splitlines()[-1]
    assert last.startswith("── interrupted")
    assert "404" in last and "'1'" in last


def test_post_with_json_and_headers(server: ServerThread) -> None:
    url = f"{server.url}/create/done"
    out = tail(url, "-X", "POST", "-d", '{"q": "hi"}', "-H", "X-Test: 1")
    assert out.returncode == 0, out.stderr
    assert JOURNALS["done"].posts == 1


def test_connection_failure_and_http_errors_exit_2(server: ServerThread) -> None:
    refused = tail(f"http://127.0.0.1:{free_port()}/x", "-X", "POST", "-d", "{}")
    assert refused.returncode == 2
    assert "interrupted" in refused.stdout
    missing = tail(f"{server.url}/streams/nope")
    assert missing.returncode == 2
    assert "HTTP 404" in missing.stderr


def test_bad_header_is_a_usage_error(server: ServerThread) -> None:
    out = tail(f"{server.url}/streams/done", "-H", "no-colon")
    assert out.returncode == 2
    assert "bad header" in out.stderr


def test_status_lines_are_dimmed_on_a_terminal(server: ServerThread) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "surestream.cli", "tail", f"{server.url}/streams/done"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color"},
    )
    assert out.returncode == 0
    assert "\x1b[2m· searching" in out.stdout
