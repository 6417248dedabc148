"""A fake OpenAI-compatible model server that misbehaves on demand, for tests.

Strategy: ``FakeUpstream().app`` is a small Starlette app speaking the chat-completions wire
(``POST /v1/chat/completions`` streaming and non-streaming, ``GET /v1/models``; the same
without the ``/v1`` prefix). Run it on loopback with any ASGI server, e.g.
``uvicorn surestream.testing.fake_upstream:app``. Each request plays a ``Scenario`` taken,
first match wins, from

1. the request header ``X-Fake-Scenario: <spec>``,
2. the queue filled by ``FakeUpstream.enqueue(...)`` or ``POST /_fake/scenarios``
   (``{"spec": "..."}``), one scenario per request,
3. the model name, when it reads ``fake:<spec>`` (so a gateway's model map can pick faults),
4. the default scenario: a normal stream.

A spec is ``key=value`` pairs joined by commas, values URL-quoted: ``status=429,retry_after=7``
or ``stall_after=2`` or ``text=Hello%2C+world``; the keys are the fields of ``Scenario``.

Every request is recorded as a ``ReceivedRequest`` (path, headers, JSON body, scenario, and
how it ended: ``completed``, or ``client_closed`` when the client went away first, which the
fake notices while stalled too). Records live in ``FakeUpstream.requests`` (thread-safe to
read from the test's thread; ``wait_ended`` blocks until a request ended) and in
``GET /_fake/requests`` for a fake in another process. No sleeps are needed to synchronise:
every fault is an explicit point in the stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from surestream.dialects.openai import DONE_MARKER
from surestream.sse import HEARTBEAT, frame

__all__ = [
    "DEFAULT_TEXT",
    "FakeUpstream",
    "ReceivedRequest",
    "Scenario",
    "app",
]

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
        return _words(self.text)

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


@dataclass
class ReceivedRequest:
    """One request the fake received, and how its response ended."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    scenario: Scenario
    completed: bool = False
    client_closed: bool = False
    ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait_ended(self, timeout: float | None = None) -> bool:
        """Block until the response ended (sent whole, broken, or closed by the client)."""
        return self.ended.wait(timeout)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able summary (for ``GET /_fake/requests``)."""
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "scenario": self.scenario.spec(),
            "completed": self.completed,
            "client_closed": self.client_closed,
            "ended": self.ended.is_set(),
        }


class _Reset(Exception):
    """Raised inside the app to make the server break the connection mid-body."""


class _Exchange(Response):
    """Plays one response while watching for the client's disconnect."""

    def __init__(
        self,
        record: ReceivedRequest,
        status: int,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes],
        *,
        header_delay: float = 0.0,
        reset: bool = False,
    ) -> None:
        self.record = record
        self.status_code = status
        self._headers_out = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._body = body
        self._header_delay = header_delay
        self._reset = reset

    async def _pump(self, send: Send) -> None:
        if self._header_delay:
            await asyncio.sleep(self._header_delay)
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self._headers_out,
            }
        )
        async for piece in self._body:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        if self._reset:
            raise _Reset("fake upstream: connection reset on purpose")
        self.record.completed = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        pump = asyncio.ensure_future(self._pump(send))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not pump.done():
                self.record.client_closed = True
            for task in (pump, watcher):
                task.cancel()
            await asyncio.gather(pump, watcher, return_exceptions=True)
            self.record.ended.set()
        failure = None if pump.cancelled() else pump.exception()
        if failure is not None:
            raise failure


_DONE = frame(DONE_MARKER.encode())


def _sse(obj: Any) -> bytes:
    return frame(orjson.dumps(obj))


async def _wait(seconds: float, ping: float | None) -> AsyncIterator[bytes]:
    if not ping:
        await asyncio.sleep(seconds)
        return
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        await asyncio.sleep(min(ping, left))
        if end - loop.time() > 0:
            yield HEARTBEAT


async def _fragments(body: AsyncIterator[bytes], size: int | None) -> AsyncIterator[bytes]:
    async for piece in body:
        if not size:
            yield piece
            continue
        for start in range(0, len(piece), size):
            yield piece[start : start + size]


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(
        len(m["content"].split())
        for m in messages
        if isinstance(m, dict) and isinstance(m.get("content"), str)
    )


def _pieces(s: Scenario) -> list[dict[str, Any]]:
    """The deltas of a streamed answer: reasoning words, text words, tool-call fragments."""
    deltas: list[dict[str, Any]] = [{s.reasoning_field: w} for w in s.reasoning_words()]
    deltas += [{"content": w} for w in s.words()]
    step = max(s.args_piece, 1)
    for index, call in enumerate(s.calls()):
        function, arguments = call["function"], call["function"]["arguments"]
        first = {**call, "index": index, "function": {"name": function["name"], "arguments": ""}}
        deltas.append({"tool_calls": [first]})
        deltas += [
            {"tool_calls": [{"index": index, "function": {"arguments": arguments[i : i + step]}}]}
            for i in range(0, len(arguments), step)
        ]
    return deltas


class FakeUpstream:
    """The fake server: ``app`` to serve, ``requests`` to inspect, ``enqueue`` to script.

    ``models`` are listed by ``GET /v1/models``; with ``api_key`` set, requests without
    ``Authorization: Bearer <api_key>`` get OpenAI's 401 (whose message, like OpenAI's,
    echoes part of the presented key); ``default`` is the scenario when nothing else picks one.
    """

    def __init__(
        self,
        *,
        models: Iterable[str] = ("fake-model",),
        api_key: str | None = None,
        default: Scenario | None = None,
    ) -> None:
        self.models = list(models)
        self.api_key = api_key
        self.default = default or Scenario()
        self.requests: list[ReceivedRequest] = []
        self._queue: deque[Scenario] = deque()
        self._lock = threading.Lock()
        self._counter = itertools.count()
        routes = [
            Route(f"{prefix}/chat/completions", self._chat, methods=["POST"])
            for prefix in ("/v1", "")
        ]
        routes += [Route(f"{prefix}/models", self._models) for prefix in ("/v1", "")]
        routes += [
            Route("/_fake/requests", self._list_requests),
            Route("/_fake/scenarios", self._enqueue, methods=["POST"]),
            Route("/_fake/reset", self._reset, methods=["POST"]),
        ]
        self.app = Starlette(routes=routes)

    def enqueue(self, *scenarios: Scenario | str) -> None:
        """Queue scenarios (or specs) for the next requests, one each, in order."""
        with self._lock:
            for s in scenarios:
                self._queue.append(Scenario.parse(s) if isinstance(s, str) else s)

    def reset(self) -> None:
        """Forget the recorded requests and the queued scenarios."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()

    @property
    def last(self) -> ReceivedRequest:
        """The most recent request (IndexError when none came)."""
        with self._lock:
            return self.requests[-1]

    def _pick(self, request: Request, body: Any) -> Scenario:
        header = request.headers.get("x-fake-scenario")
        if header is not None:
            return Scenario.parse(header)
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and model.startswith("fake:"):
            return Scenario.parse(model[len("fake:") :])
        return self.default

    def _record(self, request: Request, body: Any, scenario: Scenario) -> ReceivedRequest:
        record = ReceivedRequest(
            next(self._counter),
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            scenario,
        )
        with self._lock:
            self.requests.append(record)
        return record

    def _error(
        self, record: ReceivedRequest, status: int, message: str, scenario: Scenario
    ) -> _Exchange:
        headers = {"content-type": "application/json"}
        if scenario.retry_after is not None:
            headers["retry-after"] = scenario.retry_after
        payload = {"error": {"message": message, "type": "fake_error", "code": status}}

        async def body() -> AsyncIterator[bytes]:
            yield orjson.dumps(payload)

        return _Exchange(record, status, headers, body(), header_delay=scenario.header_delay)

    async def _chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        try:
            scenario = self._pick(request, body)
        except ValueError as exc:
            scenario = Scenario(status=400, error_message=str(exc))
        record = self._record(request, body, scenario)
        if self.api_key is not None:
            given = request.headers.get("authorization", "")
            if given != f"Bearer {self.api_key}":
                shown = given.removeprefix("Bearer ")
                message = f"Incorrect API key provided: {shown[:3]}***{shown[-4:]}."
                return self._error(record, 401, message, Scenario())
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(record, 400, "body must be a JSON object with messages", Scenario())
        if scenario.status != 200:
            return self._error(record, scenario.status, scenario.error_message, scenario)
        if not body.get("stream") or scenario.json_response:
            return self._complete(record, body, scenario)
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        return _Exchange(
            record,
            200,
            headers,
            _fragments(self._stream(record, body, scenario), scenario.fragment),
            header_delay=scenario.header_delay,
            reset=scenario.reset and scenario.cut_after is not None,
        )

    def _complete(self, record: ReceivedRequest, body: dict[str, Any], s: Scenario) -> _Exchange:
        message: dict[str, Any] = {"role": "assistant", "content": s.text}
        if s.reasoning:
            message[s.reasoning_field] = s.reasoning
        if s.tool_calls:
            message["tool_calls"] = s.calls()
        payload = {
            "id": f"chatcmpl-fake{record.index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": s.finish_reason_sent()}],
            "usage": s.usage_of(body),
        }

        async def one() -> AsyncIterator[bytes]:
            yield orjson.dumps(payload)

        headers = {"content-type": "application/json"}
        return _Exchange(record, 200, headers, one(), header_delay=s.header_delay)

    async def _stream(
        self, record: ReceivedRequest, body: dict[str, Any], s: Scenario
    ) -> AsyncIterator[bytes]:
        base = {
            "id": f"chatcmpl-fake{record.index}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        usage = s.usage_of(body)

        def chunk_object(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            obj: dict[str, Any] = {**base, "choices": [choice]}
            if include_usage:
                obj["usage"] = None
            return obj

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _sse(chunk_object(delta, finish))

        pieces = _pieces(s)
        if s.first_delay:
            async for ping in _wait(s.first_delay, s.ping):
                yield ping
        if s.role_chunk:
            yield chunk({"role": "assistant", "content": ""})
        for index in range(len(pieces) + 1):
            if s.cut_after == index:
                return
            if s.error_after == index:
                error = {"message": s.error_message, "type": "fake_error", "code": 500}
                yield _sse({"error": error})
                if s.done:
                    yield _DONE
                return
            if s.inject is not None and s.inject_after == index:
                yield s.inject.encode()
            if s.stall_after == index:
                async for ping in _wait(s.stall, s.ping):
                    yield ping
            elif index and s.delay:
                await asyncio.sleep(s.delay)
            if index < len(pieces):
                yield chunk(pieces[index])
        if s.finish:
            last = chunk_object({}, s.finish_reason_sent())
            if s.usage == "finish":
                last["usage"] = usage
            yield _sse(last)
        if s.usage == "final" and include_usage:
            yield _sse({**base, "choices": [], "usage": usage})
        if s.done:
            yield _DONE
        if s.hang:
            async for ping in _wait(s.stall, s.ping):
                yield ping

    async def _models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _list_requests(self, request: Request) -> Response:
        with self._lock:
            records = list(self.requests)
        return JSONResponse([r.to_json() for r in records])

    async def _enqueue(self, request: Request) -> Response:
        try:
            obj = orjson.loads(await request.body())
            self.enqueue(str(obj["spec"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": {"message": str(exc)}}, status_code=400)
        return JSONResponse({"queued": True})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"reset": True})


app = FakeUpstream().app
"""A ready instance for ``uvicorn surestream.testing.fake_upstream:app``."""
