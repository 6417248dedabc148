"""The gateway's HTTP API: FastAPI routes over ``Gateway``.

Strategy: routes are thin. Each authenticates (``surestream.gateway.callers``:
``Authorization: Bearer`` for every ``/v1`` route; a stream's read token is also accepted
where a browser ``EventSource`` must read), validates its body with pydantic, calls
``Gateway`` and answers with JSON or an ``EventStreamResponse``. Every failure is a JSON
``ErrorBody`` (see ``surestream.gateway.errors``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from importlib import resources
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from surestream.dialects import DIALECTS
from surestream.dialects import Dialect as AnyDialect
from surestream.dialects.openai import OpenAIDialect
from surestream.dialects.vercel_ai import VercelAIDialect
from surestream.gateway import _gc
from surestream.gateway.auth import (
    ANONYMOUS,
    READ_TOKEN_COOKIE,
    READ_TOKEN_HEADER,
)
from surestream.gateway.callers import Owner, Reader, gateway_of
from surestream.gateway.completions import anthropic_message, completion
from surestream.gateway.errors import (
    MAPPED_ERRORS,
    ApiError,
    BodyLimitMiddleware,
    api_error,
    install_error_handlers,
    retry_later,
)
from surestream.gateway.logs import install_log_redaction
from surestream.gateway.messages_api import AnthropicErrorBody, AnthropicMessage, MessagesRequest
from surestream.gateway.metrics import CONTENT_TYPE
from surestream.gateway.models import (
    ChatCompletionRequest,
    ErrorBody,
    ModelCard,
    ModelList,
    StreamCreated,
    StreamRequest,
)
from surestream.gateway.openapi import install_openapi
from surestream.gateway.service import Gateway
from surestream.gateway.settings import Settings
from surestream.gateway.ui_chat import UIChatRequest, chat_link_name, message_link_name
from surestream.lifecycle import MAX_SEQ_DIGITS
from surestream.server import DetachStreams, EventStreamResponse
from surestream.store import (
    StoreUnavailable,
    StreamExpired,
    StreamNotFound,
    TooManySubscribers,
    parse_last_event_id,
)
from surestream.upstream import Upstream

__all__ = ["create_app"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 410, 413, 422, 429, 502, 503, 504)
}
UI_CHAT_LINK_TTL = 3600.0
"""Seconds beyond ``retention`` that a chat's link to its latest stream lives (the longest
answer ``GET /v1/ui/chat/{id}/stream`` can still find running)."""

_SSE = {"content": {"text/event-stream": {}}, "description": "the stream as Server-Sent Events"}
_MESSAGES: dict[int | str, dict[str, Any]] = {
    **{status: {"model": AnthropicErrorBody} for status in _ERRORS},
    200: {
        "model": AnthropicMessage,
        "content": {"text/event-stream": {}},
        "description": "the message streamed (``stream: true``) or whole",
    },
}


RELAY_DIALECTS: dict[str, AnyDialect] = {
    **DIALECTS,
    "openai": OpenAIDialect(forward_tool_calls=True),
}
"""The dialects the gateway writes, by name: the registry's, except that its ``openai``
streams carry tool calls, which a model's answer relayed unchanged asks the client to run
(``OpenAIDialect(forward_tool_calls=True)``)."""

DialectName = Literal["native", "openai", "vercel-ai", "anthropic"]
"""The dialects ``?dialect=`` selects (``surestream.dialects.DIALECTS``)."""


def _dialect(
    dialect: Annotated[
        str,
        Query(description="wire dialect", json_schema_extra={"enum": list(get_args(DialectName))}),
    ] = "native",
) -> str:
    if dialect not in DIALECTS:
        known = ", ".join(sorted(DIALECTS))
        message = f"unknown dialect {dialect!r} (known: {known})"
        raise ApiError(400, "invalid_dialect", message, field="dialect")
    return dialect


Dialect = Annotated[str, Depends(_dialect)]
"""The ``?dialect=`` of a streaming route: a known dialect, else 400 naming the known ones."""


_RESUME_ID: dict[str, Any] = {
    "description": "the id of the last event you have (the header wins); 400 if it is not "
    "a decimal event number of this stream",
    "json_schema_extra": {"pattern": rf"^\s*(-1|[0-9]{{1,{MAX_SEQ_DIGITS}}})?\s*$"},
}


def _events_url(stream_id: str) -> str:
    return f"/v1/streams/{stream_id}/events"


async def _subscribe_response(
    gateway: Gateway,
    stream_id: str,
    model: str | None,
    *,
    after: int | None,
    dialect: str = "native",
    headers: Mapping[str, str] | None = None,
    cancel_on_disconnect: bool = False,
    encoding: AnyDialect | None = None,
) -> EventStreamResponse:
    """``stream_id`` from ``after`` in ``dialect`` (encoded by ``encoding``, a configured
    instance of it, when given)."""
    settings = gateway.settings
    try:
        subscription, history = await gateway.hub.subscribe_in(dialect, stream_id, after)
    except TooManySubscribers:
        message = f"stream has max_subscribers ({settings.max_subscribers}) readers"
        raise retry_later(429, "rate_limited", message) from None
    except MAPPED_ERRORS as exc:
        raise api_error(exc, stream_id) from None
    metrics = gateway.metrics
    metrics.active_subscribers.inc()
    metrics.events_sent.track(subscription, dialect)

    async def on_close(verdict: object) -> None:
        metrics.active_subscribers.dec()
        metrics.events_sent.untrack(subscription)
        if verdict is None and cancel_on_disconnect:
            with suppress(StreamNotFound, StreamExpired, StoreUnavailable):
                await gateway.hub.cancel(stream_id)

    return EventStreamResponse(
        subscription,  # closed by the response: no longer a reader, the orphan clock may start
        dialect=encoding or RELAY_DIALECTS[dialect],
        headers=headers,
        heartbeat=settings.heartbeat,
        send_timeout=settings.send_timeout,
        idle_timeout=None,
        stream_id=stream_id,
        model=model,
        journal=True,
        first_seq=0 if after is None else after + 1,
        history=history,
        on_close=on_close,
    )


def _api_router() -> APIRouter:
    router = APIRouter(prefix="/v1", responses=_ERRORS)

    @router.get("/models", response_model=ModelList, tags=["models"])
    async def list_models(request: Request, owner: Owner) -> ModelList:
        """The models this gateway serves (the OpenAI list shape)."""
        names = gateway_of(request).model_names()
        return ModelList(data=[ModelCard(id=name) for name in names])

    @router.get("/models/{model_id:path}", response_model=ModelCard, tags=["models"])
    async def retrieve_model(request: Request, model_id: str, owner: Owner) -> ModelCard:
        """One model (the openai SDKs' ``models.retrieve``); 404 for one not served here."""
        if model_id not in gateway_of(request).model_names():
            raise ApiError(404, "model_not_found", f"model {model_id!r} is not served here")
        return ModelCard(id=model_id)

    @router.post("/streams", status_code=201, response_model=StreamCreated, tags=["streams"])
    async def create_stream(request: Request, body: StreamRequest, owner: Owner) -> JSONResponse:
        """Validate the request, start generating, and return where to read the stream."""
        gateway = gateway_of(request)
        stream_id = await _start(gateway, owner, body)
        created = _created(gateway, stream_id, owner)
        return JSONResponse(
            created.model_dump(exclude_none=True),
            status_code=201,
            headers={"Location": created.events_url, **_token_cookie(request, created)},
        )

    @router.get(
        "/streams/{stream_id}/events",
        response_class=Response,
        responses={200: _SSE, 204: {"description": "Last-Event-ID is the terminal event"}},
        tags=["streams"],
    )
    async def stream_events(
        request: Request,
        stream_id: str,
        owner: Reader,
        dialect: Dialect,
        last_event_id: Annotated[str, Query(**_RESUME_ID)] = "",
        last_event_id_header: Annotated[str, Header(alias="Last-Event-ID", **_RESUME_ID)] = "",
    ) -> Response:
        """The stream as SSE from its start, or after ``Last-Event-ID`` (header or query)."""
        gateway = gateway_of(request)
        info = await gateway.owned_info(stream_id, owner)
        after = parse_last_event_id(last_event_id_header, last_event_id)
        if info.terminal and after is not None and after == info.length - 1:
            return Response(status_code=204)
        return await _subscribe_response(
            gateway, stream_id, info.model, after=after, dialect=dialect
        )

    @router.delete("/streams/{stream_id}", tags=["streams"])
    async def cancel_stream(request: Request, stream_id: str, owner: Owner) -> dict[str, Any]:
        """Cancel: subscribers get ``done`` with ``finish_reason: "cancelled"``."""
        gateway = gateway_of(request)
        await gateway.owned_info(stream_id, owner)
        cancelled = await gateway.hub.cancel(stream_id)
        return {"id": stream_id, "cancelled": cancelled}

    @router.post("/chat/stream", response_class=Response, responses={200: _SSE}, tags=["streams"])
    async def chat_stream(
        request: Request, body: StreamRequest, owner: Owner, dialect: Dialect
    ) -> Response:
        """Create and read a stream in one request (in ``?dialect=``); ``Location`` names its
        events URL (native; add the same ``?dialect=`` to resume in this one)."""
        gateway = gateway_of(request)
        stream_id = await _start(gateway, owner, body)
        created = _created(gateway, stream_id, owner)
        headers = {"Location": created.events_url, "Surestream-Stream-Id": stream_id}
        if created.read_token:
            headers[READ_TOKEN_HEADER] = created.read_token
            headers.update(_token_cookie(request, created))
        return await _subscribe_response(
            gateway, stream_id, body.model, after=None, dialect=dialect, headers=headers
        )

    @router.post(
        "/chat/completions", response_class=Response, responses={200: _SSE}, tags=["openai"]
    )
    async def chat_completions(
        request: Request, body: ChatCompletionRequest, owner: Owner
    ) -> Response:
        """OpenAI-compatible chat completions, streamed (``stream: true``) or whole."""
        gateway = gateway_of(request)
        upstream, chat = gateway.chat_request(body)
        if not body.stream:
            return JSONResponse(await completion(gateway, owner, upstream, chat))
        stream_id = await gateway.start_stream(owner, upstream, chat)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await _subscribe_response(
            gateway,
            stream_id,
            body.model,
            after=None,
            dialect="openai",
            encoding=OpenAIDialect(forward_tool_calls=True, include_usage=include_usage),
            cancel_on_disconnect=True,
        )

    @router.post(
        "/messages",
        response_class=Response,
        responses=_MESSAGES,
        tags=["anthropic"],
    )
    async def messages(request: Request, body: MessagesRequest, owner: Owner) -> Response:
        """The Anthropic Messages API, streamed (``stream: true``) or whole; errors in its
        shape."""
        gateway = gateway_of(request)
        try:
            chat_body = body.chat_parameters()
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        upstream, chat = gateway.chat_request(chat_body)
        chat = replace(chat, params={**chat.params, **body.anthropic_params()})
        if not body.stream:
            return JSONResponse(await anthropic_message(gateway, owner, upstream, chat))
        stream_id = await gateway.start_stream(owner, upstream, chat)
        return await _subscribe_response(
            gateway,
            stream_id,
            body.model,
            after=None,
            dialect="anthropic",
            cancel_on_disconnect=True,
        )

    @router.post("/ui/chat", response_class=Response, responses={200: _SSE}, tags=["ui"])
    async def ui_chat(request: Request, body: UIChatRequest, owner: Owner) -> Response:
        """The AI SDK's ``useChat`` (``DefaultChatTransport``): its chat request in, the UI
        message stream out, journaled; ``GET /v1/ui/chat/{id}/stream`` resumes it."""
        gateway = gateway_of(request)
        names = gateway.model_names()
        limit = gateway.settings.max_messages
        if len(body.messages) > limit:
            message = f"messages: at most {limit} messages (max_messages)"
            raise ApiError(422, "invalid_request", message, field="messages")
        try:
            stream_body = body.stream_request(names[0])
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        stream_id = await _start(gateway, owner, stream_body, step=True)
        continued = body.continued_message_id()
        link_ttl = gateway.settings.retention + UI_CHAT_LINK_TTL
        await gateway.hub.store.link(chat_link_name(owner, body.id), stream_id, link_ttl)
        if continued is not None:
            await gateway.hub.store.link(message_link_name(stream_id), continued, link_ttl)
        headers = {"Location": _events_url(stream_id), "Surestream-Stream-Id": stream_id}
        return await _subscribe_response(
            gateway,
            stream_id,
            stream_body.model,
            after=None,
            dialect="vercel-ai",
            headers=headers,
            encoding=VercelAIDialect(message_id=continued),
        )

    @router.get(
        "/ui/chat/{chat_id}/stream",
        response_class=Response,
        responses={200: _SSE, 204: {"description": "the chat has no running stream"}},
        tags=["ui"],
    )
    async def ui_chat_stream(request: Request, chat_id: str, owner: Owner) -> Response:
        """The chat's running stream from its start (``useChat`` with ``resume: true``), or
        204 when it has none."""
        gateway = gateway_of(request)
        stream_id = await gateway.hub.store.resolve(chat_link_name(owner, chat_id))
        if stream_id is None:
            return Response(status_code=204)
        try:
            info = await gateway.owned_info(stream_id, owner)
        except (StreamNotFound, StreamExpired):
            return Response(status_code=204)
        if info.terminal:
            return Response(status_code=204)
        continued = await gateway.hub.store.resolve(message_link_name(stream_id))
        return await _subscribe_response(
            gateway,
            stream_id,
            info.model,
            after=None,
            dialect="vercel-ai",
            encoding=VercelAIDialect(message_id=continued),
        )

    return router


async def _start(gateway: Gateway, owner: str, body: StreamRequest, *, step: bool = False) -> str:
    gateway.check_metadata(body.metadata)
    upstream, chat = gateway.chat_request(body)
    return await gateway.start_stream(owner, upstream, chat, step=step)


def _token_cookie(request: Request, created: StreamCreated) -> dict[str, str]:
    """``Set-Cookie`` with the read token, sent back only to the stream's own URLs (when
    ``read_token_cookie`` is on)."""
    gateway = gateway_of(request)
    if not created.read_token or not gateway.settings.read_token_cookie:
        return {}
    ttl = int(gateway.auth.read_token_ttl)
    cookie = (
        f"{READ_TOKEN_COOKIE}={created.read_token}; Path=/v1/streams/{created.id}/; "
        f"Max-Age={ttl}; HttpOnly; SameSite=Strict"
    )
    if request.url.scheme == "https":
        cookie += "; Secure"
    return {"Set-Cookie": cookie}


def _created(gateway: Gateway, stream_id: str, owner: str) -> StreamCreated:
    token = None
    if gateway.auth.enabled and owner != ANONYMOUS:
        token = gateway.auth.issue_read_token(stream_id, owner)
    return StreamCreated(
        id=stream_id,
        events_url=_events_url(stream_id),
        cancel_url=f"/v1/streams/{stream_id}",
        read_token=token,
    )


def _page() -> str:
    try:
        return resources.files("surestream.gateway").joinpath("static/index.html").read_text()
    except FileNotFoundError:
        return "<!doctype html><title>surestream</title><p>surestream gateway</p>"


def create_app(
    settings: Settings | None = None,
    *,
    upstreams: Mapping[str, Upstream] | None = None,
) -> FastAPI:
    """The gateway as an ASGI app; ``upstreams`` replaces the ones built from ``settings``."""
    settings = settings or Settings()
    gateway = Gateway(settings, upstreams=upstreams)
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thresholds = _gc.tune() if settings.tune_gc else None
        try:
            yield
            await gateway.aclose()
        finally:
            if thresholds is not None:
                _gc.restore(thresholds)

    app = FastAPI(
        title="surestream gateway",
        version="1",
        summary="LLM streams over SSE that always end with a verdict.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    install_openapi(app, settings)
    install_error_handlers(app)
    app.include_router(_api_router())

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"model": ErrorBody}})
    async def readyz() -> dict[str, str]:
        """Readiness: the stream store takes writes now (503 with ``Retry-After`` if not)."""
        await gateway.store.ready(fresh=True)
        return {"status": "ready"}

    @app.get("/metrics", response_class=Response, tags=["ops"])
    async def metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_page())

    static = resources.files("surestream.gateway").joinpath("static")
    if static.is_dir():
        app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(DetachStreams)  # innermost: streams outlive only the layers above it
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, json_prefix="/v1/"
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=settings.cors_allow_headers,
            expose_headers=["Location", "Surestream-Stream-Id", "Surestream-Read-Token"],
        )
    return app
