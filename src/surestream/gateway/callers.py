"""Who is calling: the FastAPI dependencies that turn a request into an owner id.

Strategy: ``require_owner`` checks ``Authorization: Bearer`` against the gateway's keys
(every ``/v1`` route), or the key in ``x-api-key`` (``API_KEY_HEADER``, what the Anthropic
SDKs send) when the bearer one is missing or wrong; ``reader_owner`` also accepts a read
token for the one stream in the path, from the ``Surestream-Read-Token`` header, the
cookie the create call set, or ``?token=`` (which a browser ``EventSource`` needs). Both
answer 401 with ``WWW-Authenticate: Bearer`` when nothing valid was presented. ``Owner``
and ``Reader`` are the annotated parameter types routes use.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from surestream.gateway.auth import READ_TOKEN_COOKIE, READ_TOKEN_HEADER, Authenticator
from surestream.gateway.errors import ApiError
from surestream.gateway.service import Gateway

__all__ = [
    "API_KEY_HEADER",
    "Owner",
    "Reader",
    "gateway_of",
    "reader_owner",
    "ready_auth",
    "require_owner",
]


def gateway_of(request: Request) -> Gateway:
    """The ``Gateway`` the app serving ``request`` was built with."""
    gateway: Gateway = request.app.state.gateway
    return gateway


_BEARER = HTTPBearer(
    auto_error=False,
    description="One of the gateway's API keys (only when keys are configured).",
)
API_KEY_HEADER = "x-api-key"
"""The header a key may come in instead of ``Authorization: Bearer`` (the Anthropic SDKs')."""
_API_KEY = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="One of the gateway's API keys, as the Anthropic SDKs send it.",
)


async def require_owner(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _api_key: Annotated[str | None, Security(_API_KEY)] = None,
) -> str:
    """The owner id of the caller's API key; 401 when keys are configured and it is wrong.

    ``async`` so that FastAPI runs it on the event loop, not in its thread pool: it only
    compares keys, and a thread hop per request costs more than the check.
    """
    auth = await ready_auth(gateway_of(request))
    owner = auth.owner_for_header(request.headers.get("authorization"))
    if owner is None:
        owner = auth.owner_for_key(request.headers.get(API_KEY_HEADER))
    if owner is None:
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid API key (Authorization: Bearer <key>, or x-api-key: <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return owner


async def ready_auth(gateway: Gateway) -> Authenticator:
    """The authenticator, once it has its secret (``StoreUnavailable``, a 503, while the
    store cannot give it)."""
    auth = gateway.auth
    if not auth.ready:
        auth.use_secret(await gateway.store.shared_secret())
    return auth


def _literal_token(request: Request) -> str:
    """``?token=`` as the client wrote it: a name spelt otherwise (``%74oken``) is ignored,
    so no token passes the access log's masking."""
    for part in request.scope["query_string"].split(b"&"):
        name, _, value = part.partition(b"=")
        if name == b"token":
            return unquote(value.decode("latin-1"))
    return ""


async def reader_owner(
    request: Request,
    stream_id: str,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    token: Annotated[
        str,
        Query(
            max_length=400,
            description="the read token of the create call (the Surestream-Read-Token "
            "header or the cookie keep it out of URLs and logs)",
        ),
    ] = "",
    token_header: Annotated[
        str, Header(alias=READ_TOKEN_HEADER, max_length=400, include_in_schema=False)
    ] = "",
) -> str:
    """Like ``require_owner``, but a read token for this one stream also works: in the
    ``Surestream-Read-Token`` header, in the cookie the create call set, or as ``?token=``."""
    auth = await ready_auth(gateway_of(request))
    if auth.enabled:
        cookie = request.cookies.get(READ_TOKEN_COOKIE, "")
        for presented in (token_header, cookie, _literal_token(request) if token else ""):
            owner = auth.owner_for_token(presented, stream_id) if presented else None
            if owner is not None:
                return owner
    return await require_owner(request)


Owner = Annotated[str, Depends(require_owner)]
Reader = Annotated[str, Depends(reader_owner)]
