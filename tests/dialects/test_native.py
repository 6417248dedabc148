"""The native dialect: the design's exact bytes, named mode, ids, and the round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surestream.dialects import DIALECTS, EncoderOptions, get_dialect
from surestream.dialects.native import PROTOCOL_VERSION, NativeDecoder, NativeDialect
from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events import (
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    Start,
    Status,
    Text,
    Unknown,
    is_terminal,
)
from surestream.sse import ServerSentEvent, encode_comment
from tests.dialects._agent_events import AGENT, STREAMS
from tests.dialects._helpers import (
    chunkings,
    decode_every_way,
    decode_stream,
    encode_stream,
    sse_events,
)
from tests.support.markers import examples

GOLDEN = Path(__file__).parent / "golden"
NAMED = NativeDialect(named=True)

# The example of design.md "The native wire protocol", with a concrete stream id, and the
# retry line in the first event's block: a block of its own is an empty message to clients that
# dispatch every block (@microsoft/fetch-event-source), see test_retry_leads_the_first_block.
DESIGN_EXAMPLE = (
    b"retry: 3000\n"
    b"id: 0\n"
    b'data: {"type":"start","stream":"st_4f9c","model":"demo"}\n'
    b"\n"
    b"id: 1\n"
    b'data: {"type":"text","text":"Hello"}\n'
    b"\n"
    b": ping\n"
    b"\n"
    b"id: 2\n"
    b'data: {"type":"status","message":"searching"}\n'
    b"\n"
    b"id: 3\n"
    b'data: {"type":"text","text":" world"}\n'
    b"\n"
    b"id: 4\n"
    b'data: {"type":"done","done":true,"finish_reason":"stop",'
    b'"usage":{"prompt_tokens":3,"completion_tokens":2}}\n'
    b"\n"
)
DESIGN_EVENTS: list[Event] = [
    Start("st_4f9c", "demo"),
    Text("Hello"),
    Status("searching"),
    Text(" world"),
    Done("stop", {"prompt_tokens": 3, "completion_tokens": 2}),
]

ALL_KINDS: list[Event] = [
    Start("st_1", "demo"),
    Text("Hi"),
    Status("searching"),
    Data({"url": "https://example.com"}, "citation"),
    Data([1, 2, 3]),
    Text(" there\nsecond line"),
    Done("length", {"prompt_tokens": 1, "completion_tokens": 2}),
]


def test_registry() -> None:
    assert sorted(DIALECTS) == ["anthropic", "native", "openai", "vercel-ai"]
    for name, dialect in DIALECTS.items():
        assert get_dialect(name) is dialect
        assert dialect.name == name
    with pytest.raises(ValueError, match="native, openai, vercel-ai"):
        get_dialect("grpc")


def test_headers() -> None:
    assert dict(get_dialect("native").headers) == {"Surestream-Protocol": PROTOCOL_VERSION}
    assert PROTOCOL_VERSION == "1"


def test_design_example_exact_bytes() -> None:
    encoder = get_dialect("native").encoder(EncoderOptions())
    parts = [encoder.preamble()]
    for seq, event in enumerate(DESIGN_EVENTS):
        if seq == 2:
            parts.append(encode_comment("ping") + b"\n")  # a heartbeat, as the server writes it
        parts.append(encoder.encode(event, seq))
    assert b"".join(parts) == DESIGN_EXAMPLE
    assert decode_every_way("native", DESIGN_EXAMPLE) == DESIGN_EVENTS


def test_error_end_exact_bytes() -> None:
    events = [Start("st_1", "demo"), Text("Hel"), Error.of(ErrorCode.UPSTREAM_TIMEOUT)]
    assert encode_stream("native", events, retry=None) == (
        b'id: 0\ndata: {"type":"start","stream":"st_1","model":"demo"}\n\n'
        b'id: 1\ndata: {"type":"text","text":"Hel"}\n\n'
        b'id: 2\ndata: {"type":"error","error":{"code":"upstream_timeout",'
        b'"message":"upstream timeout","retryable":true}}\n\n'
    )


def test_without_ids_and_retry() -> None:
    assert encode_stream("native", [Text("a"), Done()], ids=False, retry=None) == (
        b'data: {"type":"text","text":"a"}\n\n'
        b'data: {"type":"done","done":true,"finish_reason":"stop"}\n\n'
    )


@pytest.mark.parametrize("dialect", ["native", "vercel-ai"])
def test_retry_leads_the_first_block(dialect: str) -> None:
    body = encode_stream(dialect, [Start("st_1"), Done()], retry=1500)
    assert body.startswith(b"retry: 1500\nid: 0\ndata: {")
    received = sse_events([body])
    assert received[0].retry == 1500 and all(sse.data for sse in received)


def test_ids_are_the_sequence_numbers_seen_by_the_sse_decoder() -> None:
    body = encode_stream("native", ALL_KINDS)
    received = sse_events([body])
    assert [sse.id for sse in received] == [str(i) for i in range(len(ALL_KINDS))]
    assert {sse.event for sse in received} == {"message"}  # unnamed: onmessage sees all
    assert received[0].retry == 3000


def test_named_mode_adds_event_line() -> None:
    body = encode_stream(NAMED, ALL_KINDS, retry=None)
    assert body.startswith(
        b'id: 0\nevent: start\ndata: {"type":"start","stream":"st_1","model":"demo"}\n\n'
    )
    received = sse_events([body])
    assert [sse.event for sse in received] == [e.type for e in ALL_KINDS]
    assert [sse.id for sse in received] == [str(i) for i in range(len(ALL_KINDS))]
    assert decode_every_way("native", body) == ALL_KINDS


def test_named_mode_rejects_unframeable_unknown_type() -> None:
    encoder = NAMED.encoder(EncoderOptions())
    assert encoder.encode(Unknown("later", {"type": "later"}), 0) == (
        b'id: 0\nevent: later\ndata: {"type":"later"}\n\n'
    )
    with pytest.raises(LocalProtocolError):
        encoder.encode(Unknown("a\nb", {"type": "a\nb"}), 1)


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("ids", [False, True])
def test_encode_text_fast_path_is_byte_identical(named: bool, ids: bool) -> None:
    encoder = NativeDialect(named=named).encoder(EncoderOptions(ids=ids))
    for text in ["", "a", "multi\nline\r\n", 'quote"\\', "\u2028\x00é😀"]:
        assert encoder.encode_text(text, 7) == encoder.encode(Text(text), 7)


def test_round_trip_every_kind_in_every_chunking() -> None:
    assert decode_every_way("native", encode_stream("native", ALL_KINDS)) == ALL_KINDS


def test_decoder_terminal_and_finished() -> None:
    decoder = get_dialect("native").decoder()
    assert not decoder.finished
    assert decoder.decode(ServerSentEvent(data='{"type":"text","text":"a"}')) == [Text("a")]
    assert not decoder.finished
    [err] = decoder.decode(ServerSentEvent(data='{"type":"error","error":{"code":"x"}}'))
    assert is_terminal(err)
    assert decoder.finished


def test_decoder_forward_compatible() -> None:
    decoder = NativeDecoder()
    assert decoder.decode(ServerSentEvent(data='{"type":"handoff","to":"hm"}')) == [
        Unknown("handoff", {"type": "handoff", "to": "hm"})
    ]
    assert decoder.decode(ServerSentEvent(data="[1,2]")) == [Unknown("", {"data": [1, 2]})]
    assert not decoder.finished


@pytest.mark.parametrize("data", ["", "[DONE]", "{", "hello"])
def test_decoder_rejects_non_json(data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        NativeDecoder().decode(ServerSentEvent(data=data))


@settings(deadline=None)
@given(st.lists(st.text(min_size=0, max_size=20), max_size=8), st.booleans())
def test_property_text_round_trip(texts: list[str], named: bool) -> None:
    events: list[Event] = [Start("s", "m"), *map(Text, texts), Done()]
    body = encode_stream(NativeDialect(named=named), events)
    assert decode_stream("native", [body]) == (events, True)
    assert decode_stream("native", [body[i : i + 5] for i in range(0, len(body), 5)]) == (
        events,
        True,
    )


def test_golden_agent_stream() -> None:
    # Every agent event is one block, its native JSON shape on one data line (docs/protocol.md).
    body = encode_stream("native", AGENT, stream_id="msg_123")
    assert body == (GOLDEN / "native_agent.sse").read_bytes()
    assert decode_every_way("native", body) == AGENT


def test_agent_events_in_named_mode() -> None:
    body = encode_stream(NAMED, AGENT, retry=None)
    assert [s.event for s in sse_events([body])] == [e.type for e in AGENT]


@settings(max_examples=examples(200), deadline=None)
@given(STREAMS, st.booleans())
def test_property_any_stream_round_trips_exactly(events: list[Event], named: bool) -> None:
    body = encode_stream(NativeDialect(named=named), events)
    for chunks in list(chunkings(body))[:4]:
        assert decode_stream("native", chunks) == (events, True)
