"""Any server that speaks the OpenAI chat-completions wire: OpenAI, vLLM, Ollama, llama.cpp
server, LiteLLM, ...

Strategy: ``open`` POSTs ``{base_url}/chat/completions`` with ``stream: true`` (and
``stream_options.include_usage``) and waits for the response head, bounded by
``first_token_timeout``; a non-200 status is read (bounded), closed and mapped to
``UpstreamHTTPError`` (see ``map_status``); a JSON answer (a server that ignores ``stream``)
is replayed as events. The returned ``OpenAIStream`` (``openai_stream``) yields the answer's
events; what the body means -- events, the verdict when it ends, which deadline runs -- is
``openai_answer.AnswerReader``'s.

The request to an ``http://`` upstream (vLLM, Ollama, a LAN or sidecar server) goes out on a
connection of its own (``_http1``: the body is pushed into the reader as it arrives, one
timer per stream), unless the upstream was given an ``http_client`` or an environment proxy
applies to it: then through httpx. An ``https://`` upstream goes through httpx too: its pool
keeps connections alive, and a TLS handshake per answer (``_http1`` opens one connection per
request) would cost each answer's first token more than the per-token path saves.

Timeouts (``None`` = never): ``connect_timeout`` for TCP/TLS (and writing the request);
``first_token_timeout`` from sending the request until the first data chunk (the response
head included: exceeding it before the head is a 504 ``UpstreamHTTPError``, after it a
``SourceFailed("upstream_timeout")``); ``idle_timeout`` between data chunks afterwards;
``after_finish_timeout`` after a finish_reason for the usage chunk and ``[DONE]``. SSE
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
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Mapping
from typing import Any

from surestream._extras import needs

with needs("client", __name__):
    import httpx

import orjson

from surestream.dialects.openai import OpenAIDecoder
from surestream.events import ErrorCode, Event
from surestream.sse import DEFAULT_MAX_EVENT_SIZE
from surestream.upstream._http1 import UpstreamConnection, open_connection
from surestream.upstream.base import (
    DEFAULT_MESSAGE_LIMIT,
    ChatRequest,
    ModelInfo,
    OpenedStream,
    UpstreamHTTPError,
    safe_message,
)
from surestream.upstream.openai_answer import AnswerReader, ChunkDecoder, answer_events
from surestream.upstream.openai_stream import BufferedStream, HttpxBody, LiveBody, OpenAIStream

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


def _proxied(url: httpx.URL) -> bool:
    """Whether an environment proxy (``HTTP(S)_PROXY``, ``ALL_PROXY``, not ``NO_PROXY``)
    applies to ``url``, as httpx reads them."""
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(url.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(url.host)


def _loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


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
    ``tool_call_id``, ``name``) and every OpenAI parameter of ``ChatRequest.params`` verbatim
    (``max_completion_tokens`` included; ``ChatRequest.openai_params``); ``max_tokens`` is
    sent as ``max_tokens_field`` (when that is ``max_completion_tokens`` and the client gave
    both, the smaller wins).

    Another HTTP wire (the Anthropic upstream) subclasses it through ``endpoint``,
    ``reader_class``, ``_auth_headers``, ``_body``, ``_chunk_decoder`` and ``_whole_answer``.
    """

    endpoint = "/chat/completions"
    """The path below ``base_url`` that requests are POSTed to."""

    reader_class: type[AnswerReader] = AnswerReader
    """What reads an answer's body (its events, verdict and deadlines)."""

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
        self._live = http_client is None and url.scheme == "http" and not _proxied(url)
        """Requests go out on connections of our own (``_http1``), not through httpx."""
        self._url = url
        self._ssl: ssl.SSLContext | None = None
        self._raw_headers = [
            (b"Host", url.netloc),
            (b"User-Agent", b"surestream"),
            *((name.encode(), value.encode()) for name, value in self._headers.items()),
            (b"Content-Type", b"application/json"),
        ]
        self._client = http_client or httpx.AsyncClient(
            timeout=self._timeouts(), limits=httpx.Limits(max_keepalive_connections=20)
        )
        self._where = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def _chunk_decoder(self) -> ChunkDecoder:
        return OpenAIDecoder(lenient=True)

    def _whole_answer(self, answer: Mapping[str, Any]) -> list[Event]:
        return answer_events(answer)

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
        body.update(request.openai_params)
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
        started = asyncio.get_running_loop().time()
        content = orjson.dumps(self._body(request))
        if self._live:
            return await self._open_live(content, started)
        return await self._open_httpx(content, started)

    def _reader(self, started: float) -> AnswerReader:
        return self.reader_class(
            started=started,
            first_token_timeout=self.first_token_timeout,
            idle_timeout=self.idle_timeout,
            after_finish_timeout=self.after_finish_timeout,
            require_done_marker=self.require_done_marker,
            max_event_size=self.max_event_size,
            secrets=(self._api_key,),
            message_limit=self.message_limit,
            decoder=self._chunk_decoder(),
        )

    def _no_answer(self) -> UpstreamHTTPError:
        logger.warning("upstream %s: no response within first_token_timeout", self._where)
        return UpstreamHTTPError(
            504,
            str(ErrorCode.UPSTREAM_TIMEOUT),
            f"the upstream did not answer within {self.first_token_timeout} s",
        )

    def _connect_timed_out(self) -> UpstreamHTTPError:
        logger.warning("upstream %s: connect timeout", self._where)
        return UpstreamHTTPError(
            504, str(ErrorCode.UPSTREAM_TIMEOUT), "connecting to the upstream timed out"
        )

    def _unreachable(self, exc: BaseException) -> UpstreamHTTPError:
        logger.warning("upstream %s: %s", self._where, type(exc).__name__)
        return UpstreamHTTPError(504, str(ErrorCode.UPSTREAM_ERROR), "could not reach the upstream")

    async def _connect(self) -> UpstreamConnection:
        url = self._url
        tls = url.scheme == "https"
        if tls and self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        try:
            return await open_connection(
                url.host, url.port or (443 if tls else 80), self._ssl, self.connect_timeout
            )
        except TimeoutError:
            raise self._connect_timed_out() from None
        except OSError as exc:
            raise self._unreachable(exc) from None

    async def _open_live(self, content: bytes, started: float) -> OpenedStream:
        try:
            async with asyncio.timeout(self.first_token_timeout):
                conn = await self._connect()
                try:
                    target = httpx.URL(f"{self.base_url}{self.endpoint}").raw_path
                    conn.send_request(target, self._raw_headers, content)
                    head = await conn.head
                except BaseException:
                    conn.close()
                    raise
        except TimeoutError:
            raise self._no_answer() from None
        except ConnectionError as exc:
            raise self._unreachable(exc) from None
        headers = httpx.Headers(list(head.headers))
        if head.status_code != 200:
            raw = await self._bounded(conn.read_all(self.max_error_body))
            raise self._refusal(head.status_code, headers, raw)
        if headers.get("content-type", "").startswith("application/json"):
            return self._buffered(await self._bounded(conn.read_all(self.max_error_body * 16)))
        reader = self._reader(started)
        return OpenAIStream(LiveBody(conn, reader), reader)

    async def _open_httpx(self, content: bytes, started: float) -> OpenedStream:
        http_request = self._client.build_request(
            "POST",
            f"{self.base_url}{self.endpoint}",
            content=content,
            headers={**self._headers, "Content-Type": "application/json"},
            timeout=self._timeouts(),
        )
        try:
            async with asyncio.timeout(self.first_token_timeout):
                response = await self._client.send(http_request, stream=True)
        except TimeoutError:
            raise self._no_answer() from None
        except httpx.TimeoutException:
            raise self._connect_timed_out() from None
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status_code != 200:
            raw = await self._read_bounded(response, self.max_error_body)
            raise self._refusal(response.status_code, response.headers, raw)
        if response.headers.get("content-type", "").startswith("application/json"):
            return self._buffered(await self._read_bounded(response, self.max_error_body * 16))
        reader = self._reader(started)
        return OpenAIStream(HttpxBody(response), reader)

    async def _bounded(self, read: Awaitable[bytes | None]) -> bytes | None:
        try:
            async with asyncio.timeout(self.idle_timeout):
                return await read
        except TimeoutError:
            return None

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

    def _refusal(
        self, upstream_status: int, headers: httpx.Headers, raw: bytes | None
    ) -> UpstreamHTTPError:
        status, code = map_status(upstream_status)
        retry_after = parse_retry_after(headers)
        logger.warning("upstream %s refused the request: HTTP %d", self._where, upstream_status)
        if upstream_status in (401, 403, 407):
            message = f"the upstream rejected the gateway's credentials (HTTP {upstream_status})"
        elif upstream_status == 404:
            message = "the upstream does not know this model or path (HTTP 404)"
        else:
            text = self._safe(_error_text(_loads(raw) if raw else None))
            message = text or f"the upstream answered HTTP {upstream_status}"
        return UpstreamHTTPError(
            status, code, message, retry_after, upstream_status=upstream_status
        )

    def _buffered(self, raw: bytes | None) -> BufferedStream:
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
        return BufferedStream(self._whole_answer(obj))

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
