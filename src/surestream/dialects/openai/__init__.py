"""The ``openai`` dialect: OpenAI Chat Completions streaming, so the official SDKs are clients.

Strategy: the encoder writes the bytes ``POST /v1/chat/completions`` with ``stream: true``
writes (https://platform.openai.com/docs/api-reference/chat-streaming): one unnamed SSE event
per ``chat.completion.chunk`` object, ``data: [DONE]`` after a normal end. The first chunk
carries ``delta: {"role":"assistant","content":""}`` (``Start`` maps to it; without a
``Start`` the encoder writes it before the first other chunk), each ``Text`` is one
``delta.content`` chunk, each ``Reasoning`` one ``delta.reasoning_content`` chunk (the
DeepSeek / vLLM spelling; the official SDKs keep it as an extra field; an ``opaque`` one,
only a provider's signature or redacted reasoning, writes nothing), ``Done`` is a chunk
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

from collections.abc import Mapping

from surestream.dialects._base import EncoderOptions, json_object
from surestream.dialects.openai._decoder import OpenAIDecoder
from surestream.dialects.openai._encoder import OpenAIEncoder
from surestream.dialects.openai._wire import (
    DONE_MARKER,
    arguments_text,
    is_done_marker,
    parse_arguments,
)
from surestream.sse import HEARTBEAT

__all__ = [
    "DONE_MARKER",
    "OpenAIDecoder",
    "OpenAIDialect",
    "OpenAIEncoder",
    "arguments_text",
    "is_done_marker",
    "parse_arguments",
]


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
    heartbeat: bytes = HEARTBEAT
    """A ``: ping`` comment: harmless to the OpenAI SDKs, since no ``id:`` is written."""

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
