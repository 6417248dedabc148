"""An ADK agent served over HTTP: ``adk_router`` and ``create_app`` beside ADK's own ``/run_sse``.

Real uvicorn on loopback, real ADK ``Runner`` / ``ApiServer``, the fake ``BaseLlm`` of
``adk_agents/weather``; ADK's own ``/run_sse`` is captured in the same runs as ours.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.adk.cli import api_server
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService

from surestream.events import Done, Error
from surestream.hub import Hub
from surestream.integrations.adk import adk_router, create_app
from surestream.server import RETRY_AFTER
from surestream.sse import Decoder
from surestream.store import MemoryStore, RedisStore
from tests.integrations import fakes
from tests.integrations._helpers import (
    assert_failed_message,
    assert_weather_message,
    check,
    kinds,
    post,
    reading_until_text,
    tag,
    ui_post,
)
from tests.integrations.adk_agents.weather.agent import root_agent
from tests.server._helpers import assert_verdict
from tests.support.node import read_ui_streams, run_node
from tests.support.servers import ServerThread, command_process, free_port, serve_in_thread

AGENTS_DIR = Path(__file__).parent / "adk_agents"
IDLE = 2.0
ORPHAN_GRACE = 0.6


def weather_runner() -> Runner:
    """A ``Runner`` of the weather agent with in-memory sessions."""
    return Runner(
        app_name="weather",
        agent=root_agent,
        session_service=InMemorySessionService(),
        auto_create_session=True,
    )


@pytest.fixture(scope="module")
def direct() -> Iterator[ServerThread]:
    """An app with its own ``Runner`` and ``adk_router`` (no journal)."""
    runner = weather_runner()
    app = FastAPI()
    app.include_router(adk_router(runner, heartbeat=0.2, idle_timeout=IDLE))
    with serve_in_thread(app) as server:
        warm_up(f"{server.url}/run_sse", "s0")
        yield server


@pytest.fixture(scope="module")
def served() -> Iterator[ServerThread]:
    """``create_app`` over the agents directory: ADK's routes plus ours, journaled.

    ADK's app would install process-wide OpenTelemetry providers, for good: every FastAPI app
    built after it in this test process would then trace each request and hold it until its
    response ends (a stream's whole life). Nothing here reads ADK's traces: it installs none.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api_server, "_setup_telemetry", lambda **_: None)
        app = create_app(
            AGENTS_DIR,
            session_service_uri="memory://",
            heartbeat=0.2,
            idle_timeout=IDLE,
            orphan_grace=ORPHAN_GRACE,
        )
    with serve_in_thread(app) as server:
        warm_up(f"{server.url}/surestream/run_sse", new_session(server.url))
        yield server


def warm_up(url: str, session_id: str) -> None:
    """One run first: ADK's first run imports and sets up for longer than ``IDLE``."""
    with httpx.Client(timeout=60) as client:
        client.post(url, json=body("weather", session_id), params={"dialect": "native"})


def new_session(base: str) -> str:
    response = httpx.post(f"{base}/apps/weather/users/u/sessions", timeout=30)
    assert response.status_code == 200, response.text
    session_id: str = response.json()["id"]
    return session_id


def body(text: str, session_id: str = "s1", *, streaming: bool = True) -> dict[str, Any]:
    return {
        "app_name": "weather",
        "user_id": "u",
        "session_id": session_id,
        "streaming": streaming,
        "new_message": {"role": "user", "parts": [{"text": text}]},
    }


def test_the_router_streams_the_run_and_ends_with_done(direct: ServerThread) -> None:
    got = post(f"{direct.url}/run_sse", body("weather in Paris?"))
    assert got.status == 200
    assert got.headers["cache-control"] == "no-cache, no-transform"
    assert kinds(got.events) == [
        "start", "step", "reasoning", "text", "text", "tool_call_start", "tool_call",
        "tool_result", "step", "text", "text", "text", "done",
    ]  # fmt: skip
    assert [sse.id for sse in got.sse] == [str(i) for i in range(len(got.events))]
    assert assert_verdict(got.events) == Done(
        "stop", {"prompt_tokens": 22, "completion_tokens": 14, "total_tokens": 36}
    )


def test_a_model_that_raises_gives_exactly_one_safe_error(direct: ServerThread) -> None:
    got = post(f"{direct.url}/run_sse", body("boom"))
    assert kinds(got.events)[-2:] == ["text", "error"]
    assert assert_verdict(got.events) == Error("upstream_error", "the agent failed")
    assert fakes.SECRET.encode() not in got.raw


def test_a_hung_model_ends_with_idle_timeout_and_its_call_is_cancelled(
    direct: ServerThread, markers: Path
) -> None:
    name = tag()
    got = post(f"{direct.url}/run_sse", body(f"hang #{name}"))
    verdict = assert_verdict(got.events)
    assert isinstance(verdict, Error) and verdict.code == "idle_timeout"
    assert b": ping" in got.raw
    assert fakes.wait_marker(markers, name, "cancelled")


def test_a_client_that_leaves_cancels_the_model_call(direct: ServerThread, markers: Path) -> None:
    name = tag()
    with reading_until_text(f"{direct.url}/run_sse", body(f"hang #{name}")):
        assert fakes.wait_marker(markers, name, "hanging")
    assert fakes.wait_marker(markers, name, "cancelled")


def test_bad_requests_are_http_errors_before_any_stream(direct: ServerThread) -> None:
    assert post(f"{direct.url}/run_sse", {"user_id": "u"}).status == 422
    assert post(f"{direct.url}/run_sse", {**body("hi"), "app_name": "other"}).status == 404


def test_served_directory_keeps_adks_routes_and_adds_ours(served: ServerThread) -> None:
    assert httpx.get(f"{served.url}/list-apps", timeout=30).json() == ["weather"]
    missing = post(f"{served.url}/surestream/run_sse", body("hi", "no-such-session"))
    assert missing.status == 404


CASES = {
    "weather in Paris?": ("close", "done stop"),
    "boom": ('{"error": ...} frame', "error upstream_error"),
    "safety": ("close", "done content_filter"),
}


@pytest.mark.parametrize("text", list(CASES))
def test_adks_own_run_sse_beside_ours(served: ServerThread, text: str) -> None:
    """What each ends with (the README table "Serving an ADK agent")."""
    theirs = post(f"{served.url}/run_sse", body(text, new_session(served.url)))
    ours = post(f"{served.url}/surestream/run_sse", body(text, new_session(served.url)))
    adk_end, our_end = CASES[text]
    frames = Decoder().feed(theirs.raw)
    assert all(frame.id is None for frame in frames)
    assert "cache-control" not in theirs.headers
    last = frames[-1].data
    if adk_end == "close":
        assert '"type"' not in last and '"error"' not in last  # an ADK Event, then nothing
    else:
        assert last.startswith('{"error": "RuntimeError: fake model blew up')
        assert fakes.SECRET in last
    verdict = assert_verdict(ours.events)
    if isinstance(verdict, Done):
        assert f"done {verdict.finish_reason}" == our_end
    else:
        assert f"error {verdict.code}" == our_end
        assert fakes.SECRET.encode() not in ours.raw


def test_adks_own_run_sse_on_a_hung_model_sends_nothing_and_stays_open(
    served: ServerThread, markers: Path
) -> None:
    """Ours ends a hung run with ``idle_timeout`` (above); ADK's sends nothing, not even a
    heartbeat, for twice that long and is still open."""
    name = tag()
    payload = body(f"hang #{name}", new_session(served.url))
    timeout = httpx.Timeout(60, read=2 * IDLE + 1)
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("POST", f"{served.url}/run_sse", json=payload) as response,
    ):
        received = b""
        with pytest.raises(httpx.ReadTimeout):
            for chunk in response.iter_raw():
                received += chunk
    assert fakes.wait_marker(markers, name, "hanging")
    assert b"ping" not in received and b'"error"' not in received


def test_adks_own_run_sse_cancels_the_run_when_the_client_leaves(
    served: ServerThread, markers: Path
) -> None:
    name = tag()
    payload = body(f"hang #{name}", new_session(served.url))
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", f"{served.url}/run_sse", json=payload),
    ):
        assert fakes.wait_marker(markers, name, "hanging")
    assert fakes.wait_marker(markers, name, "cancelled")


def test_a_journaled_run_resumes_after_last_event_id(served: ServerThread) -> None:
    first = post(f"{served.url}/surestream/run_sse", body("weather", new_session(served.url)))
    location = first.headers["location"]
    assert location.startswith("/surestream/streams/st_")
    resumed = httpx.get(f"{served.url}{location}", headers={"Last-Event-ID": "4"}, timeout=30)
    ids = [frame.id for frame in Decoder().feed(resumed.content)]
    assert ids == [str(i) for i in range(5, len(first.events))]
    assert resumed.content.endswith(first.raw[first.raw.index(b"id: 5\n") :])
    ended = httpx.get(
        f"{served.url}{location}",
        headers={"Last-Event-ID": str(len(first.events) - 1)},
        timeout=30,
    )
    assert ended.status_code == 204


def test_journaled_hang_ends_with_idle_timeout_and_cancels_the_call(
    served: ServerThread, markers: Path
) -> None:
    name = tag()
    got = post(f"{served.url}/surestream/run_sse", body(f"hang #{name}", new_session(served.url)))
    verdict = assert_verdict(got.events)
    assert isinstance(verdict, Error) and verdict.code == "idle_timeout"
    assert fakes.wait_marker(markers, name, "cancelled")


def test_a_journaled_run_nobody_reads_is_cancelled_after_orphan_grace(
    served: ServerThread, markers: Path
) -> None:
    name = tag()
    session = new_session(served.url)
    with reading_until_text(f"{served.url}/surestream/run_sse", body(f"hang #{name}", session)):
        assert fakes.wait_marker(markers, name, "hanging")
    assert fakes.wait_marker(markers, name, "cancelled")


def test_the_ai_sdk_reads_the_router_s_vercel_ai_stream_into_parts(direct: ServerThread) -> None:
    url = f"{direct.url}/run_sse?dialect=vercel-ai"
    answer, failure = read_ui_streams(
        [ui_post(url, body("weather", "s-ui-1")), ui_post(url, body("boom", "s-ui-2"))]
    )
    assert_weather_message(answer)
    assert_failed_message(failure)


def test_the_ai_sdk_reads_a_journaled_run_whole_and_resumed_at_every_event(
    served: ServerThread,
) -> None:
    """``useChat``'s reader on ``/surestream/run_sse?dialect=vercel-ai``, then the same run
    resumed after each event id: each resumed stream is valid on its own."""
    url = f"{served.url}/surestream/run_sse?dialect=vercel-ai"
    [whole] = read_ui_streams([ui_post(url, body("weather", new_session(served.url)))])
    assert_weather_message(whole)
    location = whole["headers"]["location"]
    native = httpx.get(f"{served.url}{location}", timeout=30).content
    count = len(Decoder().feed(native))
    events_url = f"{served.url}{location}?dialect=vercel-ai"
    resumed = read_ui_streams(
        [(events_url, {"headers": {"Last-Event-ID": str(after)}}) for after in range(count)]
    )
    *partial, after_the_end = resumed
    assert after_the_end["status"] == 204
    for after, result in enumerate(partial):
        assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, []), after
        assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}, after


USE_CHAT = """
import { DefaultChatTransport, readUIMessageStream } from "ai";
const [base, appName, session] = process.argv.slice(2);
const transport = new DefaultChatTransport({
  api: `${base}/surestream/run_sse?dialect=vercel-ai`,
  prepareSendMessagesRequest: ({ messages, id }) => ({
    body: {
      app_name: appName, user_id: "u", session_id: id, streaming: true,
      new_message: {
        role: "user",
        parts: [{ text: messages.at(-1).parts.find((p) => p.type === "text").text }],
      },
    },
  }),
});
const question = { id: "m1", role: "user", parts: [{ type: "text", text: "Weather in Paris?" }] };
const chunks = await transport.sendMessages({
  chatId: session, messages: [question], trigger: "submit-message", messageId: undefined,
  abortSignal: undefined,
});
let message = null;
const errors = [];
const onError = (e) => errors.push(String(e));
for await (const m of readUIMessageStream({ stream: chunks, onError })) message = m;
console.log(JSON.stringify({ message, errors }));
"""
"""The README's ``useChat`` transport (``DefaultChatTransport`` with ADK's body)."""


def test_a_use_chat_transport_reads_the_served_run(served: ServerThread) -> None:
    result = run_node(USE_CHAT, served.url, "weather", new_session(served.url))
    assert result["errors"] == []
    parts = result["message"]["parts"]
    assert [p["type"] for p in parts] == [
        "step-start", "reasoning", "text", "tool-get_weather", "step-start", "text",
    ]  # fmt: skip
    assert parts[3]["output"] == fakes.TOOL_OUTPUT


def test_check_says_ok_for_ours_and_no_terminal_signal_for_adks(
    markers: Path, tmp_path: Path
) -> None:
    """``surestream adk AGENTS_DIR`` in a process."""
    port = free_port()
    argv = [sys.executable, "-m", "surestream.cli", "adk", str(AGENTS_DIR)]
    argv += ["--port", str(port), "--session_service_uri", "memory://"]
    env = {"PYTHONPATH": str(Path(__file__).parents[2]), "SURESTREAM_TEST_MARKERS": str(markers)}
    with command_process(argv, port=port, ready_text="listening on", env=env) as served:
        theirs = check(f"{served.url}/run_sse", body("weather", new_session(served.url)), tmp_path)
        ours = check(
            f"{served.url}/surestream/run_sse", body("weather", new_session(served.url)), tmp_path
        )
    assert "closed without a terminal signal" in theirs
    assert "verdict: PROBLEM" in theirs
    assert "verdict: OK" in ours, ours
    assert "native done (finish_reason 'stop')" in ours


def test_a_store_that_is_down_is_a_503_with_retry_after_before_any_stream() -> None:
    runner = weather_runner()
    app = FastAPI()
    down = RedisStore("redis://127.0.0.1:1/0", timeout=2.0, connect_timeout=0.5, read_block=1.0)
    app.include_router(adk_router(runner, hub=Hub(down)))
    with serve_in_thread(app) as server:
        response = httpx.post(f"{server.url}/run_sse", json=body("hi"), timeout=30)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.json() == {"detail": "the journal store is unavailable"}


def test_a_reader_past_max_subscribers_is_a_429_with_retry_after(markers: Path) -> None:
    runner = weather_runner()
    app = FastAPI()
    app.include_router(adk_router(runner, hub=Hub(MemoryStore(), max_subscribers=1)))
    name = tag()
    with (
        serve_in_thread(app) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("POST", "/run_sse", json=body(f"hang #{name}")) as first,
    ):
        assert first.status_code == 200
        assert fakes.wait_marker(markers, name, "hanging")
        second = client.get(first.headers["location"])
    assert second.status_code == 429, second.text
    assert second.headers["Retry-After"] == str(RETRY_AFTER)
    assert second.json() == {"detail": "the stream has its most readers already"}
