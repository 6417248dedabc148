"""Every failure of the gateway's HTTP API as a JSON body with a clear message and status.

Strategy: routes raise ``ApiError(status, code, message)``, or let an error of the store, the
hub or an upstream through: ``api_error`` is the one table that turns those into HTTP answers
(404, 410, 400, 503, the upstream's status), with one ``Retry-After`` for every 429 and 503 the
gateway decides itself. Handlers turn them, Starlette's ``HTTPException`` (404 and 405 of the
router) and pydantic validation errors into ``{"error": {"code", "message", "field"?}}``.
``BodyLimitMiddleware`` reads every body before a route does: over ``max_body_bytes`` it
answers 413, whether the client sent a ``Content-Length`` or not, and under ``/v1/`` it reads
the body as JSON whatever its content type. Under ``ANTHROPIC_PATH`` (``POST /v1/messages``)
every answer has the Messages API's shape instead (``error_response``), for the Anthropic
SDKs. Nothing here ever answers 500 with a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surestream.dialects.anthropic import error_object, http_error_type
from surestream.errors import (
    ApiError,
    HubClosed,
    InvalidResumePoint,
    StoreUnavailable,
    StreamExpired,
    StreamNotFound,
    SurestreamError,
    TooManySubscribers,
    UpstreamHTTPError,
)
from surestream.gateway.models import error_body
from surestream.server import RETRY_AFTER

__all__ = [
    "ANTHROPIC_PATH",
    "MAPPED_ERRORS",
    "RETRY_AFTER",
    "ApiError",
    "BodyLimitMiddleware",
    "api_error",
    "error_response",
    "install_error_handlers",
    "json_error",
    "retry_later",
]

log = logging.getLogger("surestream.gateway")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


MAPPED_ERRORS: tuple[type[SurestreamError], ...] = (
    ApiError,
    StreamNotFound,
    StreamExpired,
    InvalidResumePoint,
    StoreUnavailable,
    HubClosed,
    TooManySubscribers,
    UpstreamHTTPError,
)
"""The errors routes let through to ``api_error`` (the gateway's handler maps them)."""


def retry_later(status: int, code: str, message: str) -> ApiError:
    """A 429 or 503 answer of the gateway's own, with the one ``Retry-After``."""
    return ApiError(status, code, message, headers={"Retry-After": str(RETRY_AFTER)})


def api_error(exc: SurestreamError, stream_id: str | None = None) -> ApiError:
    """The HTTP answer for an error of the store, the hub or an upstream (``MAPPED_ERRORS``).

    ``stream_id`` names the stream in the message. The store's own wording never reaches
    the client (it may name a host): each error has a fixed message.
    """
    name = "this stream" if stream_id is None else f"stream {stream_id!r}"
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, StreamNotFound):
        found = "no such stream" if stream_id is None else f"no stream {stream_id!r}"
        return ApiError(404, "not_found", found)
    if isinstance(exc, StreamExpired):
        return ApiError(410, "gone", f"{name} has expired")
    if isinstance(exc, InvalidResumePoint):
        return ApiError(400, "invalid_last_event_id", str(exc), field="Last-Event-ID")
    if isinstance(exc, StoreUnavailable):
        return retry_later(503, "unavailable", "the stream store is unavailable")
    if isinstance(exc, TooManySubscribers):
        return retry_later(429, "rate_limited", f"{name} has its max_subscribers readers")
    if isinstance(exc, HubClosed):
        return retry_later(503, "unavailable", "the gateway is shutting down")
    if isinstance(exc, UpstreamHTTPError):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(0, round(exc.retry_after)))
        return ApiError(exc.status, exc.code, exc.message, headers=headers)
    raise TypeError(f"no HTTP answer for {type(exc).__name__}")


def json_error(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The JSON error response every failure of the gateway uses."""
    return Response(
        orjson.dumps(error_body(code, message, field)),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


ANTHROPIC_PATH = "/v1/messages"
"""The route whose errors have the Anthropic Messages API's shape."""


def error_response(
    path: str,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``json_error`` for a request to ``path``: under ``ANTHROPIC_PATH`` the API's
    ``{"type":"error","error":{"type","message","code"}}``, and 400 for a 422 (the API
    answers a body it cannot take with 400 ``invalid_request_error``)."""
    if path.rstrip("/") != ANTHROPIC_PATH:
        return json_error(status, code, message, field=field, headers=headers)
    status = 400 if status == 422 else status
    return Response(
        orjson.dumps(error_object(http_error_type(status), message, code)),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict"}


def _field_name(loc: tuple[Any, ...]) -> str:
    """``("body", "messages", 0, "content", "constrained-str")`` -> ``messages.0.content``;
    ``("body", "messages", 0, "role=tool", "tool_call_id")`` -> ``messages.0.tool_call_id``
    (``name=value`` is how our discriminated unions tag their members)."""
    parts = []
    where = {"body", "query", "header", "path", "cookie"}
    for part in loc[1:] if loc and loc[0] in where else loc:
        if isinstance(part, str) and "=" in part:
            continue
        if isinstance(part, str) and (not part.isidentifier() or part in _UNION_TAGS):
            break  # a pydantic union member's tag, not a field
        parts.append(str(part))
    return ".".join(parts) or "body"


def _closeness(error: Any) -> tuple[bool, int]:
    kind = str(error.get("type", ""))
    wrong_type = kind.endswith("_type") or kind == "none_required"
    return not wrong_type, len(tuple(error.get("loc", ())))


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a JSON ``ErrorBody``."""

    async def mapped_error(request: Request, exc: Exception) -> Response:
        answer = api_error(cast(SurestreamError, exc), request.path_params.get("stream_id"))
        return error_response(
            request.url.path,
            answer.status,
            answer.code,
            answer.message,
            field=answer.field,
            headers=answer.headers,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        exc = cast(StarletteHTTPException, exc)
        path = request.url.path
        if exc.status_code == 400:  # the framework could not read the body (e.g. not UTF-8)
            return error_response(path, 400, "invalid_json", "the body is not valid JSON (UTF-8)")
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(path, exc.status_code, code, message, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        exc = cast(RequestValidationError, exc)
        path = request.url.path
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
        field = _field_name(tuple(first.get("loc", ())))
        # A union's branches each report an error at the same field: report the branch the
        # value came closest to, one whose type it has (5 stop strings: "at most 4 items"),
        # the deepest first.
        same = [e for e in errors if _field_name(tuple(e.get("loc", ()))) == field]
        first = max(same or [first], key=_closeness)
        if first.get("type") == "json_invalid":
            ctx: Any = first.get("ctx") or {}
            reason = ctx.get("error", "") if isinstance(ctx, dict) else ""
            where = tuple(first.get("loc", ("body", "")))[-1]
            detail = f" ({reason} at byte {where})" if reason and isinstance(where, int) else ""
            return error_response(path, 400, "invalid_json", f"the body is not valid JSON{detail}")
        if field == "body":
            kind = first.get("type")
            message = "body: a JSON object is required"
            if kind not in {"missing", "model_attributes_type", "dict_type"}:
                message = f"body: {first.get('msg', 'invalid value')}"
            return error_response(path, 422, "invalid_request", message, field="body")
        message = f"{field}: {first.get('msg', 'invalid value')}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return error_response(path, 422, "invalid_request", message, field=field)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request.url.path, 500, "internal_error", "internal error")

    for error in MAPPED_ERRORS:
        app.add_exception_handler(error, mapped_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


def _json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the only ``Content-Type`` is ``application/json`` (no rewritten scope needed)."""
    return [value for name, value in headers if name == b"content-type"] == [b"application/json"]


class BodyLimitMiddleware:
    """Read each request body whole, bounded by ``max_body_bytes`` (413 beyond), then pass it on.

    A ``Content-Length`` over the limit is refused before any byte is read; a body without
    one (chunked) is counted as it arrives. Reading the body here, before the app sees it,
    keeps the 413 from being turned into a parse error by the framework. Under
    ``json_prefix`` every body is JSON whatever its ``Content-Type`` says (``curl -d`` sends
    ``application/x-www-form-urlencoded``), so a wrong content type never hides the real
    problem of a body.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, json_prefix: str = "/v1/") -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.json_prefix = json_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse, or buffer the body and call the app with a replaying ``receive``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        if size and scope["path"].startswith(self.json_prefix) and not _json(scope["headers"]):
            scope = dict(scope)
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope["headers"] = [*headers, (b"content-type", b"application/json")]
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            body = b"".join(chunks)
            chunks.clear()  # not held for as long as a stream of this request lasts
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            scope["path"],
            413,
            "request_too_large",
            f"the request body exceeds max_body_bytes ({self.max_body_bytes} bytes)",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
