"""What the fake upstream does with one request: ``Scenario`` and its spec string.

Strategy: a frozen value object, no I/O. ``Scenario.parse("stall_after=2,ping=0.5")`` reads a
spec (``key=value`` pairs joined by commas, values URL-quoted; the keys are the fields) and
``spec()`` writes one, so a scenario travels in a header, a model name or a JSON body;
``surestream.testing.fake_upstream`` plays it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import orjson

__all__ = ["DEFAULT_TEXT", "Scenario"]

DEFAULT_TEXT = "Hello from the fake upstream. It streams a few words, one per chunk."
"""What a normal fake stream says, one word per chunk."""


@dataclass(frozen=True)
class Scenario:
    """What the fake does with one request. Counts are chunks sent first: the reasoning's
    words, then the text's words, then the tool-call fragments.

    - ``status``: answer this HTTP status with an OpenAI-style JSON error (``error_message``)
      instead of a stream; ``retry_after`` becomes the ``Retry-After`` header.
    - ``header_delay``: seconds before the response head; ``first_delay``: seconds after the
      head before the first chunk; ``delay``: seconds between chunks (a trickle).
    - ``stall_after`` / ``stall``: after that many words, go silent for ``stall`` seconds.
    - ``cut_after``: after that many words, end the body with neither finish_reason nor
      ``[DONE]``; with ``reset`` the connection breaks instead of ending cleanly.
    - ``error_after``: after that many words, send ``{"error": {...}}`` (then ``[DONE]`` if
      ``done``), as vLLM and LiteLLM do.
    - ``reasoning``: stream this text first, one word per chunk, as ``delta.<reasoning_field>``
      (``reasoning_content``, or ``reasoning`` as vLLM and OpenRouter spell it); the usage then
      counts its words in ``completion_tokens_details.reasoning_tokens``.
    - ``tool_calls``: a JSON array of calls ``{"name", "arguments", "id"?}`` (``arguments`` a
      JSON value, or a string sent as the arguments text itself) streamed after the text as
      OpenAI does: per call a first fragment with ``index``, ``id``, ``type`` and the name,
      then the arguments in pieces of ``args_piece`` characters.
    - ``finish`` / ``finish_reason``: send the finish chunk (``finish_reason`` by default
      ``tool_calls`` with tool calls, else ``stop``); ``done``: send ``data: [DONE]``.
    - ``usage``: ``final`` (a last chunk with empty choices, only when the request asked for
      ``stream_options.include_usage``, as OpenAI), ``finish`` (in the finish chunk, as
      llama.cpp), ``none``.
    - ``inject`` / ``inject_after``: write these raw bytes (UTF-8 text) into the body after
      that many words, then go on (e.g. a malformed chunk or an ``event: error`` block).
    - ``hang``: after the last chunk keep the connection open for ``stall`` seconds (a server
      that never closes its body).
    - ``role_chunk``: start with a role-only chunk, as OpenAI does; ``ping``: send ``: ping``
      comments every that many seconds while waiting; ``fragment``: split the body into
      writes of that many bytes; ``json_response``: answer JSON even to ``stream: true``.
    - ``repeat``: send ``text`` this many times over (a long answer from a short spec).
    - Anthropic wire only (``POST /v1/messages``): ``error_type`` is the type of the
      ``event: error`` that ``error_after`` sends (``overloaded_error``, ``rate_limit_error``,
      ...); ``cache_read`` / ``cache_creation`` are the usage's cache tokens; ``finish_reason``
      may also be an Anthropic ``stop_reason`` (``refusal``, ``stop_sequence``, ...);
      ``require_signature`` refuses (400 ``invalid_request_error``), as the Messages API
      does, a request with an assistant thinking block whose ``signature`` is missing or not
      the one the fake gave that thinking, or, with ``thinking`` enabled, an assistant turn
      with a ``tool_use`` that does not start with its thinking.
    """

    text: str = DEFAULT_TEXT
    status: int = 200
    retry_after: str | None = None
    error_message: str = "fake upstream error"
    header_delay: float = 0.0
    first_delay: float = 0.0
    delay: float = 0.0
    stall_after: int | None = None
    stall: float = 3600.0
    cut_after: int | None = None
    reset: bool = False
    error_after: int | None = None
    inject: str | None = None
    inject_after: int = 0
    hang: bool = False
    reasoning: str = ""
    reasoning_field: str = "reasoning_content"
    tool_calls: str = ""
    args_piece: int = 8
    finish: bool = True
    finish_reason: str | None = None
    done: bool = True
    usage: str = "final"
    role_chunk: bool = True
    ping: float | None = None
    fragment: int | None = None
    json_response: bool = False
    repeat: int = 1
    error_type: str = "overloaded_error"
    cache_read: int = 0
    cache_creation: int = 0
    require_signature: bool = False

    @classmethod
    def parse(cls, spec: str) -> Scenario:
        """Read a ``key=value,key=value`` spec (values URL-quoted); ``ValueError`` if bad."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, raw = part.partition("=")
            if key not in fields:
                raise ValueError(f"unknown fake scenario key {key!r}")
            value = unquote_plus(raw) if sep else "true"
            kind = str(fields[key].type)
            if kind.startswith("bool"):
                values[key] = value.lower() in ("1", "true", "yes", "on")
            elif kind.startswith("int"):
                values[key] = int(value)
            elif kind.startswith("float"):
                values[key] = float(value)
            else:
                values[key] = value
        return cls(**values)

    def spec(self) -> str:
        """The spec string of the fields that differ from the defaults."""
        default = Scenario()
        parts = [
            f"{f.name}={quote_plus(str(getattr(self, f.name)))}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ",".join(parts)

    def words(self) -> list[str]:
        """The content chunks: the first word bare, the others with their leading space."""
        words = _words(self.text)
        if self.repeat > 1 and words:
            again = [" " + words[0], *words[1:]]
            words = words + again * (self.repeat - 1)
        return words

    def reasoning_words(self) -> list[str]:
        """The reasoning chunks, split like ``words``."""
        return _words(self.reasoning)

    def calls(self) -> list[dict[str, Any]]:
        """The tool calls in the wire shape of a message: ``id``, ``type``, ``function``."""
        if not self.tool_calls:
            return []
        calls = orjson.loads(self.tool_calls)
        out = []
        for index, call in enumerate(calls):
            arguments = call.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = orjson.dumps(arguments).decode()
            function = {"name": call["name"], "arguments": arguments}
            out.append(
                {"id": call.get("id", f"call_{index}"), "type": "function", "function": function}
            )
        return out

    def finish_reason_sent(self) -> str:
        """The ``finish_reason`` of the finish chunk."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def usage_of(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The token counts of this answer to ``body`` (words stand for tokens)."""
        prompt = _prompt_tokens(body)
        thinking = len(self.reasoning_words())
        completion = len(self.words()) + thinking
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if thinking:
            usage["completion_tokens_details"] = {"reasoning_tokens": thinking}
        return usage


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [parts[0], *(" " + w for w in parts[1:])] if text else []


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(
        len(m["content"].split())
        for m in messages
        if isinstance(m, dict) and isinstance(m.get("content"), str)
    )
