"""``aconnect`` and ``EventStream``: typed events, a guaranteed outcome, automatic resume.

Strategy: ``EventStream`` is an async iterator over one logical stream that may span several
HTTP connections. Bytes come from httpx in blocks; ``surestream.sse.Decoder`` turns a block
into SSE events, and the dialect's ``StreamDecoder`` turns each SSE event into typed events,
lazily, as the caller asks for them. Iteration stops right after the terminal event (``Done``
or ``Error``), which becomes ``outcome``; the connection is closed then and never reopened.

When a connection ends without a terminal event (closed, reset, read timeout, broken framing)
or with a ``retryable`` ``Error``, the stream reconnects to its events URL (the request URL
for a GET, the ``Location`` of the response for any other method; a request that created a
stream is never sent again) with ``Last-Event-ID``, waiting as ``Backoff`` says, at most
``max_retries`` times in a row without a new event; 404, 410 and other final 4xx answers stop
it at once. A stream whose events carry no id can only be reconnected before its first event.
``ReplayFilter`` keeps delivery exactly-once and in order. When resuming fails, the stream
ends without an outcome and ``interruption`` says why (a held retryable ``Error`` becomes the
outcome instead).

Two timers: httpx's connect/read timeouts on bytes (a read timeout counts as a lost
connection), and ``idle_timeout`` on events: time spent waiting on the network without a
complete event, heartbeats included, ends the stream as interrupted without reconnecting
(the server is there but its stream is stuck; coming back would not help). Time the caller
spends between two events does not count.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx

from surestream.client._detect import AutoDecoder, make_decoder
from surestream.client._errors import StreamFailed, StreamInterrupted
from surestream.client._resume import (
    DEFAULT_JITTER,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_RETRY_DELAY,
    Backoff,
    ReplayFilter,
    fatal_status,
)
from surestream.client._transport import StreamingTransport
from surestream.dialects import StreamDecoder
from surestream.errors import RemoteProtocolError
from surestream.events import Done, Error, Event, Text
from surestream.lifecycle import DEFAULT_CLIENT_IDLE_TIMEOUT
from surestream.sse import Decoder, ServerSentEvent

__all__ = ["DEFAULT_CLIENT_IDLE_TIMEOUT", "DEFAULT_HTTP_TIMEOUT", "EventStream", "aconnect"]

DEFAULT_HTTP_TIMEOUT = httpx.Timeout(10.0, read=60.0)
"""httpx timeouts of the client ``aconnect`` makes: 10 s to connect, write and get a pooled
connection; 60 s without any byte (four missed 15 s heartbeats) is a lost connection."""

_REQUEST_ONLY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


class _IdleTimeout(Exception):
    pass


def _is_event_stream(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.partition(";")[0].strip().lower() == "text/event-stream"


class EventStream:
    """One stream of typed events; ``async for`` it, or ``await text()``.

    Made by ``aconnect``. ``outcome`` is the terminal event once it arrived (None before, and
    after an interruption); ``last_event_id`` the id of the last event received; ``attempts``
    the number of HTTP requests made for this stream; ``events_url`` where it resumes from
    (None when it cannot); ``dialect`` the wire dialect recognised; ``interruption`` why the
    stream ended without an outcome.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        method: str = "GET",
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        dialect: str = "auto",
        resume: bool = True,
        max_retries: int = DEFAULT_MAX_RETRIES,
        idle_timeout: float | None = DEFAULT_CLIENT_IDLE_TIMEOUT,
        backoff: Backoff | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0 or None")
        self.outcome: Done | Error | None = None
        self.last_event_id: str | None = None
        self.attempts = 0
        self.events_url: str | None = None
        self.interruption: str | None = None
        self._client = client
        self._read_timeout = client.timeout.read
        self._url = url
        self._method = method.upper()
        self._json = json
        self._headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        self._headers.update(headers or {})
        self._decoder: StreamDecoder = make_decoder(dialect)
        self._dialect_name = dialect
        self._resume = resume
        self._max_retries = max_retries
        self._idle_timeout = idle_timeout
        self._backoff = backoff or Backoff()
        self._filter = ReplayFilter()
        self._response: httpx.Response | None = None
        self._blocks: AsyncIterator[bytes] | None = None
        self._sse = Decoder()
        self._batch: list[ServerSentEvent] = []
        self._pos = 0
        self._pending: list[Event] = []
        self._texts: list[str] = []
        self._done = False
        self._received = False
        self._failures = 0
        self._idle_spent = 0.0
        self._retry_ms: int | None = None
        self._lost = "the connection ended without a terminal event"
        self._id_before: str | None = None
        self._held: Error | None = None
        self._held_id: str | None = None

    @property
    def dialect(self) -> str | None:
        """The wire dialect of the stream (for ``auto``: None until recognised)."""
        decoder = self._decoder
        return decoder.dialect if isinstance(decoder, AutoDecoder) else self._dialect_name

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], json: Any = None
    ) -> httpx.Response:
        request = self._client.build_request(method, url, json=json, headers=headers)
        return await self._client.send(request, stream=True)

    async def start(self) -> None:
        """Send the request; called by ``aconnect``.

        A non-2xx answer raises ``httpx.HTTPStatusError`` (with the body read), a 2xx answer
        that is not ``text/event-stream`` raises ``RemoteProtocolError``; a connection failure
        leaves the stream to reconnect (GET) or to end as interrupted (any other method).
        """
        self.attempts = 1
        try:
            response = await self._send(self._method, self._url, self._headers, self._json)
        except httpx.TransportError as exc:
            self._lost = f"the request failed: {exc!r}"
            if self._method == "GET":
                self.events_url = self._url
            return
        if not response.is_success:
            await response.aread()
            await response.aclose()
            response.raise_for_status()
        if not _is_event_stream(response):
            await response.aclose()
            content_type = response.headers.get("content-type")
            raise RemoteProtocolError(
                f"expected a text/event-stream response, got {content_type!r}"
            )
        if self._method == "GET":
            self.events_url = str(response.url)
        elif "location" in response.headers:
            self.events_url = str(response.url.join(response.headers["location"]))
        self._open(response)

    def _open(self, response: httpx.Response) -> None:
        self._response = response
        self._blocks = response.aiter_bytes().__aiter__()
        self._sse = Decoder()
        self._idle_spent = 0.0
        if isinstance(self._decoder, AutoDecoder):
            self._decoder.see_headers(response.headers)

    async def _close_response(self) -> None:
        response, self._response, self._blocks = self._response, None, None
        if self._sse.retry is not None:
            self._retry_ms = self._sse.retry
        if response is not None:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    async def aclose(self) -> None:
        """Close the connection; iteration ends. ``aconnect`` calls it on exit."""
        self._done = True
        self._batch, self._pending = [], []
        await self._close_response()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while True:
            pending = self._pending
            if pending:
                event = pending.pop(0)
                if type(event) is Text:
                    self._texts.append(event.text)
                elif isinstance(event, Done | Error) and await self._terminal(event):
                    continue
                return event
            batch = self._batch
            if self._pos < len(batch):
                sse = batch[self._pos]
                self._pos += 1
                if self._filter.active:
                    released = self._filter.accept(sse)
                    if released:
                        self._failures = 0
                        self._batch = released + batch[self._pos :]
                        self._pos = 0
                    continue
                self._id_before = self.last_event_id
                if sse.id is not None:
                    self.last_event_id = sse.id
                self._pending = self._decoder.decode(sse)
                continue
            if self._done:
                raise StopAsyncIteration
            await self._fill()

    async def _terminal(self, event: Done | Error) -> bool:
        """Handle a terminal event; True when it is held back for a resume instead."""
        if isinstance(event, Error) and event.retryable and self._can_resume():
            replayed = self._held is not None and self.last_event_id == self._held_id
            if not replayed:
                self._held, self._held_id = event, self.last_event_id
                self.last_event_id = self._id_before
                self._lost = f"the server sent a retryable error ({event.code})"
                self._batch, self._pos, self._pending = [], 0, []
                await self._close_response()
                return True
        self.outcome = event
        self._done = True
        self._held = None
        self._batch, self._pending = [], []
        await self._close_response()
        return False

    def _can_resume(self) -> bool:
        return (
            self._resume
            and self.events_url is not None
            and (self.last_event_id is not None or not self._received)
        )

    async def _read_block(self) -> bytes | None:
        blocks = self._blocks
        if blocks is None:
            return None
        idle_timeout = self._idle_timeout
        if idle_timeout is None:
            return await anext(blocks, None)
        remaining = idle_timeout - self._idle_spent
        start = time.monotonic()
        read_timeout = self._read_timeout
        if read_timeout is not None and remaining > read_timeout:
            # The byte timer ends this read before the idle budget runs out: no timer needed
            # here (arming one costs more than parsing an event).
            block = await anext(blocks, None)
        else:
            with anyio.move_on_after(remaining) as scope:
                block = await anext(blocks, None)
            if scope.cancelled_caught:
                raise _IdleTimeout
        self._idle_spent += time.monotonic() - start
        return block

    async def _fill(self) -> None:
        """Read until a block completes SSE events or the stream ends; may reconnect."""
        while not self._done:
            if self._response is None and not await self._reconnect():
                self._end()
                return
            try:
                block = await self._read_block()
            except _IdleTimeout:
                await self._close_response()
                self._lost = f"no event for {self._idle_timeout} s (idle_timeout)"
                self._held = None
                self._end()
                return
            except httpx.TransportError as exc:
                self._lost = f"the connection was lost: {exc!r}"
                if await self._end_connection():
                    return
                continue
            if block is None:
                self._lost = "the connection closed without a terminal event"
                if await self._end_connection():
                    return
                if self._decoder.finished:
                    self._lost = "the stream ended without a done or error event"
                    self._end()
                continue
            events = self._sse.feed(block)
            if events:
                self._idle_spent = 0.0
                self._received = True
                if not self._filter.active:
                    self._failures = 0
                    self._held = None
                self._batch, self._pos = events, 0
                return

    async def _end_connection(self) -> bool:
        """Close the connection; True when it left events to deliver first."""
        events = self._sse.close()
        if self._filter.active:
            events = [e for sse in events for e in self._filter.accept(sse)]
            events += self._filter.flush()
        await self._close_response()
        if events:
            self._batch, self._pos = events, 0
        return bool(events)

    def _end(self) -> None:
        self._done = True
        if self._held is not None:
            self._pending = [self._held]
            self._done = False
            self._held = None
            self._resume = False
        else:
            self.interruption = self._lost

    async def _reconnect(self) -> bool:
        if not self._can_resume() or self.events_url is None:
            return False
        headers = {k: v for k, v in self._headers.items() if k.lower() not in _REQUEST_ONLY_HEADERS}
        while self._failures < self._max_retries:
            self._failures += 1
            await anyio.sleep(self._backoff.delay(self._failures, self._retry_ms))
            self.attempts += 1
            if self.last_event_id is not None:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                response = await self._send("GET", self.events_url, headers)
            except httpx.TransportError as exc:
                self._lost = f"reconnecting failed: {exc!r}"
                continue
            if response.is_success and _is_event_stream(response):
                self._open(response)
                self._filter.reconnected(self.last_event_id)
                return True
            await response.aclose()
            self._lost = f"the server answered {response.status_code} to the reconnection"
            if fatal_status(response.status_code) or response.is_success:
                return False
        self._lost = f"gave up after {self._max_retries} reconnection attempt(s); {self._lost}"
        return False

    async def text(self) -> str:
        """The whole text of a ``done`` stream (reading what is left of it first).

        Raises ``StreamFailed`` (``.error``) if it ended with ``error``, ``StreamInterrupted``
        (``.last_event_id``, ``.attempts``, ``.reason``) if it ended without a terminal event.
        """
        async for _ in self:
            pass
        return self._result()

    def _result(self) -> str:
        outcome = self.outcome
        if isinstance(outcome, Done):
            return "".join(self._texts)
        if isinstance(outcome, Error):
            raise StreamFailed(outcome)
        raise StreamInterrupted(self.last_event_id, self.attempts, self.interruption or self._lost)

    def _buffered(self) -> bool:
        """True when the next event is already decoded or received (no network wait)."""
        return bool(self._pending) or self._pos < len(self._batch)


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
    http_client: httpx.AsyncClient | None = None,
) -> AsyncIterator[EventStream]:
    """Open a stream of typed events: ``async with aconnect(url) as stream: ...``.

    ``method``/``json``/``headers`` make the first request (a POST that creates a stream is
    resumed from its ``Location``, never sent again). ``dialect`` is ``auto`` (recognise
    native, openai, vercel-ai or the plain ``{"done": true}`` convention), ``plain`` or a
    name from ``surestream.dialects``. ``resume`` turns reconnection off when False;
    ``max_retries`` bounds reconnection attempts in a row without a new event
    (``DEFAULT_MAX_RETRIES``); ``retry_delay`` is the first delay when the server sent no
    ``retry:`` and ``max_retry_delay`` caps the exponential backoff (jitter added on top).
    ``idle_timeout`` (``DEFAULT_CLIENT_IDLE_TIMEOUT``, None for never) bounds the wait for a
    complete event; ``http_timeout`` (``DEFAULT_HTTP_TIMEOUT``) are the byte-level httpx timeouts.

    Without ``http_client``, an ``httpx.AsyncClient`` with ``StreamingTransport`` (bulk body
    reads, one connection per stream) is made and closed on exit; a client passed in is used
    as it is (its own timeouts and transport) and left open.
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
        )
        try:
            await stream.start()
            yield stream
        finally:
            await stream.aclose()
    finally:
        if owned:
            await client.aclose()
