"""A conformance kit for SSE decoders: the WHATWG event-stream rules as data.

Strategy: ``sse_vectors.json`` (shipped with the package) holds cases of input bytes ->
expected events, last event ID and retry, written from the spec text, one or more per rule.
``load_vectors()`` reads them; ``run_vector(vector, make_decoder, chunks)`` feeds one case to
any decoder with our shape (``feed(bytes) -> events``, ``close() -> events``, attributes
``last_event_id`` and ``retry``; events with ``event``, ``data``, ``id``, ``retry``) in the
given chunking and returns what came out; ``check_vector`` compares it with the expectation.
``chunkings(data)`` gives the chunkings every case should pass: whole, byte by byte, and cut
at every split point. No pytest needed::

    from surestream.conformance import check_all
    from surestream.sse import Decoder
    assert check_all(Decoder) == []
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

__all__ = [
    "Outcome",
    "Vector",
    "check_all",
    "check_vector",
    "chunkings",
    "load_vectors",
    "run_vector",
]

ERROR = "max_event_size"
"""The only error a vector can expect: the decoder's ``max_event_size`` was exceeded."""


class _Event(Protocol):
    @property
    def event(self) -> str: ...
    @property
    def data(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def retry(self) -> int | None: ...


class _Decoder(Protocol):
    last_event_id: str | None
    retry: int | None

    def feed(self, chunk: bytes) -> Sequence[_Event]: ...
    def close(self) -> Sequence[_Event]: ...


EventTuple = tuple[str, str, str | None, int | None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decoder gave for one vector: events as (event, data, id, retry), final state."""

    events: tuple[EventTuple, ...]
    last_event_id: str | None
    retry: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Vector:
    """One case: ``input`` bytes and the expected ``Outcome``; ``rule`` names the spec rule."""

    name: str
    rule: str
    input: bytes
    expected: Outcome
    max_event_size: int | None


def load_vectors() -> list[Vector]:
    """Every vector in ``sse_vectors.json``, in file order."""
    text = resources.files(__package__).joinpath("sse_vectors.json").read_text("utf-8")
    return [_vector(raw) for raw in json.loads(text)["vectors"]]


def _vector(raw: dict[str, Any]) -> Vector:
    data = bytes.fromhex(raw["input_hex"]) if "input_hex" in raw else raw["input"].encode()
    events = tuple((e["event"], e["data"], e["id"], e["retry"]) for e in raw["events"])
    expected = Outcome(events, raw["last_event_id"], raw["retry"], raw.get("error"))
    return Vector(raw["name"], raw["rule"], data, expected, raw.get("max_event_size"))


def chunkings(data: bytes, *, pairs_up_to: int = 16) -> Iterator[list[bytes]]:
    """``data`` whole, byte by byte, split at every point, and at every pair of points for
    inputs of at most ``pairs_up_to`` bytes (so a CR, an LF or a UTF-8 byte can be a chunk)."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
    if len(data) <= pairs_up_to:
        for i in range(1, len(data)):
            for j in range(i + 1, len(data)):
                yield [data[:i], data[i:j], data[j:]]


def run_vector(
    vector: Vector, make_decoder: Callable[..., _Decoder], chunks: Sequence[bytes]
) -> Outcome:
    """Feed ``chunks`` (which must join to ``vector.input``) to a fresh decoder, then close."""
    if b"".join(chunks) != vector.input:
        raise ValueError("the chunks do not join to the vector's input")
    if vector.max_event_size is None:
        decoder = make_decoder()
    else:
        decoder = make_decoder(max_event_size=vector.max_event_size)
    events: list[EventTuple] = []
    error = None
    try:
        for chunk in chunks:
            events += [(e.event, e.data, e.id, e.retry) for e in decoder.feed(chunk)]
        events += [(e.event, e.data, e.id, e.retry) for e in decoder.close()]
    except Exception as exc:
        if type(exc).__name__ != "SSEProtocolError" or ERROR not in str(exc):
            raise
        error = ERROR
    return Outcome(tuple(events), decoder.last_event_id, decoder.retry, error)


def check_vector(
    vector: Vector, make_decoder: Callable[..., _Decoder], chunks: Sequence[bytes]
) -> str | None:
    """None when the decoder passes ``vector`` in this chunking, else what went wrong."""
    got = run_vector(vector, make_decoder, chunks)
    expected = vector.expected
    if expected.error is not None:
        got = Outcome(got.events, None, None, got.error)
        expected = Outcome(expected.events, None, None, expected.error)
    if got == expected:
        return None
    cuts = [len(c) for c in chunks]
    return f"{vector.name} ({vector.rule}) in chunks {cuts}: expected {expected}, got {got}"


def check_all(make_decoder: Callable[..., _Decoder]) -> list[str]:
    """Every vector in every one of its ``chunkings``; the failures (empty when conformant)."""
    failures = []
    for vector in load_vectors():
        for chunks in chunkings(vector.input):
            problem = check_vector(vector, make_decoder, chunks)
            if problem is not None:
                failures.append(problem)
                break
    return failures
