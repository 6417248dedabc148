"""The ``vercel-ai`` dialect: the AI SDK "UI message stream" (v1), for ``useChat`` front ends.

Strategy: each UI message chunk is one unnamed SSE event whose data is a JSON object with a
``type`` (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol, schema in vercel/ai
``packages/ai/src/ui-message-stream/ui-message-chunks.ts``); the response carries the header
``x-vercel-ai-ui-message-stream: v1`` and ends with ``data: [DONE]``. The encoder maps:

- ``Start`` -> ``{"type":"start","messageId":...}`` (written first even without a ``Start``);
- ``Text`` / ``Reasoning`` -> ``text-delta`` / ``reasoning-delta`` inside numbered blocks
  (``text-1``, ``reasoning-1``, ``text-2``, ...): a ``-start`` chunk opens a block when the
  open one is of the other kind or was closed by a tool call or a step (its ``-end`` chunk
  is written first), so text after a tool call is a new part and the message keeps the order;
  an ``opaque`` ``Reasoning`` (only a provider's signature or redacted reasoning) writes nothing;
- ``ToolCallStart`` -> ``tool-input-start``; ``ToolCallDelta`` -> ``tool-input-delta``, only
  for a call whose start was written and whose input is not complete yet (the AI SDK throws
  on a delta without its start); ``ToolCall`` -> ``tool-input-available`` (with or without a
  start); ``ToolResult`` -> ``tool-output-available``, or ``tool-output-error`` when it has an
  ``error``; a result for a call the stream never named is dropped (the AI SDK would throw);
- ``Step`` -> ``finish-step`` when a step is open, then ``start-step`` (its ``name`` has no
  place in the protocol); steps are written only for ``Step`` events;
- ``Status`` -> a transient data part ``{"type":"data-status","data":{"message":...},
  "transient":true}`` (``useChat`` hands it to ``onData`` and keeps it out of the message);
- ``Data`` -> ``{"type":"data-<name>","data":...}`` (``data-data`` when unnamed);
- ``Done`` -> the open block's ``-end``, ``finish-step`` when a step is open,
  ``{"type":"finish","finishReason":...}`` (the AI SDK's spelling: ``content-filter``,
  ``tool-calls``; ``other`` for reasons it does not know), then ``[DONE]``;
  ``Done("cancelled")`` writes ``{"type":"abort"}`` instead of ``finish``. ``usage`` is not
  sent (the protocol has no place for it). A ``ToolCall`` without a result stays
  ``input-available``: the client runs the tool;
- ``Error`` -> the open block's ``-end``, ``tool-output-error`` for every call without a
  result, ``finish-step`` when a step is open, ``{"type":"error","errorText":<message>}``,
  then ``[DONE]``: nothing is left streaming in the client's message.

``finishReason`` on ``finish`` is what the AI SDK's own ``toUIMessageStream`` writes (v6, and
v5 since the backport of vercel/ai#9857). Older 5.0 clients validate chunks with a strict
schema and reject it: ``VercelAIDialect(finish_reason=False)`` writes the bare
``{"type":"finish"}`` of the protocol docs for them. ``VercelAIDialect(message_id=...)``
names that message in ``start`` instead of the stream: a stream that continues a message
the client already has (after its tool outputs) names it, as the AI SDK's own server does,
so the client adds to that message instead of starting another.

Resume: the encoder is a state machine (open block, open step, the calls), so a stream
resumed after event n would start in the middle of a block. ``prime(history)`` takes events
0..n without writing anything and then forgets what that client saw: the resumed stream
starts with ``start`` again, text after the resume point opens a new block, and a call named
before it is named again before its result. So a resumed stream is valid on its own to a
fresh ``readUIMessageStream``; ``VercelAIDialect.resume_needs_history`` asks the server for
that history.

The decoder reads such a stream back: ``start`` -> ``Start``, ``text-delta`` -> ``Text``,
``reasoning-delta`` -> ``Reasoning``, ``tool-input-start`` / ``-delta`` / ``-available`` ->
``ToolCallStart`` / ``ToolCallDelta`` / ``ToolCall``, ``tool-input-error`` -> ``ToolCall``
then ``ToolResult(error=...)``, ``tool-output-available`` / ``-error`` -> ``ToolResult``,
``start-step`` -> ``Step``, ``data-status`` (transient, with a string ``message``) ->
``Status``, other ``data-*`` -> ``Data``, ``finish`` -> ``Done`` (reason in our spelling),
``abort`` -> ``Done("cancelled")``, ``error`` -> ``Error(upstream_error)``; ``[DONE]`` before
any of those -> ``Done("stop")``. Block ends and ``finish-step`` give nothing; other parts
(sources, files, approvals, ...) give ``Unknown``. After the terminal event nothing more is
returned. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping

from surestream.dialects._base import EncoderOptions, is_marker, json_object
from surestream.dialects.vercel_ai._decoder import VercelAIDecoder
from surestream.dialects.vercel_ai._encoder import VercelAIEncoder
from surestream.dialects.vercel_ai._wire import (
    END_MARKER,
    HEADER,
    TERMINAL_TYPES,
    TEXT_ID,
    UI_MESSAGE_STREAM_VERSION,
)
from surestream.sse import HEARTBEAT

__all__ = [
    "END_MARKER",
    "HEADER",
    "TEXT_ID",
    "UI_MESSAGE_STREAM_VERSION",
    "VercelAIDecoder",
    "VercelAIDialect",
    "VercelAIEncoder",
]

_OWN_TYPES = frozenset(
    {
        "text-start",
        "text-delta",
        "text-end",
        "finish",
        "abort",
        "start-step",
        "finish-step",
        "message-metadata",
    }
)
"""Chunk types no other dialect writes (beside the prefixes below)."""
_OWN_PREFIXES = ("data-", "tool-", "reasoning-", "source-", "file")


class VercelAIDialect:
    """``vercel-ai``: the AI SDK UI message stream, protocol v1."""

    name = "vercel-ai"
    headers: Mapping[str, str] = {HEADER: UI_MESSAGE_STREAM_VERSION}
    resume_needs_history = True
    """A resumed stream's encoder is primed with the events the client has (see ``prime``)."""
    header: str | None = HEADER
    end_marker: str | None = END_MARKER
    heartbeat: bytes = HEARTBEAT

    def claims(self, payload: object) -> bool:
        """A ``type`` only the AI SDK writes (``text-delta``, ``finish``, ``data-*``,
        ``tool-*``...), ``start`` with a ``messageId`` or ``error`` with an ``errorText``."""
        if not isinstance(payload, dict):
            return False
        kind = payload.get("type")
        if not isinstance(kind, str):
            return False
        return (
            kind in _OWN_TYPES
            or kind.startswith(_OWN_PREFIXES)
            or (kind == "start" and "messageId" in payload)
            or (kind == "error" and "errorText" in payload)
        )

    def ends(self, data: str) -> bool:
        """``[DONE]``, or a ``finish``, ``abort`` or ``error`` chunk."""
        if is_marker(data, END_MARKER):
            return True
        obj = json_object(data)
        return obj is not None and obj.get("type") in TERMINAL_TYPES

    def __init__(self, *, finish_reason: bool = True, message_id: str | None = None) -> None:
        self._finish_reason = finish_reason
        self._message_id = message_id

    def encoder(self, options: EncoderOptions) -> VercelAIEncoder:
        """A new encoder for one outgoing stream."""
        return VercelAIEncoder(
            options, finish_reason=self._finish_reason, message_id=self._message_id
        )

    def decoder(self) -> VercelAIDecoder:
        """A new decoder for one incoming stream."""
        return VercelAIDecoder()
