"""Hypothesis properties of surestream.sse: a spec transliteration as the oracle, round trips,
hostile bytes, and "an event comes out of the very feed call whose bytes complete it"."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from surestream.sse import Decoder, ServerSentEvent, SSEProtocolError, encode
from tests.chunking import cut, feed_chunks
from tests.support.markers import examples

Result = tuple[list[ServerSentEvent], str | None, int | None]


def reference(data: bytes) -> Result:
    """The WHATWG algorithm, transliterated line by line over the whole input at once."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)
    lines.pop()  # the unterminated last line: "any pending data must be discarded"
    out: list[ServerSentEvent] = []
    buffer, event_type, id_buffer, last_id, retry = "", "", None, None, None
    for line in lines:
        if not line:
            last_id = id_buffer
            if buffer:
                out.append(ServerSentEvent(event_type or "message", buffer[:-1], last_id, retry))
            buffer, event_type = "", ""
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            buffer += value + "\n"
        elif field == "event":
            event_type = value
        elif field == "id" and "\0" not in value:
            id_buffer = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return out, last_id, retry


def decode(chunks: list[bytes], **kwargs: int) -> Result:
    decoder = Decoder(**kwargs)
    events = [e for batch in feed_chunks(decoder.feed, chunks) for e in batch]
    events += decoder.close()
    return events, decoder.last_event_id, decoder.retry


def decode_to_limit(chunks: list[bytes], limit: int) -> tuple[list[ServerSentEvent], bool]:
    """The events decoded with ``max_event_size=limit`` and whether the limit was hit."""
    decoder = Decoder(max_event_size=limit)
    events: list[ServerSentEvent] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
        events += decoder.close()
    except SSEProtocolError:
        return events, True
    return events, False


FRAGMENTS = [
    b"id: ", b"id:", b"id", b"data: ", b"data:", b"data", b"event: ", b"event:", b"retry: ",
    b"retry:", b": ", b":", b" ", b"  ", b"\n", b"\n\n", b"\r", b"\r\n", b"x", b"12", b"007",
    b"\xc3\xa9", b"\xf0\x9f\x99\x82", b"\xf0\x9f", b"\xff", b"\x00", b"\xef\xbb\xbf", b"foo",
    b"\xe2\x80\xa8", b"id: 5\ndata: a\n\n", b"data: z\n\n", b"id: 6\ndata: b\n\nid: 7\ndata: c\n\n",
    b": ping\n\n", b"data: {\"type\":\"text\",\"text\":\"hi\"}\n\n", b"\n\n\n",
    b"event: t\ndata: x\n\n", b"event: \ndata: y\n\n", b"event: a\ndata: b\n\nevent: c\ndata: \n\n",
]  # fmt: skip
sse_like = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(b"".join)
cut_points = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=12)


@settings(max_examples=examples(400), deadline=None)
@given(sse_like, cut_points)
def test_matches_the_spec_transliteration(data: bytes, points: list[int]) -> None:
    expected = reference(data)
    assert decode([data]) == expected
    assert decode(cut(data, points)) == expected


@settings(max_examples=examples(100), deadline=None)
@given(sse_like)
def test_matches_the_spec_transliteration_byte_by_byte(data: bytes) -> None:
    assert decode(cut(data, range(len(data)))) == reference(data)


no_line_break = st.text().filter(lambda s: "\n" not in s and "\r" not in s)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(),
            st.none() | no_line_break,
            st.none() | no_line_break.filter(lambda s: "\0" not in s),
        ),
        max_size=8,
    ),
    cut_points,
)
def test_round_trip_for_any_text(
    items: list[tuple[str, str | None, str | None]], points: list[int]
) -> None:
    wire = b"".join(encode(data, event=event, id=id) for data, event, id in items)
    expected = []
    last_id = None
    for data, event, id in items:
        last_id = id if id is not None else last_id
        text = data.replace("\r\n", "\n").replace("\r", "\n")
        expected.append(ServerSentEvent(event or "message", text, last_id, None))
    assert decode(cut(wire, points))[0] == expected


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=600) | sse_like, cut_points, st.integers(min_value=1, max_value=48))
def test_hostile_bytes_give_events_or_protocol_error_in_bounded_memory(
    data: bytes, points: list[int], limit: int
) -> None:
    decoder = Decoder(max_event_size=limit)
    try:
        for chunk in cut(data, points):
            for event in decoder.feed(chunk):
                assert isinstance(event, ServerSentEvent)
                assert len(event.data) <= limit
            assert decoder._tail_size + decoder._data_size <= limit
            assert sum(map(len, decoder._tail)) == decoder._tail_size
        decoder.close()
    except SSEProtocolError as exc:
        assert f"max_event_size ({limit} characters)" in str(exc)


@settings(max_examples=examples(200), deadline=None)
@given(sse_like, cut_points, st.integers(min_value=1, max_value=24))
def test_limit_outcome_does_not_depend_on_chunking(
    data: bytes, points: list[int], limit: int
) -> None:
    assert decode_to_limit(cut(data, points), limit) == decode_to_limit([data], limit)


terminators = st.sampled_from(["\n", "\r", "\r\n"])


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["data: a", "id: 1\ndata: b", ": c", "data: é\ndata: d"]),
                  terminators, terminators),
        min_size=1,
        max_size=10,
    ),
    cut_points,
)  # fmt: skip
def test_event_comes_out_of_the_feed_whose_bytes_complete_it(
    blocks: list[tuple[str, str, str]], points: list[int]
) -> None:
    wire = b""
    completes: list[int] = []  # offset of the byte that completes each dispatched event
    for body, line_end, blank_end in blocks:
        if line_end == "\r" and blank_end == "\n":
            blank_end = "\r"  # "\r" + "\n" would be one CRLF line end, not a blank line
        wire += (body.replace("\n", line_end) + line_end).encode()
        if not body.startswith(":"):
            completes.append(len(wire))  # the first byte of the blank line's terminator
        wire += blank_end.encode()
    chunks = cut(wire, points)
    batches = feed_chunks(Decoder().feed, chunks)
    expected_counts = []
    start = 0
    for chunk in chunks:
        expected_counts.append(sum(1 for i in completes if start <= i < start + len(chunk)))
        start += len(chunk)
    assert [len(batch) for batch in batches] == expected_counts


def line_machine(data: bytes) -> Result:
    """The decoder's slow path alone: every line of the whole input through ``_lines``."""
    decoder = Decoder()
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines.pop()
    out: list[ServerSentEvent] = []
    decoder._lines(lines, out)
    return out, decoder.last_event_id, decoder.retry


field_value = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=12
)
typed_block = st.tuples(field_value, field_value).map(
    lambda pair: f"event: {pair[0]}\ndata: {pair[1]}\n\n"
)
# What interrupts a run of event + data blocks in real streams: ids, comments, other shapes.
other_block = st.sampled_from(
    ["id: 9\n", ": ping\n\n", "data: plain\n\n", "id: 3\ndata: x\n\n", "event:x\ndata:y\n\n",
     "event: t\ndata: a\ndata: b\n\n", "retry: 5\n\n", "event: t\n\n", "\n"]
)  # fmt: skip
typed_stream = st.lists(typed_block | other_block, max_size=30).map(
    lambda blocks: "".join(blocks).encode()
)


@settings(max_examples=examples(400), deadline=None)
@given(typed_stream, cut_points, st.sampled_from(["\n", "\r", "\r\n"]))
def test_event_and_data_blocks_agree_with_the_line_machine(
    data: bytes, points: list[int], line_end: str
) -> None:
    data = data.replace(b"\n", line_end.encode())
    expected = reference(data)
    assert line_machine(data) == expected
    assert decode([data]) == expected
    assert decode(cut(data, points)) == expected


@settings(max_examples=examples(200), deadline=None)
@given(typed_stream, cut_points, st.integers(min_value=1, max_value=40))
def test_event_and_data_blocks_hit_the_limit_as_the_line_machine_does(
    data: bytes, points: list[int], limit: int
) -> None:
    byte_by_byte = decode_to_limit(cut(data, range(len(data))), limit)
    assert decode_to_limit([data], limit) == byte_by_byte
    assert decode_to_limit(cut(data, points), limit) == byte_by_byte
