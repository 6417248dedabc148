"""How the client sends a request: redirects followed here, credentials kept to one origin.

Strategy: a stream's requests (the first one, and every reconnection to the events URL a
``Location`` named) may be sent to other hosts than the one the caller named, by a
``Location`` or by a redirect. The caller's headers (``Authorization``, an API key, cookies:
any of them may be a credential) and the client's ``auth`` belong to the *origin* of the
URL the caller passed (scheme, host and port). ``send`` therefore follows redirects itself
(when the ``httpx.AsyncClient`` follows them; at most its ``max_redirects``) and sends every
request to another origin with only the protocol's own headers (``SAFE_HEADERS``) and no
``auth``. A redirect loop raises ``httpx.TooManyRedirects``; the caller turns it into an
outcome. As browsers do, 301/302 turn a POST into a GET and 303 turns anything into a GET
(the body dropped); 307/308 repeat the request as it was.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["SAFE_HEADERS", "same_origin", "send"]

SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "host",
        "last-event-id",
        "transfer-encoding",
        "user-agent",
    }
)
"""The only request headers sent to an origin other than the caller's: the protocol's and the
body's framing (none is a credential)."""

_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def same_origin(url: httpx.URL, other: httpx.URL) -> bool:
    """True when ``url`` and ``other`` have one origin: scheme, host and port."""
    return _origin(url) == _origin(other)


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    *,
    origin: httpx.URL,
    headers: httpx.Headers,
    json: Any = None,
) -> httpx.Response:
    """Send a request (``stream=True``) and follow its redirects; the final response.

    ``origin`` is the URL whose origin may receive ``headers`` and the client's ``auth``
    whole; any other origin gets ``SAFE_HEADERS`` only.
    """
    hops = client.max_redirects if client.follow_redirects else 0
    for _ in range(hops + 1):
        request = client.build_request(method, url, json=json, headers=headers)
        if same_origin(url, origin):
            response = await client.send(request, stream=True, follow_redirects=False)
        else:
            request.headers = httpx.Headers(
                [(k, v) for k, v in request.headers.raw if k.lower().decode() in SAFE_HEADERS]
            )
            response = await client.send(request, stream=True, follow_redirects=False, auth=None)
        if not (client.follow_redirects and response.has_redirect_location):
            return response
        await response.aclose()
        url = response.url.join(response.headers["location"])
        status = response.status_code
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, json = "GET", None
            headers = httpx.Headers(
                [(k, v) for k, v in headers.raw if k.lower().decode() not in _BODY_HEADERS]
            )
    raise httpx.TooManyRedirects(
        f"more than {hops} redirects (the last to {url})", request=response.request
    )
