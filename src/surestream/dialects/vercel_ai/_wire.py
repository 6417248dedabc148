"""What both directions of the ``vercel-ai`` dialect share: its header, its end marker, its
terminal chunk types and the AI SDK's spelling of the finish reasons.

Strategy: the package docstring (``surestream.dialects.vercel_ai``) describes the wire; this
module holds each mapping between a wire value and a typed value once, so the encoder and the
decoder cannot disagree on it. Sans-IO.
"""

from __future__ import annotations

from surestream.events import FinishReason

__all__ = [
    "END_MARKER",
    "FROM_SDK_REASON",
    "HEADER",
    "TERMINAL_TYPES",
    "TEXT_ID",
    "TO_SDK_REASON",
    "UI_MESSAGE_STREAM_VERSION",
]

HEADER = "x-vercel-ai-ui-message-stream"
"""The response header that tells the AI SDK client the stream is a UI message stream."""
UI_MESSAGE_STREAM_VERSION = "v1"
"""Its value."""
TEXT_ID = "text-1"
"""The id of the first text block of a message (later ones are ``text-2``, ``text-3``...)."""
END_MARKER = "[DONE]"
"""The data of the last event of every stream (the AI SDK's ``JsonToSseTransformStream``)."""
TERMINAL_TYPES = frozenset({"finish", "abort", "error"})
"""The chunk types that end a message."""

TO_SDK_REASON: dict[str, str] = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.CONTENT_FILTER: "content-filter",
    FinishReason.TOOL_CALLS: "tool-calls",
}
"""Our finish reasons in the AI SDK's spelling (``other`` for the rest)."""
FROM_SDK_REASON = {v: str(k) for k, v in TO_SDK_REASON.items()}
"""The AI SDK's finish reasons in ours."""
