"""Shared by the dialect tests: encode whole streams, decode them in every chunking."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from surestream.dialects import Dialect, EncoderOptions, get_dialect
from surestream.events import Event
from surestream.sse import Decoder, ServerSentEvent


def encode_stream(dialect: str | Dialect, events: Sequence[Event], **options: object) -> bytes:
    """The whole body one encoder writes for ``events`` (preamble included), seq from 0.

    ``dialect`` is a registered name or a configured dialect (``NativeDialect(named=True)``).
    """
    chosen = get_dialect(dialect) if isinstance(dialect, str) else dialect
    encoder = chosen.encoder(EncoderOptions(**options))  # type: ignore[arg-type]
    return encoder.preamble() + b"".join(encoder.encode(e, seq) for seq, e in enumerate(events))


def encode_resumed(dialect: str, events: Sequence[Event], after: int, **options: object) -> bytes:
    """The body a client resuming after event ``after`` gets: a primed encoder, then the rest."""
    encoder = get_dialect(dialect).encoder(EncoderOptions(**options))  # type: ignore[arg-type]
    encoder.prime(events[: after + 1])
    rest = enumerate(events[after + 1 :], start=after + 1)
    return encoder.preamble() + b"".join(encoder.encode(e, seq) for seq, e in rest)


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """``data`` whole, byte by byte, in fixed sizes, and split in two at a spread of points."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for size in (2, 3, 7, 64):
        yield [data[i : i + size] for i in range(0, len(data), size)]
    step = max(1, len(data) // 97)
    for cut in range(1, len(data), step):
        yield [data[:cut], data[cut:]]


def sse_events(chunks: Iterable[bytes]) -> list[ServerSentEvent]:
    decoder = Decoder()
    out: list[ServerSentEvent] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.close())
    return out


def decode_stream(dialect: str, chunks: Iterable[bytes]) -> tuple[list[Event], bool]:
    """Typed events and ``finished`` of one dialect decoder fed ``chunks``."""
    decoder = get_dialect(dialect).decoder()
    events: list[Event] = []
    for sse in sse_events(chunks):
        events.extend(decoder.decode(sse))
    return events, decoder.finished


def decode_every_way(dialect: str, data: bytes) -> list[Event]:
    """Decode ``data`` in every chunking; all must agree and the stream must be finished."""
    results = {repr(decode_stream(dialect, chunks)) for chunks in chunkings(data)}
    assert len(results) == 1, results
    events, finished = decode_stream(dialect, [data])
    assert finished
    return events
