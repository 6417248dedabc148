"""The server apps of ``benchmarks/load.py``, as uvicorn factories.

- ``gateway``: the surestream gateway (``create_app``) with the stamped demo model as its
  ``demo`` upstream, on the store named by ``LOAD_STORE`` (``memory`` or a ``redis://`` URL).
  The only settings changed from the defaults are the stream-count limits, so the load is not
  refused (``max_streams``, ``max_streams_per_key``) and the log level.
- ``starlette``: what users typically run today, a FastAPI endpoint that validates the same
  request body with pydantic and streams the same demo model's events through sse-starlette's
  ``EventSourceResponse``: a dict per event, ``json.dumps`` data, an id per event, library
  defaults otherwise (15 s ping, ``\\r\\n`` line separator).

In front of an HTTP upstream (``load.py --upstream http``; the upstream is
``_load_upstream.py`` in its own process, its base URL in ``LOAD_UPSTREAM``):

- ``gateway_http``: the gateway with that upstream as its only one (model ``demo`` routed to
  it), the same settings as ``gateway`` otherwise;
- ``proxy``: what users hand-write today, a FastAPI endpoint that validates the body, POSTs it
  upstream with one shared ``httpx.AsyncClient`` and re-yields every non-empty line of the
  upstream's body (``aiter_lines``) through a Starlette ``StreamingResponse``;
- ``proxy_sse``: the same through sse-starlette's ``EventSourceResponse`` (each ``data:``
  line's payload as an event's data).

The demo apps read the demo's pace and answer length from the environment (``LOAD_TPS``,
``LOAD_TOKENS``); a request's ``max_tokens`` shortens the answer (the warm-up uses it). The
stamped demo's words are never sent (each token's text is its stamp), so ``StampedDemo``
does not compose them: the built-in demo keeps every word of its answer for the whole stream
(about 60 bytes a word), which a real upstream (an HTTP response read as it arrives) does
not, and which would otherwise count in both apps' RSS per stream.

Run: ``uvicorn _load_apps:gateway --factory --app-dir benchmarks`` (``load.py`` does it).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.responses import StreamingResponse

from surestream.events import Done, Error, Text
from surestream.gateway.app import create_app
from surestream.gateway.settings import Settings
from surestream.upstream import ChatMessage, ChatRequest, DemoModel

STREAM_LIMIT = 1_000_000
"""``max_streams`` and ``max_streams_per_key`` of the gateway under load: no refusals."""


class StampedDemo(DemoModel):
    """The stamped demo model without the answer's words (see the module docstring)."""

    def answer(self, request: ChatRequest) -> list[str]:
        """``answer_tokens`` references to one empty word."""
        return [""] * (self.answer_tokens or 1)


def _demo() -> DemoModel:
    return StampedDemo(
        tokens_per_second=float(os.environ.get("LOAD_TPS", "30")),
        answer_tokens=int(os.environ.get("LOAD_TOKENS", "300")),
        max_tokens=None,
        stamp=True,
    )


def _settings(**changes: Any) -> Settings:
    return Settings(
        store=os.environ.get("LOAD_STORE", "memory"),
        max_streams=STREAM_LIMIT,
        max_streams_per_key=STREAM_LIMIT,
        log_level="warning",
        **changes,
    )


def gateway() -> FastAPI:
    """The surestream gateway serving the stamped demo model."""
    return create_app(_settings(), upstreams={"demo": _demo()})


def gateway_http() -> FastAPI:
    """The surestream gateway in front of the HTTP upstream at ``LOAD_UPSTREAM``."""
    settings = _settings(
        demo=False, upstreams={"up": os.environ["LOAD_UPSTREAM"]}, models={"demo": "up:load"}
    )
    return create_app(settings)


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatBody(BaseModel):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)


def starlette() -> FastAPI:
    """A typical FastAPI + sse-starlette streaming endpoint over the same demo model."""
    model = _demo()
    app = FastAPI()

    @app.post("/v1/chat/stream")
    async def chat_stream(body: ChatBody) -> EventSourceResponse:
        request = ChatRequest(
            model=body.model,
            messages=[ChatMessage(m.role, m.content) for m in body.messages],
            max_tokens=body.max_tokens,
        )
        stream = await model.open(request)

        async def events() -> AsyncIterator[dict[str, str]]:
            seq = 0
            data: dict[str, object]
            async with stream:
                async for event in stream:
                    seq += 1
                    if isinstance(event, Text):
                        data = {"type": "text", "text": event.text}
                    elif isinstance(event, Done):
                        data = {"type": "done", "done": True, "finish_reason": event.finish_reason}
                    elif isinstance(event, Error):
                        data = {"type": "error", "error": {"code": event.code}}
                    else:
                        continue
                    yield {"id": str(seq), "data": json.dumps(data)}

        return EventSourceResponse(events())

    return app


def _upstream_client() -> tuple[httpx.AsyncClient, str]:
    """One pooled client for the whole app (as users write it), and the upstream's URL."""
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, read=300.0),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=STREAM_LIMIT),
    )
    return client, os.environ["LOAD_UPSTREAM"] + "/chat/completions"


async def _open_upstream(client: httpx.AsyncClient, url: str, body: ChatBody) -> httpx.Response:
    payload = {**body.model_dump(exclude_none=True), "stream": True}
    return await client.send(client.build_request("POST", url, json=payload), stream=True)


def proxy() -> FastAPI:
    """FastAPI + httpx re-yielding the upstream's lines through a ``StreamingResponse``."""
    client, url = _upstream_client()
    app = FastAPI()

    @app.post("/v1/chat/stream")
    async def chat_stream(body: ChatBody) -> StreamingResponse:
        upstream = await _open_upstream(client, url, body)

        async def lines() -> AsyncIterator[str]:
            try:
                async for line in upstream.aiter_lines():
                    if line:
                        yield line + "\n\n"
            finally:
                await upstream.aclose()

        return StreamingResponse(lines(), media_type="text/event-stream")

    return app


def proxy_sse() -> FastAPI:
    """The same proxy through sse-starlette's ``EventSourceResponse``."""
    client, url = _upstream_client()
    app = FastAPI()

    @app.post("/v1/chat/stream")
    async def chat_stream(body: ChatBody) -> EventSourceResponse:
        upstream = await _open_upstream(client, url, body)

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                async for line in upstream.aiter_lines():
                    if line.startswith("data: "):
                        yield {"data": line[6:]}
            finally:
                await upstream.aclose()

        return EventSourceResponse(events())

    return app
