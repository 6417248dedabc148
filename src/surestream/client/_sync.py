"""``connect``: the async client, for sync code, run on a private event loop in a thread.

Strategy: no second implementation. ``connect`` starts an anyio blocking portal (an event
loop in a worker thread), enters ``aconnect`` there and hands back a ``SyncEventStream`` that
forwards to the ``EventStream``. Iteration takes every event already received in one call
into the loop thread, so a thread hop costs once per network read, not once per event.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import anyio.from_thread
import httpx

from surestream.client._connect import DEFAULT_HTTP_TIMEOUT, aconnect
from surestream.client._limits import Limits
from surestream.client._resume import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_RETRY_DELAY,
)
from surestream.client._stream import EventStream
from surestream.events import Done, Error, Event, ToolCall
from surestream.lifecycle import DEFAULT_CLIENT_IDLE_TIMEOUT

__all__ = ["SyncEventStream", "connect"]


class SyncEventStream:
    """The blocking face of an ``EventStream``: iterate it, or call ``text()``.

    ``outcome``, ``interruption``, ``last_event_id``, ``attempts``, ``events_url``,
    ``dialect``, ``reasoning`` and ``tool_calls`` read through to the underlying stream.
    """

    def __init__(self, stream: EventStream, portal: anyio.from_thread.BlockingPortal) -> None:
        self._stream = stream
        self._portal = portal
        self._buffer: deque[Event] = deque()

    async def _take(self) -> list[Event]:
        stream = self._stream
        out: list[Event] = []
        async for event in stream:
            out.append(event)
            if not stream._buffered():
                break
        return out

    def __iter__(self) -> SyncEventStream:
        return self

    def __next__(self) -> Event:
        buffer = self._buffer
        if not buffer:
            buffer.extend(self._portal.call(self._take))
            if not buffer:
                raise StopIteration
        return buffer.popleft()

    def text(self) -> str:
        """As ``EventStream.text``: the text on ``done``, else raises ``StreamError``."""
        return self._portal.call(self._stream.text)

    @property
    def outcome(self) -> Done | Error | None:
        """The terminal event, once it arrived."""
        return self._stream.outcome

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event received."""
        return self._stream.last_event_id

    @property
    def attempts(self) -> int:
        """HTTP requests made for this stream."""
        return self._stream.attempts

    @property
    def events_url(self) -> str | None:
        """Where the stream resumes from (None when it cannot)."""
        return self._stream.events_url

    @property
    def dialect(self) -> str | None:
        """The wire dialect recognised."""
        return self._stream.dialect

    @property
    def interruption(self) -> str | None:
        """Why the stream ended without an outcome."""
        return self._stream.interruption

    @property
    def reasoning(self) -> str:
        """The reasoning text received (complete after the end)."""
        return self._stream.reasoning

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The complete tool calls (see ``EventStream.tool_calls``)."""
        return self._stream.tool_calls


@contextlib.contextmanager
def connect(
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
) -> Iterator[SyncEventStream]:
    """``aconnect`` for sync code: ``with connect(url) as stream: for event in stream: ...``.

    The arguments are those of ``aconnect`` (``http_client`` is still an ``AsyncClient``;
    it is used on the portal's event loop).
    """
    manager = aconnect(
        url,
        method=method,
        json=json,
        headers=headers,
        dialect=dialect,
        resume=resume,
        max_retries=max_retries,
        idle_timeout=idle_timeout,
        http_timeout=http_timeout,
        retry_delay=retry_delay,
        max_retry_delay=max_retry_delay,
        limits=limits,
        http_client=http_client,
    )
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(manager) as stream,
    ):
        yield SyncEventStream(stream, portal)
