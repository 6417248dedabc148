"""The ``openai`` dialect: OpenAI Chat Completions streaming, so the official SDKs are clients.

Strategy: the encoder writes the bytes ``POST /v1/chat/completions`` with ``stream: true``
writes (https://platform.openai.com/docs/api-reference/chat-streaming): one unnamed SSE event
per ``chat.completion.chunk`` object, ``data: [DONE]`` after a normal end. The first chunk
carries ``delta: {"role":"assistant","content":""}`` (``Start`` maps to it; without a
``Start`` the encoder writes it before the first other chunk), each ``Text`` is one
``delta.content`` chunk, each ``Reasoning`` one ``delta.reasoning_content`` chunk (the
DeepSeek / vLLM spelling; the official SDKs keep it as an extra field), ``Done`` is a chunk
with an empty delta and ``finish_reason``, then the usage chunk when ``include_usage``
(``choices: []``; every earlier chunk then has ``"usage": null``), then ``[DONE]``.
``Error`` is one ``{"error": {...}}`` object and no ``[DONE]``: the shape the OpenAI SDKs
recognise inside a stream (the Python SDK raises ``APIError`` with ``.code`` and ``.type``
from it). Our ``code`` goes in ``error.code``.

Tool calls (only with ``OpenAIDialect(forward_tool_calls=True)``, see there): each call
gets an ``index`` in the order the stream first names it. ``ToolCallStart`` is a
``delta.tool_calls`` fragment with ``index``, ``id``, ``type: "function"``,
``function.name`` and empty ``arguments``; each ``ToolCallDelta`` a fragment with ``index``
and an ``arguments`` piece; the complete ``ToolCall`` writes nothing more when its start was
written and argument pieces followed, the whole ``arguments`` when none did, and one
fragment with everything when no start came. ``arguments`` is the JSON text of
``ToolCall.args`` (a ``str`` is taken as that text already, so an unparseable call read
by the decoder goes back out unchanged; ``None`` is ``{}``).

Decisions where OpenAI has no equivalent: ``Status``, ``Data``, ``ToolResult`` and ``Step``
produce nothing (an OpenAI client has nowhere to put them, and chunks with empty deltas only
make every client loop handle a no-op); ``finish_reason: "cancelled"`` is written as
``"stop"`` (OpenAI has no such value); a ``Done`` without ``usage`` still writes the usage
chunk when asked, with 0 for the counts we do not know. The encoder never writes ``id:`` or
``retry:``, whatever the options say: the OpenAI Python SDK's SSE decoder dispatches a
data-less event for a ``retry``-only block and, once it has seen an ``id``, for every later
blank line (so every ``: ping`` heartbeat), and then fails parsing the empty data as JSON.
Without them, heartbeat comments are harmless to it. So this dialect cannot resume (OpenAI
clients never do).

The decoder reads any OpenAI-compatible stream back: the first chunk gives ``Start``, each
non-empty ``delta.content`` a ``Text``, ``delta.reasoning_content`` or ``delta.reasoning``
(vLLM, OpenRouter, Ollama) a ``Reasoning``, ``delta.refusal`` a ``Data`` named
``refusal``. ``delta.tool_calls`` fragments are assembled by ``index``: the first fragment
of an index gives ``ToolCallStart`` (once its name is known; a missing ``id`` becomes
``call_<index>``), each ``arguments`` piece a ``ToolCallDelta``, and when the call is
complete -- at the ``finish_reason``, or at ``[DONE]`` if none came -- every assembled call
gives a ``ToolCall`` in index order with ``args`` the parsed JSON of its arguments (empty
arguments: ``{}``; text that is not JSON: ``args`` is that text, a ``str``, and never an
exception: the call is the model's and the client decides). ``finish_reason`` and the usage
chunk are remembered and ``[DONE]`` gives ``Done(finish_reason, usage)``. An
``{"error": ...}`` object (or an SSE event named ``error``) gives ``Error`` (our code when
``error.code`` is one, ``rate_limited`` for OpenAI's rate limits, else ``upstream_error``).
A stream that stops after a ``finish_reason`` but before ``[DONE]`` is not ``finished``;
``implied_done`` says what it would have ended with, and the caller decides.

Two policies: the default is strict (a wrongly typed field raises ``RemoteProtocolError``:
a server speaking this dialect to our client should speak it right); ``lenient=True`` is
for model servers read as upstreams, whose quirks are many and harmless: wrongly typed
fields are skipped and a tool-call fragment without ``index`` is matched by its ``id`` (or
continues the last call). Text that is not JSON raises in both. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from surestream.dialects._base import EncoderOptions, frames, is_marker, json_object
from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events import (
    RETRYABLE,
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Reasoning,
    Start,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Unknown,
)
from surestream.sse import ServerSentEvent, frame

__all__ = [
    "DONE_MARKER",
    "OpenAIDecoder",
    "OpenAIDialect",
    "OpenAIEncoder",
    "arguments_text",
    "is_done_marker",
    "parse_arguments",
]

DONE_MARKER = "[DONE]"
"""The data of the last event of a normally ended stream."""

OPENAI_FINISH_REASONS = frozenset(
    {"stop", "length", "content_filter", "tool_calls", "function_call"}
)
"""The ``finish_reason`` values the Chat Completions API defines."""

_ROLE_DELTA = b'{"role":"assistant","content":""}'
_DONE_DATA = DONE_MARKER.encode()


def is_done_marker(data: str) -> bool:
    """True for the data of ``data: [DONE]`` (surrounding whitespace allowed)."""
    return is_marker(data, DONE_MARKER)


def _finish_reason(reason: str) -> str:
    if reason == FinishReason.CANCELLED or reason not in OPENAI_FINISH_REASONS:
        return "stop"
    return str(reason)


def _error_object(event: Error) -> bytes:
    kind = "rate_limit_error" if event.code == ErrorCode.RATE_LIMITED else "server_error"
    error = {"message": event.message, "type": kind, "param": None, "code": str(event.code)}
    return orjson.dumps({"error": error})


def arguments_text(args: Any) -> str:
    """The ``function.arguments`` text of a call's ``args`` (see the module docstring)."""
    if isinstance(args, str):
        return args
    try:
        return orjson.dumps({} if args is None else args).decode()
    except orjson.JSONEncodeError as exc:
        raise LocalProtocolError(f"cannot encode tool call arguments as JSON: {exc}") from None


class OpenAIEncoder:
    """Encodes typed events as ``chat.completion.chunk`` SSE events."""

    __slots__ = (
        "_calls",
        "_created",
        "_forward_tool_calls",
        "_head",
        "_include_usage",
        "_model",
        "_started",
        "_stream_id",
        "_tail",
    )

    def __init__(
        self,
        options: EncoderOptions,
        *,
        forward_tool_calls: bool = False,
        include_usage: bool = False,
    ) -> None:
        self._include_usage = include_usage
        self._stream_id = options.stream_id
        self._model = options.model
        self._created = options.created
        self._forward_tool_calls = forward_tool_calls
        self._calls: dict[str, list[int]] = {}
        """Tool call id -> [its index, 1 once argument text was written for it]."""
        self._started = False
        self._head = b""
        self._tail = (
            b',"logprobs":null,"finish_reason":null}]'
            + (b',"usage":null' if include_usage else b"")
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

    def _delta(self, delta: bytes) -> bytes:
        """One chunk with ``delta`` (after the role chunk if none was written yet)."""
        role = b"" if self._started else frame(self._start(None))
        return role + frame(self._head + delta + self._tail)

    def encode(self, event: Event, seq: int) -> bytes:
        """The chunks of one event; ``b""`` for the events OpenAI has no place for."""
        if type(event) is Text:
            return self.encode_text(event.text, seq)
        if isinstance(event, Reasoning):
            return self._delta(b'{"reasoning_content":' + orjson.dumps(event.text) + b"}")
        if isinstance(event, ToolCallStart | ToolCallDelta | ToolCall):
            return self._tool_call(event) if self._forward_tool_calls else b""
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
        return frames(payloads)

    def _tool_call(self, event: ToolCallStart | ToolCallDelta | ToolCall) -> bytes:
        call = self._calls.get(event.id)
        if isinstance(event, ToolCallDelta):
            if call is None or not event.args:
                return b""
            call[1] = 1
            return self._fragment({"index": call[0], "function": {"arguments": event.args}})
        if call is None:
            call = self._calls[event.id] = [len(self._calls), 0]
            fragment: dict[str, Any] = {"index": call[0], "id": event.id, "type": "function"}
            if isinstance(event, ToolCallStart):
                fragment["function"] = {"name": event.name, "arguments": ""}
            else:
                call[1] = 1
                fragment["function"] = {"name": event.name, "arguments": arguments_text(event.args)}
            return self._fragment(fragment)
        if isinstance(event, ToolCall) and not call[1]:
            call[1] = 1
            arguments = arguments_text(event.args)
            return self._fragment({"index": call[0], "function": {"arguments": arguments}})
        return b""

    def _fragment(self, fragment: dict[str, Any]) -> bytes:
        return self._delta(b'{"tool_calls":[' + orjson.dumps(fragment) + b"]}")

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
            return frames([role, self._content(text)])
        return frame(self._content(text))

    def prime(self, history: Iterable[Event]) -> None:
        """Encode ``history`` and discard it (OpenAI clients never resume)."""
        for event in history:
            self.encode(event, 0)

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
    if not (isinstance(message, str) and message):
        detail = err.get("detail")
        message = detail if isinstance(detail, str) else ""
    text = message or known.value.replace("_", " ")
    return Error(str(known), text, known in RETRYABLE)


def parse_arguments(text: str) -> Any:
    """A tool call's arguments from their JSON text: the value; ``{}`` for none; the text
    itself when it is not JSON (the call is the model's; the client decides)."""
    if not text.strip():
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class _Call:
    """One tool call being assembled from its fragments."""

    __slots__ = ("args", "id", "name", "started")

    def __init__(self, call_id: str) -> None:
        self.id = call_id
        self.name: str | None = None
        self.args: list[str] = []
        self.started = False


class OpenAIDecoder:
    """Reads an OpenAI-compatible chunk stream back into typed events (see the module
    docstring; ``lenient`` is the policy for model servers read as upstreams)."""

    __slots__ = ("_calls", "_finished", "_lenient", "_started", "finish_reason", "usage")

    def __init__(self, *, lenient: bool = False) -> None:
        self._lenient = lenient
        self._finished = False
        self._started = False
        self._calls: dict[int, _Call] = {}
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

    def _bad(self, message: str) -> None:
        """A wrongly typed field: raise (strict), or return so that it is skipped (lenient)."""
        if not self._lenient:
            raise RemoteProtocolError(message)

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by one received SSE event (none after the end)."""
        if self._finished:
            return []
        data = sse.data
        if is_done_marker(data):
            self._finished = True
            return [
                *self._complete_calls(),
                Done(self.finish_reason or FinishReason.STOP, self.usage),
            ]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            if sse.event == "error":
                self._finished = True
                return [_map_error({"message": data})]
            raise RemoteProtocolError(f"openai chunk is not JSON: {data[:80]!r}") from None
        if sse.event == "error":
            self._finished = True
            return [
                _map_error(
                    self._error_payload(obj.get("error", obj) if isinstance(obj, dict) else obj)
                )
            ]
        if not isinstance(obj, dict):
            return [Unknown("", {"data": obj})]
        err = obj.get("error")
        if err is not None:
            self._finished = True
            return [_map_error(self._error_payload(err))]
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
            self._bad("openai chunk 'choices' must be a list")
            return out
        for choice in choices:
            if not isinstance(choice, Mapping):
                self._bad("openai chunk choice must be an object")
                continue
            if choice.get("index", 0) != 0:
                continue
            self._choice(choice, out)
        return out

    @staticmethod
    def _error_payload(err: Any) -> Mapping[str, Any]:
        return err if isinstance(err, Mapping) else {"message": str(err)}

    def _choice(self, choice: Mapping[str, Any], out: list[Event]) -> None:
        delta = choice.get("delta")
        if delta is None:
            delta = {}
        if isinstance(delta, Mapping):
            self._delta(delta, out)
        else:
            self._bad("openai chunk 'delta' must be an object")
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self.finish_reason = reason
            out.extend(self._complete_calls())

    def _text(self, delta: Mapping[str, Any], key: str) -> str:
        value = delta.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        self._bad(f"openai delta.{key} must be a string")
        return ""

    def _delta(self, delta: Mapping[str, Any], out: list[Event]) -> None:
        reasoning = self._text(delta, "reasoning_content") or self._text(delta, "reasoning")
        if reasoning:
            out.append(Reasoning(reasoning))
        content = self._text(delta, "content")
        if content:
            out.append(Text(content))
        fragments = delta.get("tool_calls")
        if fragments:
            if isinstance(fragments, list):
                for fragment in fragments:
                    self._fragment(fragment, out)
            else:
                self._bad("openai delta.tool_calls must be a list")
        refusal = delta.get("refusal")
        if refusal:
            out.append(Data(refusal, "refusal"))

    def _call_for(self, fragment: Mapping[str, Any]) -> _Call:
        index, call_id = fragment.get("index"), fragment.get("id")
        if type(index) is not int:
            self._bad("openai tool call fragment needs an integer 'index'")
            index = self._index_of(call_id)
        call = self._calls.get(index)
        if call is None:
            name = call_id if isinstance(call_id, str) and call_id else f"call_{index}"
            call = self._calls[index] = _Call(name)
        return call

    def _index_of(self, call_id: Any) -> int:
        """Lenient: the index of a fragment without one (its id's call, else the last call
        when it names no id, else a new call)."""
        for index, call in self._calls.items():
            if call.id == call_id:
                return index
        if not call_id and self._calls:
            return max(self._calls)
        return max(self._calls, default=-1) + 1

    def _fragment(self, fragment: Any, out: list[Event]) -> None:
        if not isinstance(fragment, Mapping):
            self._bad("openai tool call fragment must be an object")
            return
        call = self._call_for(fragment)
        function = fragment.get("function")
        if function is None:
            function = {}
        if not isinstance(function, Mapping):
            self._bad("openai tool call 'function' must be an object")
            return
        name = self._text(function, "name")
        if name and call.name is None:
            call.name = name
        pieces = self._text(function, "arguments")
        if not call.started and call.name is not None:
            call.started = True
            out.append(ToolCallStart(call.id, call.name))
            out.extend(ToolCallDelta(call.id, piece) for piece in call.args)
        if pieces:
            call.args.append(pieces)
            if call.started:
                out.append(ToolCallDelta(call.id, pieces))

    def _complete_calls(self) -> list[Event]:
        """The assembled ``ToolCall``s, in index order, once; the calls are then forgotten."""
        calls = [self._calls[i] for i in sorted(self._calls)]
        self._calls.clear()
        return [ToolCall(c.id, c.name or "", parse_arguments("".join(c.args))) for c in calls]


class OpenAIDialect:
    """``openai``: ``chat.completion.chunk`` objects and ``data: [DONE]``.

    ``forward_tool_calls`` says whose tool calls a stream's ``ToolCall*`` events are. An
    OpenAI client reads every ``delta.tool_calls`` entry plus ``finish_reason:
    "tool_calls"`` as "run this tool and send me its result". False (the default, and the
    registry's ``DIALECTS["openai"]``) writes none: for streams whose tools run on the
    server (an agent's stream, where a ``ToolResult`` follows each call), whose calls must
    never reach an OpenAI client as calls to run. True writes them: the calls are the
    client's to run, as in a model's answer relayed unchanged. The gateway relays models,
    so its ``openai`` streams (``POST /v1/chat/completions`` and ``?dialect=openai``) use
    ``OpenAIDialect(forward_tool_calls=True)``. The decoder reads tool calls either way.
    ``include_usage`` writes the usage chunk at the end (what ``stream_options.include_usage``
    asks of OpenAI), and ``"usage": null`` in every chunk before it.
    """

    name = "openai"
    headers: Mapping[str, str] = {}
    resume_needs_history = False
    """This dialect writes no ids: its clients never resume."""
    header: str | None = None
    """OpenAI streams carry no header of their own."""
    end_marker: str | None = DONE_MARKER

    def claims(self, payload: object) -> bool:
        """A ``chat.completion.chunk`` object, or any object with a ``choices`` list."""
        return isinstance(payload, dict) and (
            payload.get("object") == "chat.completion.chunk"
            or isinstance(payload.get("choices"), list)
        )

    def ends(self, data: str) -> bool:
        """``[DONE]``, or an ``{"error": ...}`` object."""
        if is_done_marker(data):
            return True
        obj = json_object(data)
        return obj is not None and obj.get("error") is not None

    def __init__(self, *, forward_tool_calls: bool = False, include_usage: bool = False) -> None:
        self.forward_tool_calls = forward_tool_calls
        self.include_usage = include_usage

    def encoder(self, options: EncoderOptions) -> OpenAIEncoder:
        """A new encoder for one outgoing stream."""
        return OpenAIEncoder(
            options,
            forward_tool_calls=self.forward_tool_calls,
            include_usage=self.include_usage,
        )

    def decoder(self, *, lenient: bool = False) -> OpenAIDecoder:
        """A new decoder for one incoming stream (``lenient``: the upstream policy)."""
        return OpenAIDecoder(lenient=lenient)
