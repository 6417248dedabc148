"""A response body as blocks of bytes, ``Content-Encoding`` undone in bounded steps.

Strategy: the client asks for ``Accept-Encoding: identity`` (an event stream must not be
compressed: compression batches events), but a server may compress anyway, and a small
compressed body can expand a thousandfold (a gzip bomb). httpx's own decoding turns each
received block into all the bytes it expands to at once, before anyone can count them; here
``gzip`` and ``deflate`` are undone at most ``DECODED_STEP`` bytes at a time, so that
``EventStream`` counts every step against its byte and event limits before the next one is
made. Any other coding is refused (``httpx.DecodingError``): there is no way to bound it.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import httpx

__all__ = ["DECODED_STEP", "body_blocks"]

DECODED_STEP = 64 * 1024
"""Most bytes one decompression step yields."""

_WBITS = {
    "gzip": zlib.MAX_WBITS | 16,
    "x-gzip": zlib.MAX_WBITS | 16,
    "deflate": zlib.MAX_WBITS | 32,
}


def _codings(response: httpx.Response) -> list[str]:
    value = response.headers.get("content-encoding", "")
    codings = (coding.strip().lower() for coding in value.split(","))
    return [coding for coding in codings if coding and coding != "identity"]


def body_blocks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body of ``response`` (opened with ``stream=True``), decoded, block by block."""
    codings = _codings(response)
    if not codings:
        return response.aiter_raw()
    return _decompressed(response, codings)


async def _decompressed(response: httpx.Response, codings: list[str]) -> AsyncIterator[bytes]:
    if len(codings) > 1 or codings[0] not in _WBITS:
        raise httpx.DecodingError(
            f"Content-Encoding {', '.join(codings)!r} is not supported for an event stream",
            request=response.request,
        )
    decompressor = zlib.decompressobj(_WBITS[codings[0]])
    try:
        async for block in response.aiter_raw():
            data = block
            while data:
                out = decompressor.decompress(data, DECODED_STEP)
                data = decompressor.unconsumed_tail
                if out:
                    yield out
        rest = decompressor.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(
            f"the {codings[0]} body does not decompress: {exc}", request=response.request
        ) from None
    if rest:
        yield rest
