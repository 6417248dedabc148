"""The sans-IO recorder: events and comment lines found in any chunking, with their times."""

from __future__ import annotations

import pytest

from surestream.check.recording import (
    BODY_PREVIEW_SIZE,
    END_CLOSED,
    END_PROTOCOL_ERROR,
    Recorder,
    Request,
    replay,
)
from surestream.errors import SSEProtocolError
from tests.chunking import every_chunking

WIRE = (
    b"retry: 3000\n\n"
    b": ping\r\n"
    b'id: 0\nevent: content\ndata: {"a":1}\n\n'
    b":\r"
    b"data: two\ndata: lines\r\n\r\n"
    b":  spaced comment\n\n"
    b"data: unterminated"
)


def test_events_and_comments_are_found_in_every_chunking() -> None:
    for label, chunks in every_chunking(WIRE, pairs_up_to=0):
        recorder = Recorder(Request("http://x"))
        recorder.on_headers(0.0, 200, [("content-type", "text/event-stream")])
        for i, chunk in enumerate(chunks):
            recorder.on_bytes(float(i), chunk)
        rec = recorder.on_end(float(len(chunks)), END_CLOSED)
        assert [(e.event, e.data, e.id) for e in rec.events] == [
            ("content", '{"a":1}', "0"),
            ("message", "two\nlines", "0"),
        ], label
        assert [c.text for c in rec.comments] == ["ping", "", " spaced comment"], label
        assert rec.body_size == len(WIRE)
        assert recorder.last_event_id == "0"


def test_times_are_those_of_the_chunk_that_completed_the_event() -> None:
    rec = replay(
        Request("http://x"),
        200,
        [],
        [(0.1, b"data: a"), (0.5, b"\n\n: ping\n"), (0.9, b"data: b\n\n")],
        t_headers=0.05,
    )
    assert [(e.index, e.t) for e in rec.events] == [(0, 0.5), (1, 0.9)]
    assert [(c.t, c.text) for c in rec.comments] == [(0.5, "ping")]
    assert rec.chunks == [(0.1, 7), (0.5, 9), (0.9, 9)]
    assert rec.t_end == 0.9 and rec.end == END_CLOSED


def test_body_preview_is_bounded() -> None:
    rec = replay(Request("http://x"), 500, [], [(0.1, b"x" * (BODY_PREVIEW_SIZE + 10))])
    assert len(rec.body_preview) == BODY_PREVIEW_SIZE
    assert rec.body_size == BODY_PREVIEW_SIZE + 10


def test_an_oversized_event_ends_the_recording_as_a_protocol_error() -> None:
    recorder = Recorder(Request("http://x"), max_event_size=10)
    recorder.on_headers(0.0, 200, [])
    with pytest.raises(SSEProtocolError) as caught:
        recorder.on_bytes(0.1, b"data: " + b"y" * 50 + b"\n\n")
    rec = recorder.on_end(0.1, END_PROTOCOL_ERROR, str(caught.value))
    assert rec.end == END_PROTOCOL_ERROR and "max_event_size" in (rec.error or "")


def test_with_header_replaces_case_insensitively() -> None:
    req = Request("http://x", headers=(("last-event-id", "1"), ("A", "b")))
    assert req.with_header("Last-Event-ID", "2").headers == (("A", "b"), ("Last-Event-ID", "2"))
