"""Any server that speaks the OpenAI chat-completions wire: OpenAI, vLLM, Ollama, llama.cpp
server, LiteLLM, ...

Strategy: ``open`` POSTs ``{base_url}/chat/completions`` with ``stream: true`` (and
``stream_options.include_usage``) through httpx and waits for the response head, bounded by
``first_token_timeout``; a non-200 status is read (bounded), closed and mapped to
``UpstreamHTTPError`` (see ``map_status``). The returned ``OpenAIStream`` is a plain async
iterator (not a generator, so a timeout never straddles a ``yield``): each ``__anext__`` reads
raw body bytes under a deadline, feeds them to ``surestream.sse.Decoder`` and each SSE event
to the ``openai`` dialect's decoder with its lenient policy (``OpenAIDecoder(lenient=True)``:
the one reader of the chunk shape and of ``[DONE]``), and yields what it gives:

- ``Text`` for ``delta.content``, ``Reasoning`` for ``delta.reasoning_content`` /
  ``delta.reasoning``, ``ToolCallStart`` / ``ToolCallDelta`` as a tool call streams and the
  assembled ``ToolCall``s at the ``finish_reason`` (arguments that are not JSON: ``args`` is
  their text, see the dialect); other choice indexes are not forwarded;
- ``finish_reason`` and the latest non-null ``usage`` (in the finish chunk as llama.cpp sends
  it, or in a later chunk with empty ``choices`` as OpenAI, vLLM and Ollama send it; passed
  on whole, ``completion_tokens_details.reasoning_tokens`` included) go in the final ``Done``;
- a chunk with an ``error`` member (vLLM, SGLang, LiteLLM) or an SSE event named ``error``
  -> ``SourceFailed("upstream_error")`` with the upstream's message made safe; a chunk that is
  not a JSON object -> ``SourceFailed("upstream_error")``.

Every SSE event the upstream sends is activity (a reasoning or tool-argument delta resets the
idle deadline like text does), and each of them reaches the consumer as an event, so the
gateway's own ``idle_timeout`` sees the same activity.

How a stream ends (the rule where the servers disagree): the verdict is ``done`` when the
upstream said it finished in *either* way - ``data: [DONE]`` (finish_reason ``stop`` if none
came) or a ``finish_reason`` followed by the end of the body or a broken connection. Real
servers that send a finish_reason but no ``[DONE]`` exist (ik_llama.cpp, early llama-box), and
their answers are complete; the text is never cut by this rule. With ``require_done_marker``
a missing ``[DONE]`` is ``upstream_truncated`` instead. A body that ends (or a connection that
breaks) with *neither* marker is ``upstream_truncated``. After a ``finish_reason`` we wait at
most ``after_finish_timeout`` for the usage chunk and ``[DONE]``.

Timeouts (``None`` = never): ``connect_timeout`` for TCP/TLS (and writing the request);
``first_token_timeout`` from sending the request until the first data chunk (the response
head included: exceeding it before the head is a 504 ``UpstreamHTTPError``, after it a
``SourceFailed("upstream_timeout")``); ``idle_timeout`` between data chunks afterwards. SSE
comments (keep-alive pings) do not count as chunks. Defaults are generous: slow local models
are healthy, and the gateway has its own heartbeat and idle policy.

Never logged: the API key, the prompt, the answer. The key is also masked out of any
upstream message we pass on, and 401/403 messages (OpenAI echoes part of the key) are
replaced by our own.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from surestream._extras import needs

with needs("client", __name__):
    import httpx

import orjson

from surestream._closing import AsyncClosing
from surestream.dialects.openai import DONE_MARKER, OpenAIDecoder
from surestream.errors import RemoteProtocolError, SourceFailed, SSEProtocolError
from surestream.events import Done, Error, ErrorCode, Event, Start, Unknown
from surestream.sse import DEFAULT_MAX_EVENT_SIZE, Decoder, ServerSentEvent
from surestream.upstream.base import (
    DEFAULT_MESSAGE_LIMIT,
    ChatRequest,
    ModelInfo,
    OpenedStream,
    UpstreamHTTPError,
    safe_message,
)

__all__ = [
    "DEFAULT_AFTER_FINISH_TIMEOUT",
    "DEFAULT_MAX_ERROR_BODY",
    "DEFAULT_UPSTREAM_CONNECT_TIMEOUT",
    "DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT",
    "DEFAULT_UPSTREAM_IDLE_TIMEOUT",
    "OpenAICompatibleUpstream",
    "OpenAIStream",
    "map_status",
    "parse_retry_after",
]

logger = logging.getLogger("surestream.upstream")

DEFAULT_UPSTREAM_CONNECT_TIMEOUT = 10.0
"""Seconds to open the TCP/TLS connection and write the request."""

DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT = 300.0
"""Seconds from sending the request to the first data chunk (long prompts on local models
take minutes to prefill)."""

DEFAULT_UPSTREAM_IDLE_TIMEOUT = 300.0
"""Seconds of silence allowed between two data chunks (not 10 s: slow streams are healthy)."""

DEFAULT_AFTER_FINISH_TIMEOUT = 10.0
"""Seconds to wait, after a finish_reason, for the usage chunk and ``[DONE]``."""

DEFAULT_MAX_ERROR_BODY = 64 * 1024
"""Bytes read at most from an error response (or a non-streaming JSON answer: x16)."""


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or an
    HTTP date); None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def map_status(upstream_status: int) -> tuple[int, str]:
    """The (gateway status, error code) for an upstream's non-200 status before any token."""
    if upstream_status == 429:
        return 429, str(ErrorCode.RATE_LIMITED)
    if upstream_status in (400, 422):
        return 400, "invalid_request"
    if upstream_status == 413:
        return 413, "request_too_large"
    if upstream_status in (408, 504):
        return 504, str(ErrorCode.UPSTREAM_TIMEOUT)
    return 502, str(ErrorCode.UPSTREAM_ERROR)


def _error_text(payload: Any) -> str:
    if isinstance(payload, Mapping):
        err = payload.get("error", payload)
        if isinstance(err, Mapping):
            msg = err.get("message") or err.get("detail") or err.get("type")
            return msg if isinstance(msg, str) else ""
        if isinstance(err, str):
            return err
        detail = payload.get("detail")
        if isinstance(detail, str):
            return detail
    return ""


def _loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class ChunkDecoder(Protocol):
    """What ``OpenAIStream`` asks of the decoder of its upstream's SSE events (the
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


class OpenAIStream(AsyncClosing):
    """The events of one accepted upstream request (see the module docstring).

    Iterate it once; ``aclose()`` (idempotent) closes the HTTP response and with it the
    connection when the body is still streaming. ``decoder`` reads the SSE events
    (default: the ``openai`` dialect's, lenient); ``upstream_error`` decides what an
    ``Error`` event of the upstream ends the stream with.
    """

    def __init__(
        self,
        response: httpx.Response,
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
        self._response = response
        self._raw = response.aiter_raw()
        self._decoder = Decoder(max_event_size)
        self._chunks: ChunkDecoder = decoder or OpenAIDecoder(lenient=True)
        self._last_activity = started
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        self._after_finish_timeout = after_finish_timeout
        self._require_done = require_done_marker
        self._secrets = secrets
        self._message_limit = message_limit
        self._pending: deque[Event] = deque()
        self._active = False
        self._failure: SourceFailed | None = None
        self._over = False
        self._closed = False

    def __aiter__(self) -> OpenAIStream:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._pending:
                event = self._pending.popleft()
                if isinstance(event, Done):
                    await self.aclose()
                return event
            if self._failure is not None:
                failure, self._failure = self._failure, None
                logger.warning("upstream stream failed: %s", failure.code)
                await self.aclose()
                raise failure
            if self._over:
                await self.aclose()
                raise StopAsyncIteration
            await self._read()

    async def aclose(self) -> None:
        """Close the upstream response (and its connection if still streaming)."""
        self._over = True
        if not self._closed:
            self._closed = True
            await self._response.aclose()

    def _deadline(self) -> tuple[float | None, float | None, str]:
        if self._chunks.finish_reason is not None:
            limit, phase = self._after_finish_timeout, "after_finish"
        elif not self._active:
            limit, phase = self._first_token_timeout, "first"
        else:
            limit, phase = self._idle_timeout, "idle"
        if limit is None:
            return None, None, phase
        remaining = self._last_activity + limit - asyncio.get_running_loop().time()
        return max(remaining, 0.0), limit, phase

    def _fail(self, code: ErrorCode | SourceFailed, message: str = "") -> None:
        if not self._over:
            self._over = True
            self._failure = code if isinstance(code, SourceFailed) else SourceFailed(code, message)

    async def _read(self) -> None:
        timeout, limit, phase = self._deadline()
        try:
            async with asyncio.timeout(timeout):
                chunk = await self._raw.__anext__()
        except StopAsyncIteration:
            self._handle_all(self._decoder.close())
            self._end("the upstream closed the stream before the answer was complete")
            return
        except (TimeoutError, httpx.TimeoutException):
            if phase == "first":
                message = f"the upstream sent no first token within {self._first_token_timeout} s"
            else:
                message = f"the upstream sent nothing for {limit} s"
            if phase == "after_finish":
                self._end("the upstream did not end its stream after the finish_reason")
            else:
                self._fail(ErrorCode.UPSTREAM_TIMEOUT, message)
            return
        except httpx.HTTPError:
            self._end("the upstream connection broke before the answer was complete")
            return
        try:
            events = self._decoder.feed(chunk)
        except SSEProtocolError:
            self._fail(ErrorCode.UPSTREAM_ERROR, "the upstream sent an oversized event")
            return
        self._handle_all(events)

    def upstream_error(self, event: Error) -> SourceFailed:
        """``upstream_error`` with the upstream's message made safe: a server's own error
        code is not ours to pass on."""
        text = safe_message(event.message, limit=self._message_limit, secrets=self._secrets)
        return SourceFailed(ErrorCode.UPSTREAM_ERROR, text or "the upstream reported an error")

    def _end(self, truncated_message: str) -> None:
        if self._over:
            return
        implied = self._chunks.implied_done
        if implied is not None and not self._require_done:
            self._over = True
            self._pending.append(implied)
        else:
            self._fail(ErrorCode.UPSTREAM_TRUNCATED, truncated_message)

    def _handle_all(self, events: list[ServerSentEvent]) -> None:
        for sse in events:
            if self._over:
                return
            self._handle(sse)

    def _handle(self, sse: ServerSentEvent) -> None:
        self._active = True
        self._last_activity = asyncio.get_running_loop().time()
        try:
            events = self._chunks.decode(sse)
        except RemoteProtocolError:
            self._fail(ErrorCode.UPSTREAM_ERROR, "the upstream sent a malformed chunk")
            return
        for event in events:
            if isinstance(event, Unknown):
                self._fail(ErrorCode.UPSTREAM_ERROR, "the upstream sent a malformed chunk")
                return
            if isinstance(event, Error):
                self._fail(self.upstream_error(event))
                return
            if not isinstance(event, Start):
                self._pending.append(event)
            if isinstance(event, Done):
                self._over = True
                return


def _answer_events(answer: Mapping[str, Any]) -> list[Event]:
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


class _BufferedStream(AsyncClosing):
    """A whole non-streaming answer, replayed as events (for servers that ignore stream)."""

    def __init__(self, events: list[Event]) -> None:
        self._events = deque(events)

    def __aiter__(self) -> _BufferedStream:
        return self

    async def __anext__(self) -> Event:
        if not self._events:
            raise StopAsyncIteration
        return self._events.popleft()

    async def aclose(self) -> None:
        self._events.clear()


class OpenAICompatibleUpstream:
    """An OpenAI-wire model server at ``base_url`` (e.g. ``https://api.openai.com/v1``,
    ``http://localhost:11434/v1`` for Ollama, ``http://localhost:8000/v1`` for vLLM).

    ``api_key`` is sent as ``Authorization: Bearer`` when given. ``model_map`` renames our
    model names to the upstream's (names not in it pass through unchanged); ``models()``
    lists its keys, or asks the upstream's ``/models`` when it is empty. Timeouts: see the
    module docstring; None = never. ``include_usage`` sends ``stream_options`` (turn it off
    for servers that reject it); ``max_tokens_field`` names the request field for the token
    limit (``max_completion_tokens`` for OpenAI's reasoning models); ``require_done_marker``
    makes a missing ``[DONE]`` a truncation even after a finish_reason. ``http_client`` is
    used as given and not closed by ``aclose()``; without one the upstream makes (and owns)
    its own. ``extra_headers`` are added to every request (e.g. ``OpenAI-Organization``).

    The request body carries the messages as given (content parts, ``tool_calls``,
    ``tool_call_id``, ``name``) and every parameter of ``ChatRequest.params`` verbatim
    (``max_completion_tokens`` included); ``max_tokens`` is sent as ``max_tokens_field``
    (when that is ``max_completion_tokens`` and the client gave both, the smaller wins).

    Another HTTP wire (the Anthropic upstream) subclasses it through ``endpoint``,
    ``_auth_headers``, ``_body``, ``_stream`` and ``_whole_answer``.
    """

    endpoint = "/chat/completions"
    """The path below ``base_url`` that requests are POSTed to."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model_map: Mapping[str, str] | None = None,
        connect_timeout: float | None = DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
        first_token_timeout: float | None = DEFAULT_UPSTREAM_FIRST_TOKEN_TIMEOUT,
        idle_timeout: float | None = DEFAULT_UPSTREAM_IDLE_TIMEOUT,
        after_finish_timeout: float | None = DEFAULT_AFTER_FINISH_TIMEOUT,
        include_usage: bool = True,
        max_tokens_field: str = "max_tokens",
        require_done_marker: bool = False,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        max_error_body: int = DEFAULT_MAX_ERROR_BODY,
        message_limit: int = DEFAULT_MESSAGE_LIMIT,
        extra_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        url = httpx.URL(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("first_token_timeout", first_token_timeout),
            ("idle_timeout", idle_timeout),
            ("after_finish_timeout", after_finish_timeout),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 or None")
        self.base_url = str(url)
        self.model_map = dict(model_map or {})
        self.connect_timeout = connect_timeout
        self.first_token_timeout = first_token_timeout
        self.idle_timeout = idle_timeout
        self.after_finish_timeout = after_finish_timeout
        self.include_usage = include_usage
        self.max_tokens_field = max_tokens_field
        self.require_done_marker = require_done_marker
        self.max_event_size = max_event_size
        self.max_error_body = max_error_body
        self.message_limit = message_limit
        self._api_key = api_key
        self._headers = {"Accept": "text/event-stream", **dict(extra_headers or {})}
        if api_key:
            self._headers.update(self._auth_headers(api_key))
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=self._timeouts(), limits=httpx.Limits(max_keepalive_connections=20)
        )
        self._where = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def _timeouts(self) -> httpx.Timeout:
        t = self.connect_timeout
        return httpx.Timeout(connect=t, read=None, write=t, pool=t)

    def upstream_model(self, model: str) -> str:
        """The upstream's name for our ``model``."""
        return self.model_map.get(model, model)

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.upstream_model(request.model),
            "messages": [m.to_json() for m in request.messages],
            "stream": True,
        }
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        body.update(request.params)
        if request.max_tokens is not None:
            limit = request.max_tokens
            given = request.params.get(self.max_tokens_field)
            if isinstance(given, int) and not isinstance(given, bool):
                limit = min(limit, given)
            body[self.max_tokens_field] = limit
        return body

    def _safe(self, text: str) -> str:
        return safe_message(text, limit=self.message_limit, secrets=(self._api_key,))

    async def open(self, request: ChatRequest) -> OpenedStream:
        """POST the request and wait for the response head; see ``UpstreamHTTPError``."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        http_request = self._client.build_request(
            "POST",
            f"{self.base_url}{self.endpoint}",
            content=orjson.dumps(self._body(request)),
            headers={**self._headers, "Content-Type": "application/json"},
            timeout=self._timeouts(),
        )
        try:
            async with asyncio.timeout(self.first_token_timeout):
                response = await self._client.send(http_request, stream=True)
        except TimeoutError:
            logger.warning("upstream %s: no response within first_token_timeout", self._where)
            raise UpstreamHTTPError(
                504,
                str(ErrorCode.UPSTREAM_TIMEOUT),
                f"the upstream did not answer within {self.first_token_timeout} s",
            ) from None
        except httpx.TimeoutException:
            logger.warning("upstream %s: connect timeout", self._where)
            raise UpstreamHTTPError(
                504, str(ErrorCode.UPSTREAM_TIMEOUT), "connecting to the upstream timed out"
            ) from None
        except httpx.HTTPError as exc:
            logger.warning("upstream %s: %s", self._where, type(exc).__name__)
            raise UpstreamHTTPError(
                504, str(ErrorCode.UPSTREAM_ERROR), "could not reach the upstream"
            ) from None
        if response.status_code != 200:
            await self._refuse(response)
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/json"):
            return await self._buffered(response)
        return self._stream(response, started)

    def _stream(self, response: httpx.Response, started: float) -> OpenedStream:
        return OpenAIStream(
            response,
            started=started,
            first_token_timeout=self.first_token_timeout,
            idle_timeout=self.idle_timeout,
            after_finish_timeout=self.after_finish_timeout,
            require_done_marker=self.require_done_marker,
            max_event_size=self.max_event_size,
            secrets=(self._api_key,),
            message_limit=self.message_limit,
        )

    async def _read_bounded(self, response: httpx.Response, limit: int) -> bytes | None:
        body = bytearray()
        try:
            async with asyncio.timeout(self.idle_timeout):
                async for piece in response.aiter_raw():
                    body += piece
                    if len(body) > limit:
                        return None
        except (TimeoutError, httpx.HTTPError):
            return None
        finally:
            await response.aclose()
        return bytes(body)

    async def _refuse(self, response: httpx.Response) -> None:
        upstream_status = response.status_code
        status, code = map_status(upstream_status)
        retry_after = parse_retry_after(response.headers)
        raw = await self._read_bounded(response, self.max_error_body)
        logger.warning("upstream %s refused the request: HTTP %d", self._where, upstream_status)
        if upstream_status in (401, 403, 407):
            message = f"the upstream rejected the gateway's credentials (HTTP {upstream_status})"
        elif upstream_status == 404:
            message = "the upstream does not know this model or path (HTTP 404)"
        else:
            text = self._safe(_error_text(_loads(raw) if raw else None))
            message = text or f"the upstream answered HTTP {upstream_status}"
        raise UpstreamHTTPError(status, code, message, retry_after, upstream_status=upstream_status)

    async def _buffered(self, response: httpx.Response) -> _BufferedStream:
        raw = await self._read_bounded(response, self.max_error_body * 16)
        obj = _loads(raw) if raw is not None else None
        if not isinstance(obj, dict):
            raise UpstreamHTTPError(
                502, str(ErrorCode.UPSTREAM_ERROR), "the upstream sent an unreadable answer"
            )
        if obj.get("error") is not None:
            raise UpstreamHTTPError(
                502,
                str(ErrorCode.UPSTREAM_ERROR),
                self._safe(_error_text(obj)) or "the upstream reported an error",
            )
        return _BufferedStream(self._whole_answer(obj))

    def _whole_answer(self, answer: Mapping[str, Any]) -> list[Event]:
        return _answer_events(answer)

    async def models(self) -> list[ModelInfo]:
        """``model_map``'s names, or (without a map) the upstream's ``GET /models`` ids.

        A failing upstream raises ``UpstreamHTTPError`` like ``open`` does.
        """
        if self.model_map:
            return [ModelInfo(name) for name in self.model_map]
        try:
            response = await self._client.get(
                f"{self.base_url}/models", headers=self._headers, timeout=self._timeouts()
            )
        except httpx.HTTPError:
            raise UpstreamHTTPError(
                504, str(ErrorCode.UPSTREAM_ERROR), "could not reach the upstream"
            ) from None
        if response.status_code != 200:
            status, code = map_status(response.status_code)
            raise UpstreamHTTPError(
                status,
                code,
                f"the upstream answered HTTP {response.status_code}",
                upstream_status=response.status_code,
            )
        obj = _loads(response.content)
        data = obj.get("data") if isinstance(obj, dict) else None
        if not isinstance(data, list):
            return []
        return [
            ModelInfo(m["id"], str(m.get("owned_by") or "upstream"))
            for m in data
            if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]

    async def aclose(self) -> None:
        """Close the HTTP client if this upstream made it."""
        if self._owns_client:
            await self._client.aclose()
