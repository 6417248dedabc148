"""Wire dialects: the same typed events in the shapes that existing clients already read.

- ``native`` (default): our protocol, see docs/protocol.md.
- ``openai``: ``chat.completion.chunk`` objects and ``data: [DONE]``, for the OpenAI SDKs
  (the registry's instance writes no tool calls: see ``OpenAIDialect(forward_tool_calls=)``).
- ``vercel-ai``: the AI SDK UI message stream (v1), for ``useChat`` front ends.

``get_dialect(name)`` returns one; each makes a ``StreamEncoder`` per outgoing stream and a
``StreamDecoder`` per incoming one. Sans-IO.
"""

from __future__ import annotations

from surestream.dialects._base import Dialect, EncoderOptions, StreamDecoder, StreamEncoder
from surestream.dialects.native import NativeDialect
from surestream.dialects.openai import OpenAIDialect
from surestream.dialects.vercel_ai import VercelAIDialect

__all__ = [
    "DIALECTS",
    "Dialect",
    "EncoderOptions",
    "StreamDecoder",
    "StreamEncoder",
    "get_dialect",
]

DIALECTS: dict[str, Dialect] = {
    "native": NativeDialect(),
    "openai": OpenAIDialect(),
    "vercel-ai": VercelAIDialect(),
}
"""Every dialect by the name ``?dialect=`` selects."""


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        known = ", ".join(sorted(DIALECTS))
        raise ValueError(f"unknown dialect {name!r} (known: {known})") from None
