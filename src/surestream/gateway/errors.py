"""Every failure of the gateway's HTTP API as a JSON body with a clear message and status.

Strategy: routes raise ``ApiError(status, code, message)``; handlers turn it, Starlette's
``HTTPException`` (404 and 405 of the router) and pydantic validation errors into
``{"error": {"code", "message", "field"?}}``. ``BodyLimitMiddleware`` refuses bodies over
``max_body_bytes`` with 413 before a route reads them, whether the client sent a
``Content-Length`` or not. Nothing here ever answers 500 with a traceback.
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

from surestream.gateway.models import error_body

__all__ = ["ApiError", "BodyLimitMiddleware", "install_error_handlers", "json_error"]

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


class ApiError(Exception):
    """An HTTP error answer: ``status``, a stable ``code``, a ``message`` safe to show."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


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


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a JSON ``ErrorBody``."""

    async def api_error(request: Request, exc: Exception) -> Response:
        exc = cast(ApiError, exc)
        return json_error(exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        exc = cast(StarletteHTTPException, exc)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return json_error(exc.status_code, code, message, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        exc = cast(RequestValidationError, exc)
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
        field = _field_name(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return json_error(400, "invalid_json", "the body is not valid JSON")
        message = f"{field}: {first.get('msg', 'invalid value')}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return json_error(422, "invalid_request", message, field=field)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return json_error(500, "internal_error", "internal error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


class BodyLimitMiddleware:
    """Answer 413 to any request body longer than ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length`` up front, then count the bytes as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await self._refuse(scope, receive, send)
                return
        seen = 0
        too_large = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)
        except Exception:
            if not too_large:
                raise
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = json_error(
            413,
            "request_too_large",
            f"the request body exceeds max_body_bytes ({self.max_body_bytes} bytes)",
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass
