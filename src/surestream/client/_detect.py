"""``dialect="auto"``: recognise which wire dialect a stream speaks, from its headers and payloads.

Strategy: ``AutoDecoder`` is a ``StreamDecoder`` that starts undecided and commits to the
first dialect a signal names, then hands that SSE event and every later one to the dialect's
own decoder (``surestream.dialects``). The signals, strongest first:

- response headers: a dialect's own header (``surestream.dialects.dialect_of_headers``:
  ``Surestream-Protocol`` is native, ``x-vercel-ai-ui-message-stream`` vercel-ai), read on
  every connection: a stream created in one dialect may be resumed in another (the gateway's
  ``Location`` names the native events URL), and the headers of the resumed connection then
  switch the decoder;
- a payload: the first dialect that claims it (``dialect_of_payload``: an OpenAI chunk, a
  ``type`` only the AI SDK uses, a native ``type``); else an object with ``done: true`` and
  no ``type`` is the plain convention, in which ``{"text": ...}`` objects are text;
- an end marker while still undecided names the first dialect that writes it
  (``dialect_of_marker``: ``[DONE]`` is openai's, since vercel-ai, the other dialect that
  writes it, says so earlier, in a header or a part), whose decoder ends the stream.

Until a dialect is known, each event is passed on raw, as ``Data`` (its JSON, or its text when
it is not JSON; ``name`` is the SSE event type when it has one). A stream that never shows a
recognised terminal signal therefore yields raw events and ends without an outcome, which the
client reports as interrupted. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects import (
    StreamDecoder,
    dialect_of_headers,
    dialect_of_marker,
    dialect_of_payload,
    get_dialect,
    is_end_marker,
)
from surestream.events import Data, Done, Error, ErrorCode, Event, FinishReason, Text
from surestream.sse import ServerSentEvent

__all__ = ["AutoDecoder", "PlainDecoder", "make_decoder", "named_dialect"]


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
        if is_end_marker(sse.data):
            self._finished = True
            return [Done(FinishReason.STOP)]
        return [_raw(sse, payload)]


def _sniff(payload: Any) -> str | None:
    """The dialect a decoded payload belongs to, if it says: a registered one, or plain."""
    name = dialect_of_payload(payload)
    if name is not None or not isinstance(payload, dict) or isinstance(payload.get("type"), str):
        return name
    if payload.get("done") is True or (isinstance(payload.get("text"), str) and len(payload) == 1):
        return "plain"
    return None


def named_dialect(headers: Mapping[str, str]) -> str | None:
    """The dialect a response's headers name (``Surestream-Protocol``: native,
    ``x-vercel-ai-ui-message-stream``: vercel-ai), or None."""
    return dialect_of_headers(headers)


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
        by_marker = dialect_of_marker(sse.data)
        if by_marker is not None:
            return self._commit(by_marker).decode(sse)
        payload = _json(sse.data)
        name = _sniff(payload)
        if name is None:
            return [_raw(sse, payload)]
        return self._commit(name).decode(sse)
