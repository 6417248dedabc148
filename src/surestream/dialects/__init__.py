"""Wire dialects: the same typed events in the shapes that existing clients already read.

- ``native`` (default): our protocol, see docs/protocol.md.
- ``openai``: ``chat.completion.chunk`` objects and ``data: [DONE]``, for the OpenAI SDKs
  (the registry's instance writes no tool calls: see ``OpenAIDialect(forward_tool_calls=)``).
- ``vercel-ai``: the AI SDK UI message stream (v1), for ``useChat`` front ends.
- ``anthropic``: the Messages API stream, for the Anthropic SDKs.

``get_dialect(name)`` returns one; each makes a ``StreamEncoder`` per outgoing stream and a
``StreamDecoder`` per incoming one. What a reader of an unknown stream needs to know of the
dialects -- which one a header or a payload names, what ends a stream -- it asks here
(``dialect_of_headers``, ``dialect_of_payload``, ``dialect_of_marker``, ``is_end_marker``,
``ends_stream``): the
dialects own that knowledge. Adding a dialect is one module and one line in ``DIALECTS``
(and in ``DETECTION_ORDER``). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable

from surestream.dialects._base import (
    Dialect,
    EncoderOptions,
    StreamDecoder,
    StreamEncoder,
    is_marker,
)
from surestream.dialects.anthropic import AnthropicDialect
from surestream.dialects.native import NativeDialect
from surestream.dialects.openai import OpenAIDialect
from surestream.dialects.vercel_ai import VercelAIDialect

__all__ = [
    "DETECTION_ORDER",
    "DIALECTS",
    "Dialect",
    "EncoderOptions",
    "StreamDecoder",
    "StreamEncoder",
    "dialect_of_headers",
    "dialect_of_marker",
    "dialect_of_payload",
    "ends_stream",
    "get_dialect",
    "is_end_marker",
]

DIALECTS: dict[str, Dialect] = {
    "native": NativeDialect(),
    "openai": OpenAIDialect(),
    "vercel-ai": VercelAIDialect(),
    "anthropic": AnthropicDialect(),
}
"""Every dialect by the name ``?dialect=`` selects."""


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        known = ", ".join(sorted(DIALECTS))
        raise ValueError(f"unknown dialect {name!r} (known: {known})") from None


DETECTION_ORDER = ("openai", "vercel-ai", "anthropic", "native")
"""The order ``dialect_of_payload`` asks the dialects in: the more particular shapes first
(vercel-ai's ``start`` and ``error`` and anthropic's ``error`` carry fields that the native
ones do not)."""


def dialect_of_headers(names: Iterable[str]) -> str | None:
    """The dialect whose own header is among the response header ``names``, if any."""
    lowered = {name.lower() for name in names}
    for name, dialect in DIALECTS.items():
        if dialect.header is not None and dialect.header in lowered:
            return name
    return None


def dialect_of_payload(payload: object) -> str | None:
    """The first dialect (in ``DETECTION_ORDER``) that claims one event's parsed data."""
    for name in DETECTION_ORDER:
        if DIALECTS[name].claims(payload):
            return name
    return None


def dialect_of_marker(data: str) -> str | None:
    """The first dialect (in ``DETECTION_ORDER``) whose end marker ``data`` is."""
    for name in DETECTION_ORDER:
        if is_marker(data, DIALECTS[name].end_marker):
            return name
    return None


def is_end_marker(data: str) -> bool:
    """True when ``data`` is the end marker of a dialect (``[DONE]``)."""
    return dialect_of_marker(data) is not None


def ends_stream(data: str) -> bool:
    """True when an SSE event with ``data`` ends a stream in some dialect."""
    return any(dialect.ends(data) for dialect in DIALECTS.values())
