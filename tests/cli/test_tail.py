"""``surestream tail`` in a subprocess: live text, dimmed status, verdict line, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from surestream.events import (
    Done,
    Error,
    FinishReason,
    Reasoning,
    Start,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from tests.client.apps import Journal, app, native_blocks
from tests.support.servers import ServerThread, free_port, serve_in_thread

EVENTS = [Start(), Text("Hello"), Status("searching"), Text(" world"), Done()]
AGENT = [
    Start(),
    Step(),
    Reasoning("Weather?"),
    Reasoning(" Call it."),
    ToolCallStart("c1", "get_weather"),
    ToolCallDelta("c1", '{"city": '),
    ToolCallDelta("c1", '"Paris"}'),
    ToolCall("c1", "get_weather", {"city": "Paris"}),
    ToolResult("c1", {"t": 21}),
    ToolCall("c2", "get_time", None),
    ToolResult("c2", error="no clock"),
    Step("answer"),
    Text("21 °C."),
    Done(FinishReason.TOOL_CALLS),
]
JOURNALS = {
    "agent": Journal(native_blocks(AGENT)),
    "no-ids": Journal(native_blocks(EVENTS, ids=False), stop_at=2),
    "quiet-error": Journal(native_blocks([Start(), Error("upstream_error")])),
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


def test_reasoning_tool_calls_and_results_each_on_their_own_lines(server: ServerThread) -> None:
    out = tail(f"{server.url}/streams/agent")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "· step",
        "Weather? Call it.",
        '⚙ get_weather({"city": "Paris"})',
        '↳ c1: {"t":21}',
        "⚙ get_time(null)",
        "✗ c2: no clock",
        "· step answer",
        "21 °C.",
        "── done (tool_calls) · 14 events, 6 chars, 1 connection(s)",
    ]
    assert "None" not in out.stdout


def test_reasoning_is_dimmed_on_a_terminal(server: ServerThread) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "surestream.cli", "tail", f"{server.url}/streams/agent"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color"},
    )
    assert out.returncode == 0
    assert "\x1b[2mWeather?" in out.stdout
    assert "\x1b[2m Call it." in out.stdout
    assert "\x1b[2m21 °C." not in out.stdout and "21 °C." in out.stdout


def test_nothing_absent_is_printed_as_none(server: ServerThread) -> None:
    cut = tail(f"{server.url}/streams/no-ids")
    assert cut.returncode == 2
    assert "no event id" in cut.stdout.splitlines()[-1]
    quiet = tail(f"{server.url}/streams/quiet-error")
    assert quiet.returncode == 1
    assert quiet.stdout.splitlines()[-1].startswith("── error upstream_error · ")
    assert "None" not in cut.stdout + quiet.stdout
