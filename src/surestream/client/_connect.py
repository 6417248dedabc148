"""``aconnect``: open an ``EventStream`` with an HTTP client made for streaming.

Strategy: ``aconnect`` is the public entry of the async client and owns only what lives
outside one stream: the ``httpx.AsyncClient`` (made with ``StreamingTransport`` and
``DEFAULT_HTTP_TIMEOUT`` unless one is passed in, closed on exit only when made here) and
the mapping of its keyword arguments to ``EventStream``'s. The stream itself, its resume and
its outcome are ``surestream.client._stream``'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from surestream.client._limits import Limits
from surestream.client._resume import (
    DEFAULT_JITTER,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_RETRY_DELAY,
    Backoff,
)
from surestream.client._stream import EventStream
from surestream.client._transport import StreamingTransport
from surestream.lifecycle import DEFAULT_CLIENT_IDLE_TIMEOUT

__all__ = ["DEFAULT_CLIENT_IDLE_TIMEOUT", "DEFAULT_HTTP_TIMEOUT", "aconnect"]

DEFAULT_HTTP_TIMEOUT = httpx.Timeout(10.0, read=60.0)
"""httpx timeouts of the client ``aconnect`` makes: 10 s to connect, write and get a pooled
connection; 60 s without any byte (four missed 15 s heartbeats) is a lost connection."""


@contextlib.asynccontextmanager
async def aconnect(
    url: str,
    *,
    method: str = "GET",
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    dialect: str = "auto",
    resume: bool = True,
    max_retries: int = DEFAULT_MAX_RETRIES,
    idle_timeout: float | None = DEFAULT_CLIENT_IDLE_TIMEOUT,
    http_timeout: httpx.Timeout | float | None = DEFAULT_HTTP_TIMEOUT,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY,
    limits: Limits | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> AsyncIterator[EventStream]:
    """Open a stream of typed events: ``async with aconnect(url) as stream: ...``.

    ``method``/``json``/``headers`` make the first request (a POST that creates a stream is
    resumed from its ``Location``, never sent again; ``headers`` go to the origin of
    ``url`` only). ``dialect`` is ``auto`` (recognise native, openai, vercel-ai or the plain
    ``{"done": true}`` convention), ``plain`` or a name from ``surestream.dialects``.
    ``resume`` turns reconnection off when False; ``max_retries`` bounds reconnection
    attempts in a row without a new event (``DEFAULT_MAX_RETRIES``); ``retry_delay`` is the
    first delay when the server sent no ``retry:`` and ``max_retry_delay`` caps the
    exponential backoff (jitter added on top; never below ``DEFAULT_MIN_RETRY_DELAY``
    unless ``max_retry_delay`` is lower). ``idle_timeout`` (``DEFAULT_CLIENT_IDLE_TIMEOUT``,
    None for never) bounds the wait for a complete event; ``http_timeout``
    (``DEFAULT_HTTP_TIMEOUT``) are the byte-level httpx timeouts; ``limits`` (``Limits()``) bound
    what the stream may bring and cost.

    Without ``http_client``, an ``httpx.AsyncClient`` with ``StreamingTransport`` (bulk body
    reads, one connection per stream) is made and closed on exit; a client passed in is used
    as it is (its own timeouts, transport and redirect setting) and left open.
    """
    owned = http_client is None
    client = http_client or httpx.AsyncClient(
        transport=StreamingTransport(), timeout=http_timeout, follow_redirects=True
    )
    try:
        stream = EventStream(
            client,
            url,
            method=method,
            json=json,
            headers=headers,
            dialect=dialect,
            resume=resume,
            max_retries=max_retries,
            idle_timeout=idle_timeout,
            backoff=Backoff(retry_delay, max_retry_delay, DEFAULT_JITTER),
            limits=limits,
        )
        try:
            await stream.start()
            yield stream
        finally:
            await stream.aclose()
    finally:
        if owned:
            await client.aclose()
