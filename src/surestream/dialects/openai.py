"""The ``openai`` dialect: OpenAI Chat Completions streaming, so the official SDKs are clients.

Strategy: the encoder writes the bytes ``POST /v1/chat/completions`` with ``stream: true``
writes (https://platform.openai.com/docs/api-reference/chat-streaming): one unnamed SSE event
per ``chat.completion.chunk`` object, ``data: [DONE]`` after a normal end. The first chunk
carries ``delta: {"role":"assistant","content":""}`` (``Start`` maps to it; without a
``Start`` the encoder writes it before the first other chunk), each ``Text`` is one
``delta.content`` chunk, ``Done`` is a chunk with an empty delta and ``finish_reason``, then
the usage chunk when ``include_usage`` (``choices: []``; every earlier chunk then has
``"usage": null``), then ``[DONE]``. ``Error`` is one ``{"error": {...}}`` object and no
``[DONE]``: the shape the OpenAI SDKs recognise inside a stream (the Python SDK raises
``APIError`` with ``.code`` and ``.type`` from it). Our ``code`` goes in ``error.code``.

Decisions where OpenAI has no equivalent: ``Status`` and ``Data`` produce nothing (an OpenAI
client has nowhere to put them, and chunks with empty deltas only make every client loop
handle a no-op); ``finish_reason: "cancelled"`` is written as ``"stop"`` (OpenAI has
no such value); a ``Done`` without ``usage`` still writes the usage chunk when asked, with 0
for the counts we do not know. The encoder never writes ``id:`` or ``retry:``, whatever the
options say: the OpenAI Python SDK's SSE decoder dispatches a data-less event for a
``retry``-only block and, once it has seen an ``id``, for every later blank line (so every
``: ping`` heartbeat), and then fails parsing the empty data as JSON. Without them, heartbeat
comments are harmless to it. So this dialect cannot resume (OpenAI clients never do).

The decoder reads any OpenAI-compatible stream back: the first chunk gives ``Start``, each
non-empty ``delta.content`` a ``Text``, ``delta.tool_calls`` / ``delta.refusal`` a ``Data``
named ``tool_calls`` / ``refusal``; ``finish_reason`` and the usage chunk are remembered and
``[DONE]`` gives ``Done(finish_reason, usage)``. An ``{"error": ...}`` object gives ``Error``
(our code when ``error.code`` is one, ``rate_limited`` for OpenAI's rate limits, else
``upstream_error``). A stream that stops after a ``finish_reason`` but before ``[DONE]`` is
not ``finished``; ``implied_done`` says what it would have ended with, and the caller
decides. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects._base import EncoderOptions
from surestream.errors import RemoteProtocolError
from surestream.events import (
    RETRYABLE,
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Start,
    Text,
    Unknown,
)
from surestream.sse import ServerSentEvent

__all__ = ["DONE_MARKER", "OpenAIDecoder", "OpenAIDialect", "OpenAIEncoder"]

DONE_MARKER = "[DONE]"
"""The data of the last event of a normally ended stream."""

OPENAI_FINISH_REASONS = frozenset(
    {"stop", "length", "content_filter", "tool_calls", "function_call"}
)
"""The ``finish_reason`` values the Chat Completions API defines."""

_ROLE_DELTA = b'{"role":"assistant","content":""}'
_DONE_DATA = b"[DONE]"


def _finish_reason(reason: str) -> str:
    if reason == FinishReason.CANCELLED or reason not in OPENAI_FINISH_REASONS:
        return "stop"
    return str(reason)


def _error_object(event: Error) -> bytes:
    kind = "rate_limit_error" if event.code == ErrorCode.RATE_LIMITED else "server_error"
    error = {"message": event.message, "type": kind, "param": None, "code": str(event.code)}
    return orjson.dumps({"error": error})


class OpenAIEncoder:
    """Encodes typed events as ``chat.completion.chunk`` SSE events."""

    __slots__ = (
        "_created",
        "_head",
        "_include_usage",
        "_model",
        "_started",
        "_stream_id",
        "_tail",
    )

    def __init__(self, options: EncoderOptions) -> None:
        self._include_usage = options.include_usage
        self._stream_id = options.stream_id
        self._model = options.model
        self._created = options.created
        self._started = False
        self._head = b""
        self._tail = (
            b',"logprobs":null,"finish_reason":null}]'
            + (b',"usage":null' if options.include_usage else b"")
            + b"}"
        )

    def preamble(self) -> bytes:
        """Nothing: a ``retry``-only block breaks the OpenAI Python SDK (see above)."""
        return b""

    def _chunk_id(self) -> str:
        sid = self._stream_id
        return sid if sid.startswith("chatcmpl-") else "chatcmpl-" + sid

    def _start(self, start: Start | None) -> bytes:
        """The role chunk; fixes the id and model every later chunk repeats."""
        if start is not None:
            self._stream_id = self._stream_id or (start.stream or "")
            self._model = self._model or (start.model or "")
        top = {
            "id": self._chunk_id(),
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
        }
        self._head = orjson.dumps(top)[:-1] + b',"choices":[{"index":0,"delta":'
        self._started = True
        return self._head + _ROLE_DELTA + self._tail

    @staticmethod
    def _blocks(payloads: list[bytes]) -> bytes:
        return b"".join([b"data: " + p + b"\n\n" for p in payloads])

    def encode(self, event: Event, seq: int) -> bytes:
        """The chunks of one event; ``b""`` for ``Status``, ``Data`` and unknown events."""
        if type(event) is Text:
            return self.encode_text(event.text, seq)
        payloads: list[bytes] = []
        if isinstance(event, Start):
            if self._started:
                return b""
            payloads.append(self._start(event))
        elif isinstance(event, Done):
            if not self._started:
                payloads.append(self._start(None))
            reason = orjson.dumps(_finish_reason(event.finish_reason))
            usage_null = b',"usage":null' if self._include_usage else b""
            payloads.append(
                self._head
                + b'{},"logprobs":null,"finish_reason":'
                + reason
                + b"}]"
                + usage_null
                + b"}"
            )
            if self._include_usage:
                payloads.append(self._usage_chunk(event.usage))
            payloads.append(_DONE_DATA)
        elif isinstance(event, Error):
            payloads.append(_error_object(event))
        else:
            return b""
        return self._blocks(payloads)

    def _usage_chunk(self, usage: Mapping[str, Any] | None) -> bytes:
        counts: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0}
        counts.update(usage or {})
        if "total_tokens" not in counts:
            prompt, completion = counts["prompt_tokens"], counts["completion_tokens"]
            if isinstance(prompt, int) and isinstance(completion, int):
                counts["total_tokens"] = prompt + completion
        head = self._head[: -len(b'[{"index":0,"delta":')]
        return head + b'[],"usage":' + orjson.dumps(counts) + b"}"

    def encode_text(self, text: str, seq: int) -> bytes:
        """One ``delta.content`` chunk (after the role chunk if none was written yet)."""
        if not self._started:
            role = self._start(None)
            return self._blocks([role, self._content(text)])
        return b"data: " + self._content(text) + b"\n\n"

    def _content(self, text: str) -> bytes:
        return self._head + b'{"content":' + orjson.dumps(text) + b"}" + self._tail


def _map_error(err: Mapping[str, Any]) -> Error:
    code, kind, message = err.get("code"), err.get("type"), err.get("message")
    if isinstance(code, str) and code in ErrorCode.__members__.values():
        known = ErrorCode(code)
    elif (isinstance(code, str) and "rate_limit" in code) or kind in {
        "rate_limit_error",
        "requests",
        "tokens",
    }:
        known = ErrorCode.RATE_LIMITED
    else:
        known = ErrorCode.UPSTREAM_ERROR
    text = message if isinstance(message, str) and message else known.value.replace("_", " ")
    return Error(str(known), text, known in RETRYABLE)


class OpenAIDecoder:
    """Reads an OpenAI-compatible chunk stream back into typed events."""

    __slots__ = ("_finished", "_started", "finish_reason", "usage")

    def __init__(self) -> None:
        self._finished = False
        self._started = False
        self.finish_reason: str | None = None
        """The last ``finish_reason`` received, if any."""
        self.usage: Mapping[str, Any] | None = None
        """The ``usage`` object received, if any."""

    @property
    def finished(self) -> bool:
        """True once ``[DONE]`` or an error object arrived."""
        return self._finished

    @property
    def implied_done(self) -> Done | None:
        """The ``Done`` that ``[DONE]`` would give now; None before any ``finish_reason``.

        For a stream that closed without ``[DONE]``: some OpenAI-compatible servers omit it,
        and a ``finish_reason`` shows the model did finish. Whether that counts as done is the
        caller's decision.
        """
        if self.finish_reason is None:
            return None
        return Done(self.finish_reason, self.usage)

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by one received SSE event (none after the end)."""
        if self._finished:
            return []
        data = sse.data
        if data.startswith(DONE_MARKER):
            self._finished = True
            return [Done(self.finish_reason or FinishReason.STOP, self.usage)]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RemoteProtocolError(f"openai chunk is not JSON: {data[:80]!r}") from None
        if not isinstance(obj, dict):
            return [Unknown("", {"data": obj})]
        err = obj.get("error")
        if err is not None:
            self._finished = True
            return [_map_error(err if isinstance(err, Mapping) else {"message": str(err)})]
        out: list[Event] = []
        if not self._started:
            self._started = True
            sid, model = obj.get("id"), obj.get("model")
            out.append(
                Start(
                    sid if isinstance(sid, str) else None, model if isinstance(model, str) else None
                )
            )
        usage = obj.get("usage")
        if isinstance(usage, Mapping):
            self.usage = usage
        choices = obj.get("choices")
        if choices is None:
            choices = []
        if not isinstance(choices, list):
            raise RemoteProtocolError("openai chunk 'choices' must be a list")
        for choice in choices:
            if not isinstance(choice, Mapping):
                raise RemoteProtocolError("openai chunk choice must be an object")
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta is None:
                delta = {}
            if not isinstance(delta, Mapping):
                raise RemoteProtocolError("openai chunk 'delta' must be an object")
            content = delta.get("content")
            if content is not None and not isinstance(content, str):
                raise RemoteProtocolError("openai delta.content must be a string")
            if content:
                out.append(Text(content))
            if delta.get("tool_calls"):
                out.append(Data(delta["tool_calls"], "tool_calls"))
            if delta.get("refusal"):
                out.append(Data(delta["refusal"], "refusal"))
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                self.finish_reason = reason
        return out


class OpenAIDialect:
    """``openai``: ``chat.completion.chunk`` objects and ``data: [DONE]``."""

    name = "openai"
    headers: Mapping[str, str] = {}

    def encoder(self, options: EncoderOptions) -> OpenAIEncoder:
        """A new encoder for one outgoing stream."""
        return OpenAIEncoder(options)

    def decoder(self) -> OpenAIDecoder:
        """A new decoder for one incoming stream."""
        return OpenAIDecoder()
