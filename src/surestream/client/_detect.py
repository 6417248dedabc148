"""``dialect="auto"``: recognise which wire dialect a stream speaks, from its headers and payloads.

Strategy: ``AutoDecoder`` is a ``StreamDecoder`` that starts undecided and commits to the
first dialect a signal names, then hands that SSE event and every later one to the dialect's
own decoder (``surestream.dialects``). The signals, strongest first:

- response headers: ``Surestream-Protocol`` (native), ``x-vercel-ai-ui-message-stream``
  (vercel-ai), read on every connection: a stream created in one dialect may be resumed in
  another (the gateway's ``Location`` names the native events URL), and the headers of the
  resumed connection then switch the decoder;
- a payload: an OpenAI chunk (``object: chat.completion.chunk`` or a ``choices`` list) is
  openai; a ``type`` that only the AI SDK uses (``text-delta``, ``finish``, ``start`` with a
  ``messageId``, ``error`` with an ``errorText``, ...) is vercel-ai; one of the native
  ``type``\\ s is native; an object with ``done: true`` and no ``type`` is the plain
  convention, in which ``{"text": ...}`` objects are text;
- ``[DONE]`` while still undecided is openai's end marker (vercel-ai, the other dialect that
  writes it, says so earlier, in a header or a part): the openai decoder ends the stream.

Until a dialect is known, each event is passed on raw, as ``Data`` (its JSON, or its text when
it is not JSON; ``name`` is the SSE event type when it has one). A stream that never shows a
recognised terminal signal therefore yields raw events and ends without an outcome, which the
client reports as interrupted. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects import StreamDecoder, get_dialect
from surestream.dialects.openai import is_done_marker
from surestream.events import (
    EVENT_TYPES,
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Text,
)
from surestream.sse import ServerSentEvent

__all__ = ["AutoDecoder", "PlainDecoder", "make_decoder", "named_dialect"]

# Every event class's ``type`` (``Unknown`` has a per-instance one, a slot, not a str).
_NATIVE_TYPES = frozenset(
    kind_type for kind in EVENT_TYPES if isinstance(kind_type := vars(kind).get("type"), str)
)
_VERCEL_ONLY = frozenset(
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
_VERCEL_PREFIXES = ("data-", "tool-", "reasoning-", "source-", "file")


def _raw(sse: ServerSentEvent, payload: Any) -> Data:
    return Data(payload, None if sse.event == "message" else sse.event)


def _json(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data


def _plain_error(value: Any) -> Error:
    if isinstance(value, Mapping):
        message = value.get("message")
        code = value.get("code")
        return Error(
            code if isinstance(code, str) else str(ErrorCode.UPSTREAM_ERROR),
            message if isinstance(message, str) else "",
            value.get("retryable") is True,
        )
    return Error(str(ErrorCode.UPSTREAM_ERROR), str(value), False)


class PlainDecoder:
    """The plain convention: ``{"text": ...}`` pieces, then ``{"done": true}``.

    ``{"error": ...}`` (a string or an object with ``message``) ends the stream as an
    ``Error``; any other payload is passed on raw as ``Data``.
    """

    __slots__ = ("_finished",)

    def __init__(self) -> None:
        self._finished = False

    @property
    def finished(self) -> bool:
        """True once ``done`` or ``error`` arrived."""
        return self._finished

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """The typed event carried by one SSE event."""
        if self._finished:
            return []
        payload = _json(sse.data)
        if isinstance(payload, dict):
            if payload.get("done") is True:
                self._finished = True
                reason = payload.get("finish_reason")
                return [Done(reason if isinstance(reason, str) else FinishReason.STOP)]
            if payload.get("error"):
                self._finished = True
                return [_plain_error(payload["error"])]
            text = payload.get("text")
            if isinstance(text, str) and len(payload) == 1:
                return [Text(text)]
        if is_done_marker(sse.data):
            self._finished = True
            return [Done(FinishReason.STOP)]
        return [_raw(sse, payload)]


def _sniff(payload: Any) -> str | None:
    """The dialect a decoded payload belongs to, if it says."""
    if not isinstance(payload, dict):
        return None
    if payload.get("object") == "chat.completion.chunk" or isinstance(payload.get("choices"), list):
        return "openai"
    kind = payload.get("type")
    if isinstance(kind, str):
        if kind in _VERCEL_ONLY or kind.startswith(_VERCEL_PREFIXES):
            return "vercel-ai"
        if kind == "start" and "messageId" in payload:
            return "vercel-ai"
        if kind == "error" and "errorText" in payload:
            return "vercel-ai"
        if kind in _NATIVE_TYPES:
            return "native"
        return None
    if payload.get("done") is True or (isinstance(payload.get("text"), str) and len(payload) == 1):
        return "plain"
    return None


def named_dialect(headers: Mapping[str, str]) -> str | None:
    """The dialect a response's headers name (``Surestream-Protocol``: native,
    ``x-vercel-ai-ui-message-stream``: vercel-ai), or None."""
    lowered = {key.lower() for key in headers}
    if "surestream-protocol" in lowered:
        return "native"
    if "x-vercel-ai-ui-message-stream" in lowered:
        return "vercel-ai"
    return None


def make_decoder(name: str) -> StreamDecoder:
    """A decoder for dialect ``name``: a registered dialect, ``plain``, or ``auto``."""
    if name == "plain":
        return PlainDecoder()
    if name == "auto":
        return AutoDecoder()
    return get_dialect(name).decoder()


class AutoDecoder:
    """A ``StreamDecoder`` that detects the dialect, then delegates to it."""

    __slots__ = ("_inner", "dialect")

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self.dialect: str | None = None
        """The dialect recognised so far (None while undecided)."""
        self._inner: StreamDecoder | None = None
        if headers is not None:
            self.see_headers(headers)

    def see_headers(self, headers: Mapping[str, str]) -> None:
        """Decide from a response's headers, when they name the dialect: each connection's
        own (a resumed connection may speak another dialect than the first one)."""
        name = named_dialect(headers)
        if name is not None and name != self.dialect:
            self._commit(name)

    def _commit(self, name: str) -> StreamDecoder:
        self.dialect = name
        self._inner = make_decoder(name)
        return self._inner

    @property
    def finished(self) -> bool:
        """True once the detected dialect's end arrived."""
        return self._inner is not None and self._inner.finished

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events of ``sse``: the detected dialect's, else the raw payload."""
        inner = self._inner
        if inner is not None:
            return inner.decode(sse)
        if is_done_marker(sse.data):
            return self._commit("openai").decode(sse)
        payload = _json(sse.data)
        name = _sniff(payload)
        if name is None:
            return [_raw(sse, payload)]
        return self._commit(name).decode(sse)
