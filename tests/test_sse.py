"""surestream.sse: the conformance kit in every chunking, encode(), limits, error handling."""

from __future__ import annotations

import pytest

from surestream.conformance import check_all, check_vector, load_vectors
from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.sse import (
    DEFAULT_MAX_EVENT_SIZE,
    Decoder,
    ServerSentEvent,
    SSEProtocolError,
    encode,
    encode_comment,
)
from tests.chunking import cut, every_chunking, feed_chunks

VECTORS = load_vectors()


def decode_all(data: bytes, chunks: list[bytes] | None = None) -> list[ServerSentEvent]:
    decoder = Decoder()
    out = [e for batch in feed_chunks(decoder.feed, chunks or [data]) for e in batch]
    return out + decoder.close()


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_vector_in_every_chunking(vector) -> None:  # type: ignore[no-untyped-def]
    for label, chunks in every_chunking(vector.input):
        assert check_vector(vector, Decoder, chunks) is None, label


def test_kit_covers_every_rule_of_the_issue() -> None:
    rules = {v.rule for v in VECTORS}
    assert rules >= {
        "utf-8", "bom", "line-ends", "no-colon", "leading-space", "data", "event-type",
        "last-event-id", "retry", "unknown-fields", "comments", "dispatch", "eof",
        "max-event-size",
    }  # fmt: skip


def test_check_all_runs_without_pytest() -> None:
    assert check_all(Decoder) == []


def test_check_all_reports_a_broken_decoder() -> None:
    class NoBom(Decoder):
        def feed(self, chunk: bytes) -> list[ServerSentEvent]:
            return super().feed(chunk.replace(b"\xef\xbb\xbf", b"X"))

    failures = check_all(NoBom)
    assert any("bom-skipped" in f for f in failures)


def test_event_comes_out_of_the_feed_that_completes_it() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [ServerSentEvent(data="a")]
    assert decoder.feed(b"\ndata: b\r\n\r") == [ServerSentEvent(data="b")]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"id: 1\ndata: c\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(data="c", id="1")]


def test_state_attributes() -> None:
    decoder = Decoder()
    assert (decoder.last_event_id, decoder.retry) == (None, None)
    decoder.feed(b"retry: 2500\nid: 4\n")
    assert (decoder.last_event_id, decoder.retry) == (None, 2500)  # id applies at dispatch
    decoder.feed(b"\n")
    assert (decoder.last_event_id, decoder.retry) == ("4", 2500)


def test_close_discards_the_pending_block_and_starts_a_new_stream() -> None:
    decoder = Decoder()
    assert decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n") == [
        ServerSentEvent(data="a", id="1")
    ]
    assert decoder.close() == []
    assert decoder.last_event_id == "1"
    # A reconnection: a new BOM is skipped again; the last event ID carries over.
    assert decoder.feed(b"\xef\xbb\xbfdata: c\n\n") == [ServerSentEvent(data="c", id="1")]


def test_huge_retry_is_ignored_not_an_exception() -> None:
    decoder = Decoder()
    decoder.feed(b"retry: 7\n\nretry: " + b"9" * 5000 + b"\n\n")
    assert decoder.retry == 7


def test_a_very_long_line_in_tiny_chunks_is_linear() -> None:
    decoder = Decoder()
    line = b"data: " + b"x" * 200_000
    for i in range(0, len(line), 7):
        assert decoder.feed(line[i : i + 7]) == []
    assert decoder.feed(b"\n\n") == [ServerSentEvent(data="x" * 200_000)]


# max_event_size


def test_default_limit() -> None:
    assert Decoder().max_event_size == DEFAULT_MAX_EVENT_SIZE == 1024 * 1024
    with pytest.raises(ValueError, match="max_event_size"):
        Decoder(max_event_size=0)


@pytest.mark.parametrize(
    "stream",
    [
        b"data: " + b"x" * 100,  # one line, no newline at all
        b"data: " + b"x" * 100 + b"\n\n",  # one line, complete
        b"data: 0123456789\n" * 10,  # many small data lines
        b": " + b"c" * 100 + b"\n",  # a comment counts too
    ],
    ids=["no-newline", "one-line", "many-lines", "comment"],
)
def test_limit_raises_naming_the_limit(stream: bytes) -> None:
    for label, chunks in [("whole", [stream]), ("bytes", list(cut(stream, range(len(stream)))))]:
        decoder = Decoder(max_event_size=64)
        with pytest.raises(SSEProtocolError, match=r"max_event_size \(64 characters\)"):
            for chunk in chunks:
                decoder.feed(chunk)
            decoder.close()
        assert isinstance(decoder, Decoder), label


def test_limit_error_is_a_remote_protocol_error_and_sticks() -> None:
    decoder = Decoder(max_event_size=8)
    with pytest.raises(RemoteProtocolError):
        decoder.feed(b"data: 0123456789")
    with pytest.raises(SSEProtocolError):
        decoder.feed(b"\n\ndata: a\n\n")
    assert decoder.close() == []


def test_events_before_the_violation_are_delivered_first() -> None:
    decoder = Decoder(max_event_size=8)
    assert decoder.feed(b"data: a\n\ndata: 0123456789\n\n") == [ServerSentEvent(data="a")]
    with pytest.raises(SSEProtocolError, match="max_event_size"):
        decoder.close()


def test_event_at_the_limit_passes() -> None:
    decoder = Decoder(max_event_size=10)
    # data so far (5: "1234" and its LF) + the line ("data:", 5) == 10
    assert decoder.feed(b"data: 1234\ndata:\n\n") == [ServerSentEvent(data="1234\n")]


# encode()


def test_encode_shapes() -> None:
    assert encode("hi") == b"data: hi\n\n"
    assert encode('{"a":1}', id="3") == b'id: 3\ndata: {"a":1}\n\n'
    assert encode("a\r\nb\rc\nd", event="x") == b"event: x\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode("", id="") == b"id: \ndata: \n\n"
    assert encode(None, id="7") == b"id: 7\n\n"
    assert encode(None, retry=3000) == b"retry: 3000\n\n"
    assert encode("x", comment="c1\nc2", retry=0) == b": c1\n: c2\nretry: 0\ndata: x\n\n"
    assert encode_comment("ping") == b": ping\n"
    assert encode_comment() == b":\n"
    assert encode_comment("a\r\n\nb") == b": a\n:\n: b\n"
    assert ServerSentEvent(data="x", id="1").encode() == b"id: 1\ndata: x\n\n"
    assert ServerSentEvent("e", "x", None, 5).encode() == b"retry: 5\nevent: e\ndata: x\n\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "a\nb"},
        {"event": "a\rb"},
        {"id": "1\n2"},
        {"id": "1\r"},
        {"id": "1\x002"},
        {"retry": -1},
        {"retry": 1.5},
        {"retry": True},
        {"data": "\ud800"},
    ],
)
def test_encode_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_encoded_events_decode_back() -> None:
    events = [
        ServerSentEvent(data="a"),
        ServerSentEvent("named", "multi\nline\n", "7", None),
        ServerSentEvent(data="", id="8"),
        ServerSentEvent(" spaced", " x ", " 9", 1000),
    ]
    wire = b"".join(e.encode() for e in events)
    for _label, chunks in every_chunking(wire, pairs_up_to=0):
        assert decode_all(wire, chunks) == events


def test_sse_is_named_and_immutable() -> None:
    event = ServerSentEvent(event="e", data="d", id="i", retry=1)
    assert (event.event, event.data, event.id, event.retry) == ("e", "d", "i", 1)
    assert ServerSentEvent() == ServerSentEvent("message", "", None, None)
    with pytest.raises(AttributeError):
        event.data = "x"  # type: ignore[misc]
