"""Reading one answer of an OpenAI-wire server: body bytes in, events and a verdict out.

Strategy: ``AnswerReader`` holds everything one streamed answer decides and nothing that
waits: ``feed(data, now)`` takes raw body bytes as they arrive, feeds them to
``surestream.sse.Decoder`` and each SSE event to the ``openai`` dialect's decoder with its
lenient policy (``OpenAIDecoder(lenient=True)``: the one reader of the chunk shape and of
``[DONE]``), and queues what it gives in ``pending``:

- ``Text`` for ``delta.content``, ``Reasoning`` for ``delta.reasoning_content`` /
  ``delta.reasoning``, ``ToolCallStart`` / ``ToolCallDelta`` as a tool call streams and the
  assembled ``ToolCall``s at the ``finish_reason`` (arguments that are not JSON: ``args`` is
  their text, see the dialect); other choice indexes are not forwarded;
- ``finish_reason`` and the latest non-null ``usage`` (in the finish chunk as llama.cpp sends
  it, or in a later chunk with empty ``choices`` as OpenAI, vLLM and Ollama send it; passed
  on whole, ``completion_tokens_details.reasoning_tokens`` included) go in the final ``Done``;
- a chunk with an ``error`` member (vLLM, SGLang, LiteLLM) or an SSE event named ``error``
  -> ``SourceFailed("upstream_error")`` with the upstream's message made safe; a chunk that is
  not a JSON object -> ``SourceFailed("upstream_error")``; an event over ``max_event_size``
  too.

Every SSE event the upstream sends is activity (a reasoning or tool-argument delta resets the
idle deadline like text does), and each of them reaches the consumer as an event, so the
gateway's own ``idle_timeout`` sees the same activity. SSE comments (keep-alive pings) are
not activity.

How a stream ends (the rule where the servers disagree), ``end(complete)``: the verdict is
``done`` when the upstream said it finished in *either* way - ``data: [DONE]``
(finish_reason ``stop`` if none came) or a ``finish_reason`` followed by the end of the body
or a broken connection. Real servers that send a finish_reason but no ``[DONE]`` exist
(ik_llama.cpp, early llama-box), and their answers are complete; the text is never cut by
this rule. With ``require_done_marker`` a missing ``[DONE]`` is ``upstream_truncated``
instead. A body that ends (or a connection that breaks) with *neither* marker is
``upstream_truncated``.

Deadlines (``deadline()``, ``timed_out()``; None = never): ``first_token_timeout`` from
sending the request until the first SSE event, ``idle_timeout`` between events afterwards,
``after_finish_timeout`` after a ``finish_reason`` for the usage chunk and ``[DONE]`` (its
expiry ends the answer as the end of the body would). The reader only says when the current
deadline falls; its driver (``openai_stream``) keeps one timer per stream and asks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from surestream.dialects.openai import DONE_MARKER, OpenAIDecoder
from surestream.errors import RemoteProtocolError, SourceFailed, SSEProtocolError
from surestream.events import Done, Error, ErrorCode, Event, Start, Text, Unknown
from surestream.sse import Decoder, ServerSentEvent
from surestream.upstream.base import DEFAULT_MESSAGE_LIMIT, safe_message

__all__ = ["AnswerReader", "ChunkDecoder", "answer_events"]


class ChunkDecoder(Protocol):
    """What ``AnswerReader`` asks of the decoder of its upstream's SSE events (the
    ``openai`` dialect's, or another wire's, such as the Anthropic upstream's)."""

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by one received SSE event."""
        ...

    @property
    def finish_reason(self) -> str | None:
        """The finish reason received so far, if any."""
        ...

    @property
    def implied_done(self) -> Done | None:
        """The ``Done`` the stream would end with now, if it said it finished."""
        ...


class AnswerReader:
    """The state of one streamed answer (see the module docstring).

    ``pending`` holds the events to hand on; ``failure`` the ``SourceFailed`` to raise once
    they are out; ``over`` turns true when nothing more will be queued. ``decoder`` reads
    the SSE events (default: the ``openai`` dialect's, lenient); ``upstream_error`` decides
    what an ``Error`` event of the upstream ends the answer with (a subclass may change it).
    """

    __slots__ = (
        "_active",
        "_after_finish_timeout",
        "_chunks",
        "_decoder",
        "_first_token_timeout",
        "_idle_timeout",
        "_require_done",
        "failure",
        "last_activity",
        "message_limit",
        "over",
        "pending",
        "secrets",
    )

    def __init__(
        self,
        *,
        started: float,
        first_token_timeout: float | None,
        idle_timeout: float | None,
        after_finish_timeout: float | None,
        require_done_marker: bool,
        max_event_size: int,
        secrets: tuple[str | None, ...] = (),
        message_limit: int = DEFAULT_MESSAGE_LIMIT,
        decoder: ChunkDecoder | None = None,
    ) -> None:
        self._decoder = Decoder(max_event_size)
        self._chunks: ChunkDecoder = decoder or OpenAIDecoder(lenient=True)
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        self._after_finish_timeout = after_finish_timeout
        self._require_done = require_done_marker
        self.secrets = secrets
        """Strings masked out of the upstream's messages (its API key)."""
        self.message_limit = message_limit
        """Longest upstream message passed on."""
        self._active = False
        self.last_activity = started
        """When the last SSE event arrived (the request's start before the first)."""
        self.pending: deque[Event] = deque()
        self.failure: SourceFailed | None = None
        self.over = False

    def feed(self, data: bytes, now: float) -> None:
        """Take body bytes that arrived at ``now``."""
        if self.over:
            return
        try:
            events = self._decoder.feed(data)
        except SSEProtocolError:
            self.fail(ErrorCode.UPSTREAM_ERROR, "the upstream sent an oversized event")
            return
        if events:
            self._active = True
            self.last_activity = now
            for sse in events:
                if self.over:
                    return
                self._handle(sse)

    def end(self, complete: bool) -> None:
        """The body ended: ``complete`` when its framing said so, else the connection broke."""
        if self.over:
            return
        if complete:
            for sse in self._decoder.close():
                if self.over:
                    return
                self._handle(sse)
            self._conclude("the upstream closed the stream before the answer was complete")
        else:
            self._conclude("the upstream connection broke before the answer was complete")

    def deadline(self) -> float | None:
        """When the current deadline falls (the clock of ``feed``'s ``now``); None: never."""
        limit = self._limit()[0]
        return None if limit is None else self.last_activity + limit

    def timed_out(self) -> None:
        """The current deadline has passed: end or fail the answer accordingly."""
        limit, phase = self._limit()
        if phase == "after_finish":
            self._conclude("the upstream did not end its stream after the finish_reason")
        elif phase == "first":
            message = f"the upstream sent no first token within {self._first_token_timeout} s"
            self.fail(ErrorCode.UPSTREAM_TIMEOUT, message)
        else:
            self.fail(ErrorCode.UPSTREAM_TIMEOUT, f"the upstream sent nothing for {limit} s")

    def fail(self, code: ErrorCode | SourceFailed, message: str = "") -> None:
        """End the answer with ``SourceFailed(code, message)`` (or the one given) after what
        is pending."""
        if not self.over:
            self.over = True
            self.failure = code if isinstance(code, SourceFailed) else SourceFailed(code, message)

    def upstream_error(self, event: Error) -> SourceFailed:
        """``upstream_error`` with the upstream's message made safe: a server's own error
        code is not ours to pass on."""
        text = safe_message(event.message, limit=self.message_limit, secrets=self.secrets)
        return SourceFailed(ErrorCode.UPSTREAM_ERROR, text or "the upstream reported an error")

    def _limit(self) -> tuple[float | None, str]:
        if self._chunks.finish_reason is not None:
            return self._after_finish_timeout, "after_finish"
        if not self._active:
            return self._first_token_timeout, "first"
        return self._idle_timeout, "idle"

    def _conclude(self, truncated_message: str) -> None:
        implied = self._chunks.implied_done
        if implied is not None and not self._require_done:
            self.over = True
            self.pending.append(implied)
        else:
            self.fail(ErrorCode.UPSTREAM_TRUNCATED, truncated_message)

    def _handle(self, sse: ServerSentEvent) -> None:
        try:
            events = self._chunks.decode(sse)
        except RemoteProtocolError:
            self.fail(ErrorCode.UPSTREAM_ERROR, "the upstream sent a malformed chunk")
            return
        pending = self.pending
        for event in events:
            if type(event) is Text:
                pending.append(event)
                continue
            if isinstance(event, Unknown):
                self.fail(ErrorCode.UPSTREAM_ERROR, "the upstream sent a malformed chunk")
                return
            if isinstance(event, Error):
                self.fail(self.upstream_error(event))
                return
            if not isinstance(event, Start):
                pending.append(event)
            if isinstance(event, Done):
                self.over = True
                return


def answer_events(answer: Mapping[str, Any]) -> list[Event]:
    """The events of a whole ``chat.completion``, read as the one chunk it amounts to (each
    choice's ``message`` as its ``delta``) by the same decoder as a stream."""
    choices = answer.get("choices")
    as_chunk = {
        "usage": answer.get("usage"),
        "choices": [
            {
                "index": choice.get("index", 0),
                "delta": choice.get("message"),
                "finish_reason": choice.get("finish_reason"),
            }
            for choice in (choices if isinstance(choices, list) else [])
            if isinstance(choice, dict)
        ],
    }
    decoder = OpenAIDecoder(lenient=True)
    events = decoder.decode(ServerSentEvent(data=orjson.dumps(as_chunk).decode()))
    events += decoder.decode(ServerSentEvent(data=DONE_MARKER))
    return [event for event in events if not isinstance(event, Start)]
