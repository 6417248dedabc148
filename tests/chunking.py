"""Feed any byte input in every chunking: the helper for sans-IO decoders (h11-style).

``every_chunking(data)`` yields (label, chunks): whole, byte by byte, cut at every split point
and, for short inputs, at every pair of points. ``cut(data, points)`` splits at arbitrary
points (for hypothesis). ``feed_chunks(feed, chunks)`` runs a ``feed`` callable over them and
returns, per chunk, what that chunk produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import TypeVar

from surestream.conformance import chunkings

T = TypeVar("T")

__all__ = ["cut", "every_chunking", "feed_chunks"]


def every_chunking(data: bytes, *, pairs_up_to: int = 16) -> Iterator[tuple[str, list[bytes]]]:
    """(label, chunks) for every chunking of ``data``; the chunks always join to ``data``."""
    for chunks in chunkings(data, pairs_up_to=pairs_up_to):
        yield "+".join(str(len(c)) for c in chunks), chunks


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    """``data`` split at ``points`` (taken modulo ``len(data) + 1``, sorted, duplicates kept)."""
    marks = sorted(p % (len(data) + 1) for p in points)
    bounds = [0, *marks, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def feed_chunks(feed: Callable[[bytes], Sequence[T]], chunks: Iterable[bytes]) -> list[list[T]]:
    """``feed(chunk)`` for each chunk, in order; what each call returned."""
    return [list(feed(chunk)) for chunk in chunks]
