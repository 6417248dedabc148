"""A fake model server (OpenAI-compatible and Anthropic) that misbehaves on demand, for tests.

Strategy: ``FakeUpstream().app`` is a small Starlette app speaking the chat-completions wire
(``POST /v1/chat/completions`` streaming and non-streaming, ``GET /v1/models``; the same
without the ``/v1`` prefix) and Anthropic's Messages wire (``POST /v1/messages``, streaming
and not, with ``anthropic-version`` and the key as ``x-api-key`` or a bearer token, as the
``anthropic`` SDK sends it; ``surestream.testing._fake_anthropic``: ``event: ping`` instead
of ``: ping`` comments, ``event: error`` for ``error_after``). The same scenario plays on
either wire with its faults at the same points. Run it on loopback
with any ASGI server, e.g. ``uvicorn surestream.testing.fake_upstream:app``. Each request
plays a ``Scenario`` taken, first match wins, from

1. the request header ``X-Fake-Scenario: <spec>``,
2. the queue filled by ``FakeUpstream.enqueue(...)`` or ``POST /_fake/scenarios``
   (``{"spec": "..."}``), one scenario per request,
3. the model name, when it reads ``fake:<spec>`` (so a gateway's model map can pick faults),
4. the default scenario: a normal stream.

A spec is ``key=value`` pairs joined by commas, values URL-quoted: ``status=429,retry_after=7``
or ``stall_after=2`` or ``text=Hello%2C+world``; the keys are the fields of ``Scenario``
(``surestream.testing.scenario``).

Every request is recorded as a ``ReceivedRequest`` (path, headers, JSON body, scenario, and
how it ended: ``completed``, or ``client_closed`` when the client went away first, which the
fake notices while stalled too). Records live in ``FakeUpstream.requests`` (thread-safe to
read from the test's thread; ``wait_ended`` blocks until a request ended) and in
``GET /_fake/requests`` for a fake in another process. No sleeps are needed to synchronise:
every fault is an explicit point in the stream.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from surestream.dialects.openai import DONE_MARKER
from surestream.sse import HEARTBEAT, frame
from surestream.testing._fake_anthropic import (
    PING_EVENT,
    error_body,
    error_event,
    message,
    stream_parts,
    unsigned_thinking,
)
from surestream.testing.scenario import DEFAULT_TEXT, Scenario

__all__ = [
    "DEFAULT_TEXT",
    "FakeUpstream",
    "ReceivedRequest",
    "Scenario",
    "app",
]


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


async def _wait(
    seconds: float, ping: float | None, beat: bytes = HEARTBEAT
) -> AsyncIterator[bytes]:
    if not ping:
        await asyncio.sleep(seconds)
        return
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        await asyncio.sleep(min(ping, left))
        if end - loop.time() > 0:
            yield beat


async def _fragments(body: AsyncIterator[bytes], size: int | None) -> AsyncIterator[bytes]:
    async for piece in body:
        if not size:
            yield piece
            continue
        for start in range(0, len(piece), size):
            yield piece[start : start + size]


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
        routes += [
            Route(f"{prefix}/messages", self._messages, methods=["POST"]) for prefix in ("/v1", "")
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

    async def _receive(self, request: Request) -> tuple[ReceivedRequest, Any, Scenario]:
        """Read, pick the scenario and record one request."""
        raw = await request.body()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        try:
            scenario = self._pick(request, body)
        except ValueError as exc:
            scenario = Scenario(status=400, error_message=str(exc))
        return self._record(request, body, scenario), body, scenario

    @staticmethod
    def _json(record: ReceivedRequest, status: int, payload: Any, scenario: Scenario) -> _Exchange:
        headers = {"content-type": "application/json"}
        if status != 200 and scenario.retry_after is not None:
            headers["retry-after"] = scenario.retry_after

        async def one() -> AsyncIterator[bytes]:
            yield orjson.dumps(payload)

        return _Exchange(record, status, headers, one(), header_delay=scenario.header_delay)

    def _error(
        self, record: ReceivedRequest, status: int, message: str, scenario: Scenario
    ) -> _Exchange:
        payload = {"error": {"message": message, "type": "fake_error", "code": status}}
        return self._json(record, status, payload, scenario)

    @staticmethod
    def _streaming(record: ReceivedRequest, s: Scenario, body: AsyncIterator[bytes]) -> _Exchange:
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        return _Exchange(
            record,
            200,
            headers,
            _fragments(body, s.fragment),
            header_delay=s.header_delay,
            reset=s.reset and s.cut_after is not None,
        )

    async def _chat(self, request: Request) -> Response:
        record, body, scenario = await self._receive(request)
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
        head, pieces, error, tail = self._openai_parts(record, body, scenario)
        return self._streaming(record, scenario, self._play(scenario, head, pieces, error, tail))

    async def _messages(self, request: Request) -> Response:
        """``POST /v1/messages``: the scenario on Anthropic's wire."""
        record, body, s = await self._receive(request)
        keys = {request.headers.get("x-api-key"), request.headers.get("authorization")}
        if self.api_key is not None and not keys & {self.api_key, f"Bearer {self.api_key}"}:
            return self._json(record, 401, error_body(401, "invalid x-api-key"), Scenario())
        if "anthropic-version" not in request.headers:
            problem = "anthropic-version: header is required"
            return self._json(record, 400, error_body(400, problem), Scenario())
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("messages"), list)
            or type(body.get("max_tokens")) is not int
        ):
            problem = "a JSON object with messages and max_tokens is required"
            return self._json(record, 400, error_body(400, problem), Scenario())
        if s.status != 200:
            return self._json(record, s.status, error_body(s.status, s.error_message), s)
        refused = unsigned_thinking(body) if s.require_signature else None
        if refused is not None:
            return self._json(record, 400, error_body(400, refused), s)
        if not body.get("stream") or s.json_response:
            return self._json(record, 200, message(record.index, body, s), s)
        head, pieces, tail = stream_parts(record.index, body, s)
        error = error_event(s.error_type, s.error_message)
        return self._streaming(record, s, self._play(s, head, pieces, error, tail, PING_EVENT))

    def _complete(self, record: ReceivedRequest, body: dict[str, Any], s: Scenario) -> _Exchange:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(s.words())}
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
        return self._json(record, 200, payload, s)

    def _openai_parts(
        self, record: ReceivedRequest, body: dict[str, Any], s: Scenario
    ) -> tuple[list[bytes], list[bytes], bytes, list[bytes]]:
        """(head, pieces, error, tail) of a streamed chat completion."""
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

        head = [_sse(chunk_object({"role": "assistant", "content": ""}))] if s.role_chunk else []
        pieces = [_sse(chunk_object(delta)) for delta in _pieces(s)]
        error = _sse({"error": {"message": s.error_message, "type": "fake_error", "code": 500}})
        tail = []
        if s.finish:
            last = chunk_object({}, s.finish_reason_sent())
            if s.usage == "finish":
                last["usage"] = usage
            tail.append(_sse(last))
        if s.usage == "final" and include_usage:
            tail.append(_sse({**base, "choices": [], "usage": usage}))
        if s.done:
            tail.append(_DONE)
        return head, pieces, error + (_DONE if s.done else b""), tail

    @staticmethod
    async def _play(
        s: Scenario,
        head: list[bytes],
        pieces: list[bytes],
        error: bytes,
        tail: list[bytes],
        beat: bytes = HEARTBEAT,
    ) -> AsyncIterator[bytes]:
        """A stream with the scenario's faults at their points: ``head``, the counted
        ``pieces``, ``tail``; ``error`` ends it at ``error_after``; ``beat`` while waiting."""
        if s.first_delay:
            async for ping in _wait(s.first_delay, s.ping, beat):
                yield ping
        for part in head:
            yield part
        for index in range(len(pieces) + 1):
            if s.cut_after == index:
                return
            if s.error_after == index:
                yield error
                return
            if s.inject is not None and s.inject_after == index:
                yield s.inject.encode()
            if s.stall_after == index:
                async for ping in _wait(s.stall, s.ping, beat):
                    yield ping
            elif index and s.delay:
                await asyncio.sleep(s.delay)
            if index < len(pieces):
                yield pieces[index]
        for part in tail:
            yield part
        if s.hang:
            async for ping in _wait(s.stall, s.ping, beat):
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
