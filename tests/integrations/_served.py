"""The tests every adapter passes when served: one class, a subclass per framework.

A subclass provides the ``served`` fixture (``serve_adapter(run)``: ``POST /run`` with
``{"text": ...}`` streams ``run(text)`` through ``EventStreamResponse``) and the kinds of the
weather answer's events. The fake models mark a cancelled call (``tests.integrations.fakes``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, Callable, Iterator
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel

from surestream.events import Done, Error, Event
from surestream.server import EventStreamResponse
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
from tests.server._helpers import assert_verdict
from tests.support.node import read_ui_streams
from tests.support.servers import ServerThread, serve_in_thread

IDLE = 2.0
"""The served streams' idle timeout (ample: only the hung model reaches it)."""


class RunBody(BaseModel):
    """What the test app takes: the user's message."""

    text: str


@contextlib.contextmanager
def serve_adapter(run: Callable[[str], AsyncIterable[Event]]) -> Iterator[ServerThread]:
    """A real uvicorn serving ``POST /run?dialect=``: ``run(text)`` as a stream."""
    app = FastAPI()

    @app.post("/run")
    async def run_route(
        body: RunBody,
        dialect: Annotated[Literal["native", "openai", "vercel-ai"], Query()] = "native",
    ) -> EventStreamResponse:
        source = run(body.text)
        return EventStreamResponse(source, dialect=dialect, heartbeat=0.2, idle_timeout=IDLE)

    with serve_in_thread(app) as server:
        post(f"{server.url}/run", {"text": "weather"})  # first runs import and set up
        yield server


class ServedAdapterTests:
    """Served: the answer, a failing, a hung and an abandoned model call, ``surestream check``."""

    KINDS: ClassVar[tuple[str, ...]]
    """The event kinds of the weather answer, ``start`` to ``done``."""

    def model_hanging(self, markers: Path, name: str) -> bool:
        """True once the fake model tagged ``name`` has gone silent."""
        return fakes.wait_marker(markers, name, "hanging")

    def model_cancelled(self, markers: Path, name: str) -> bool:
        """True once the model call tagged ``name`` has been cancelled."""
        return fakes.wait_marker(markers, name, "cancelled")

    def test_the_answer_streams_and_ends_with_done(self, served: ServerThread) -> None:
        got = post(f"{served.url}/run", {"text": "weather in Paris?"})
        assert tuple(kinds(got.events)) == self.KINDS
        verdict = assert_verdict(got.events)
        assert isinstance(verdict, Done) and verdict.finish_reason == "stop"
        assert [sse.id for sse in got.sse] == [str(i) for i in range(len(got.events))]

    def test_a_model_that_raises_gives_exactly_one_safe_error(self, served: ServerThread) -> None:
        got = post(f"{served.url}/run", {"text": "boom"})
        assert assert_verdict(got.events) == Error("upstream_error", "the agent failed")
        assert fakes.SECRET.encode() not in got.raw

    def test_a_hung_model_ends_with_idle_timeout_and_its_call_is_cancelled(
        self, served: ServerThread, markers: Path
    ) -> None:
        name = tag()
        got = post(f"{served.url}/run", {"text": f"hang #{name}"})
        verdict = assert_verdict(got.events)
        assert isinstance(verdict, Error) and verdict.code == "idle_timeout"
        assert b": ping" in got.raw
        assert self.model_cancelled(markers, name)

    def test_a_client_that_leaves_cancels_the_model_call(
        self, served: ServerThread, markers: Path
    ) -> None:
        name = tag()
        with reading_until_text(f"{served.url}/run", {"text": f"hang #{name}"}):
            assert self.model_hanging(markers, name)
        assert self.model_cancelled(markers, name)

    def test_the_ai_sdk_reads_the_vercel_ai_stream_into_parts(self, served: ServerThread) -> None:
        url = f"{served.url}/run?dialect=vercel-ai"
        answer, failure = read_ui_streams(
            [ui_post(url, {"text": "weather"}), ui_post(url, {"text": "boom"})]
        )
        assert_weather_message(answer)
        assert_failed_message(failure)

    def test_check_says_ok(self, served: ServerThread, tmp_path: Path) -> None:
        report = check(f"{served.url}/run", {"text": "weather"}, tmp_path)
        assert "verdict: OK" in report, report
        assert "native done (finish_reason 'stop')" in report
