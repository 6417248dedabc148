"""``connect``: the async client driven from sync code (a portal thread), same behaviour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surestream.client import StreamFailed, connect
from surestream.events import Done, Error, Text
from tests.client.apps import Journal, answer, app, native_blocks
from tests.support.servers import ServerThread, serve_in_thread

WORDS = [f"w{i} " for i in range(300)]
JOURNALS = {
    "ok": Journal(native_blocks(answer(WORDS))),
    "failed": Journal(native_blocks(answer(["x"], Error("upstream_error", "boom")))),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve_in_thread(app(JOURNALS)) as running:
        yield running


def test_sync_iteration_and_text(server: ServerThread) -> None:
    with connect(f"{server.url}/streams/ok") as stream:
        events = list(stream)
        assert stream.text() == "".join(WORDS)
    assert events == answer(WORDS)
    assert stream.outcome == Done()
    assert stream.attempts == 1
    assert stream.last_event_id == str(len(WORDS) + 1)
    assert stream.dialect == "native"


def test_sync_partial_iteration_then_text(server: ServerThread) -> None:
    with connect(f"{server.url}/streams/ok") as stream:
        first = [event for _, event in zip(range(3), stream, strict=False)]
        assert first[1:] == [Text("w0 "), Text("w1 ")]
        assert next(stream) == Text("w2 ")
        assert stream.text() == "".join(WORDS)


def test_sync_failed_stream_raises_stream_failed(server: ServerThread) -> None:
    with connect(f"{server.url}/streams/failed") as stream, pytest.raises(StreamFailed) as info:
        stream.text()
    assert info.value.error.message == "boom"
