"""Anthropic's Messages API as an upstream: Claude models behind the gateway.

Strategy: the HTTP side is the OpenAI-compatible upstream's (``OpenAICompatibleUpstream``:
its connection handling, timeouts, bounded error bodies and status mapping, ``map_status``),
with the Anthropic wire swapped in: ``open`` POSTs ``{base_url}/v1/messages`` (``base_url``
may end in ``/v1`` or not: ``https://api.anthropic.com`` and ``.../v1`` both work) with the
key as ``x-api-key`` and ``anthropic-version``, and a body made by
``surestream.upstream.anthropic_request.messages_body`` (what it cannot carry is a 422
before any request). The stream is read by the same ``OpenAIStream`` loop and
``AnswerReader`` rules with ``surestream.dialects._anthropic_wire.AnthropicDecoder``
(lenient) as its decoder (``AnthropicReader``):

- ``text_delta`` -> ``Text``; thinking -> ``Reasoning``; a ``tool_use`` block ->
  ``ToolCallStart``, ``ToolCallDelta`` per ``input_json_delta``, ``ToolCall`` at its stop;
- ``message_stop`` -> ``Done`` with the ``stop_reason`` mapped (``end_turn`` /
  ``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``, ``tool_use`` ->
  ``tool_calls``, ``refusal`` -> ``content_filter``) and ``usage`` (input, output and cache
  tokens, with the OpenAI names beside them: ``_anthropic_wire.usage_of``);
- ``event: error`` -> ``SourceFailed`` with the error type's code: ``overloaded_error`` ->
  ``upstream_error`` retryable, ``rate_limit_error`` -> ``rate_limited`` (retryable),
  ``timeout_error`` -> ``upstream_timeout``, any other -> ``upstream_error``; the message
  made safe;
- a body that ends (or a connection that breaks) before ``message_stop`` ->
  ``upstream_truncated``, even after a ``stop_reason`` (the official SDK would end quietly
  there; ``message_stop`` is the wire's one end marker);
- every SSE event is activity, ``ping`` included: a model that thinks long while the API
  pings is not idle (``idle_timeout``); after the ``stop_reason`` the stream waits at most
  ``after_finish_timeout`` for ``message_stop``.

Refusals before the stream (429 with its ``retry-after``, 529 overloaded, 401, 400, ...) map
as the OpenAI-compatible upstream's do (``map_status``), with Anthropic's error message. A
200 JSON answer (a proxy that ignored ``stream``) is read as a whole ``message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from surestream._extras import needs

with needs("client", __name__):
    import httpx

from surestream.dialects._anthropic_wire import (
    ANTHROPIC_VERSION,
    AnthropicDecoder,
    message_events,
)
from surestream.errors import SourceFailed
from surestream.events import Error, Event, Start
from surestream.sse import DEFAULT_MAX_EVENT_SIZE
from surestream.upstream.anthropic_request import DEFAULT_ANTHROPIC_MAX_TOKENS, messages_body
from surestream.upstream.base import DEFAULT_MESSAGE_LIMIT, ChatRequest, safe_message
from surestream.upstream.openai_answer import AnswerReader, ChunkDecoder
from surestream.upstream.openai_compat import (
    DEFAULT_AFTER_FINISH_TIMEOUT,
    DEFAULT_MAX_ERROR_BODY,
    DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
    DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT,
    DEFAULT_UPSTREAM_IDLE_TIMEOUT,
    OpenAICompatibleUpstream,
)

__all__ = ["AnthropicReader", "AnthropicUpstream"]


class AnthropicReader(AnswerReader):
    """The answer of one Messages API stream (see the module docstring)."""

    __slots__ = ()

    def upstream_error(self, event: Error) -> SourceFailed:
        """The error's own code and retryability (the decoder maps Anthropic's closed list
        of error types), with the message made safe."""
        text = safe_message(event.message, limit=self.message_limit, secrets=self.secrets)
        message = text or "the upstream reported an error"
        return SourceFailed(event.code, message, retryable=event.retryable)


class AnthropicUpstream(OpenAICompatibleUpstream):
    """Anthropic's Messages API at ``base_url`` (``https://api.anthropic.com``).

    ``api_key`` is sent as ``x-api-key`` and ``anthropic_version`` as ``anthropic-version``;
    ``model_map`` renames our model names to Anthropic's (``models()`` lists its keys, or
    asks ``GET /v1/models``); ``default_max_tokens`` is the ``max_tokens`` sent when the
    client gave no limit. Timeouts, ``after_finish_timeout``, limits, ``extra_headers``
    (e.g. ``anthropic-beta``) and ``http_client``: as for ``OpenAICompatibleUpstream``.
    """

    endpoint = "/messages"
    reader_class = AnthropicReader

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model_map: Mapping[str, str] | None = None,
        anthropic_version: str = ANTHROPIC_VERSION,
        default_max_tokens: int = DEFAULT_ANTHROPIC_MAX_TOKENS,
        connect_timeout: float | None = DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
        first_token_timeout: float | None = DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT,
        idle_timeout: float | None = DEFAULT_UPSTREAM_IDLE_TIMEOUT,
        after_finish_timeout: float | None = DEFAULT_AFTER_FINISH_TIMEOUT,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        max_error_body: int = DEFAULT_MAX_ERROR_BODY,
        message_limit: int = DEFAULT_MESSAGE_LIMIT,
        extra_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if default_max_tokens < 1:
            raise ValueError("default_max_tokens must be a positive integer")
        headers = {"anthropic-version": anthropic_version, **dict(extra_headers or {})}
        super().__init__(
            base_url,
            api_key=api_key,
            model_map=model_map,
            connect_timeout=connect_timeout,
            first_token_timeout=first_token_timeout,
            idle_timeout=idle_timeout,
            after_finish_timeout=after_finish_timeout,
            include_usage=False,
            require_done_marker=True,
            max_event_size=max_event_size,
            max_error_body=max_error_body,
            message_limit=message_limit,
            extra_headers=headers,
            http_client=http_client,
        )
        self.default_max_tokens = default_max_tokens
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        model = self.upstream_model(request.model)
        return messages_body(request, model, default_max_tokens=self.default_max_tokens)

    def _chunk_decoder(self) -> ChunkDecoder:
        return AnthropicDecoder(lenient=True)

    def _whole_answer(self, answer: Mapping[str, Any]) -> list[Event]:
        return [e for e in message_events(answer) if not isinstance(e, Start)]
