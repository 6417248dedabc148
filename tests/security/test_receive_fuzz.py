"""Hostile bytes through the client's whole receive path: chunked framing, then the SSE
decoder, then each dialect's decoder (native, openai, vercel-ai and auto detection), in any
chunking. Whatever arrives, the result is typed events or a ``RemoteProtocolError``
(``ChunkedError``, ``SSEProtocolError`` or a dialect's own), never another exception, and the
buffered bytes stay bounded by the decoders' limits.

``tests/test_sse_properties.py`` fuzzes ``sse.Decoder`` alone against the WHATWG algorithm
(short inputs, the event-size limit); this module adds the layers around it, longer inputs
(up to 20 KB) shaped like real streams with corruption spliced in, and the chunked decoder.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surestream.client._chunked import ChunkedDecoder
from surestream.client._detect import make_decoder
from surestream.errors import RemoteProtocolError
from surestream.events import Event
from surestream.sse import Decoder, SSEProtocolError
from tests.chunking import cut
from tests.support.markers import examples

MAX_EVENT = 4096
MAX_LINE = 256

GOOD = [
    b'id: 1\ndata: {"type":"text","text":"hi"}\n\n',
    b'data: {"type":"start","stream":"st_x","model":"m"}\n\n',
    b'data: {"type":"done","done":true,"finish_reason":"stop"}\n\n',
    b'data: {"type":"error","error":{"code":"upstream_error","message":"x","retryable":false}}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b'data: {"type":"text-delta","id":"0","delta":"b"}\n\n',
    b'data: {"type":"finish"}\n\n',
    b"data: [DONE]\n\n",
    b": ping\n\n",
    b"retry: 3000\n\n",
]
BAD = [
    b"data: {not json}\n\n",
    b'data: {"type":"text"}\n\n',
    b'data: {"type":"error","error":7}\n\n',
    b'data: {"choices":"x"}\n\n',
    b'data: {"type":"done","done":"yes"}\n\n',
    b"data: " + b"x" * 5000 + b"\n\n",
    b"\xff\xfe\x00",
    b"\r",
    b"\n",
    b'data: {"type":"text","text":"\\ud800"}\n\n',
    b"data: 1e999999\n\n",
    b"data: " + b"[" * 2000 + b"\n\n",
]
pieces = st.lists(st.sampled_from(GOOD + BAD) | st.binary(max_size=64), max_size=120).map(b"".join)
points = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=24)
dialects = st.sampled_from(["native", "openai", "vercel-ai", "auto"])


def chunked(body: bytes, sizes: list[int]) -> bytes:
    """``body`` in HTTP/1.1 chunked framing, cut where ``sizes`` say."""
    out = b""
    for piece in cut(body, sizes):
        if piece:
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def receive(chunks: list[bytes], dialect: str, framed: bool) -> list[Event]:
    """Run the receive path over ``chunks``; checks the memory bounds after every chunk."""
    unchunk = ChunkedDecoder(max_line=MAX_LINE) if framed else None
    sse = Decoder(max_event_size=MAX_EVENT)
    typed = make_decoder(dialect)
    events: list[Event] = []
    for chunk in chunks:
        payload = unchunk.feed(chunk) if unchunk is not None else chunk
        for item in sse.feed(payload):
            events += typed.decode(item)
        assert sse._tail_size + sse._data_size <= MAX_EVENT
        if unchunk is not None:
            assert len(unchunk._pending) <= MAX_LINE
    for item in sse.close():
        events += typed.decode(item)
    return events


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces, points, dialects, st.booleans(), points)
def test_any_bytes_give_typed_events_or_a_remote_protocol_error(
    body: bytes, where: list[int], dialect: str, framed: bool, sizes: list[int]
) -> None:
    wire = chunked(body, sizes) if framed else body
    try:
        events = receive(cut(wire, where), dialect, framed)
    except SSEProtocolError as exc:
        assert "max_event_size" in str(exc)
    except RemoteProtocolError:
        pass
    else:
        assert all(isinstance(e, Event) for e in events)


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=2000), points)
def test_chunked_decoder_on_random_bytes(data: bytes, where: list[int]) -> None:
    decoder = ChunkedDecoder(max_line=MAX_LINE)
    try:
        for piece in cut(data, where):
            out = decoder.feed(piece)
            assert isinstance(out, bytes) and len(out) <= len(data)
            assert len(decoder._pending) <= MAX_LINE
    except RemoteProtocolError:
        pass


@settings(max_examples=examples(50), deadline=None)
@given(st.integers(min_value=1, max_value=5000), points)
def test_a_long_stream_leaves_nothing_buffered_between_events(count: int, where: list[int]) -> None:
    event = b'id: 7\ndata: {"type":"text","text":"0123456789"}\n\n'
    decoder = Decoder(max_event_size=64)
    seen = 0
    for piece in cut(event * count, where):
        seen += len(decoder.feed(piece))
        assert decoder._tail_size + decoder._data_size <= 64
    assert seen == count
    assert decoder._tail_size == decoder._data_size == 0
