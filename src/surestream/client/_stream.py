"""``EventStream``: typed events, a guaranteed outcome, automatic resume (``aconnect`` opens one).

Strategy: ``EventStream`` is an async iterator over one logical stream that may span several
HTTP connections, and the I/O driver of ``surestream.lifecycle.ConsumerState``, which owns
every rule about how a stream ends: the outcome, the held retryable error, the interruption
and the id to resume from. ``ConnectionReader`` (``_reader``) turns the response body into
SSE events under the byte limits and the idle budget, and the dialect's ``StreamDecoder``
turns each SSE event into typed events, lazily, as the caller asks for them; the dialect
decoder owns its end markers. Each connection is read in the dialect its headers name (a
stream may be resumed in another one), and ``Answer`` drops what a resumed connection only
repeats (a ``Start``, a tool call named again). Iteration stops right after the terminal
event, which becomes ``outcome``; the connection is closed then and never reopened.

When a connection ends without a terminal event (closed, reset, read timeout) or with a
``retryable`` ``Error`` the state holds back, the stream reconnects to its events URL (the
request URL for a GET, the ``Location`` of the response for any other method; a request
that created a stream is never sent again) with ``Last-Event-ID``, waiting as ``Backoff``
says, at most ``max_retries`` times in a row without a new event and ``max_reconnects``
times in all; 404, 410 and other final 4xx answers stop it at once. ``ReplayFilter`` keeps
delivery exactly-once and in order. A resumed connection that starts another stream (its
``Start`` names another stream id) is not spliced in: the stream ends as interrupted.
Requests to an origin other than the caller's carry no credentials (``_requests.send``).

Whatever the server sends, the stream ends with ``done``, ``error`` or an interruption that
says why: an event the dialect cannot read, an SSE event over ``max_event_size``, a body that
does not decode, a redirect loop, and a stream over ``Limits`` end it at once, without
reconnecting (coming back would bring the same bytes).

Two timers: httpx's connect/read timeouts on bytes (a read timeout counts as a lost
connection), and ``idle_timeout`` on events: time spent waiting on the network without a
complete event, heartbeats included, ends the stream as interrupted without reconnecting
(the server is there but its stream is stuck; coming back would not help). Time the caller
spends between two events does not count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from surestream.client._answer import Answer
from surestream.client._detect import AutoDecoder, make_decoder, named_dialect
from surestream.client._errors import StreamFailed, StreamInterrupted
from surestream.client._limits import Limits
from surestream.client._reader import (
    ConnectionReader,
    _ConnectionLost,
    _IdleTimeout,
    _Unreadable,
    is_event_stream,
)
from surestream.client._requests import send
from surestream.client._resume import (
    DEFAULT_MAX_RETRIES,
    Backoff,
    ReplayFilter,
    fatal_status,
)
from surestream.dialects import StreamDecoder
from surestream.errors import RemoteProtocolError
from surestream.events import TERMINAL_TYPES, Done, Error, Event, Start, Text, ToolCall
from surestream.lifecycle import DEFAULT_CLIENT_IDLE_TIMEOUT, ConsumerState
from surestream.sse import ServerSentEvent

__all__ = ["EventStream"]

_REQUEST_ONLY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


class EventStream:
    """One stream of typed events; ``async for`` it, or ``await text()``.

    Made by ``aconnect``. ``outcome`` is the terminal event once it arrived (None before, and
    after an interruption); ``interruption`` why the stream ended without one;
    ``last_event_id`` the id of the last event received; ``attempts`` the number of HTTP
    requests made for this stream; ``events_url`` where it resumes from (None when it
    cannot); ``dialect`` the wire dialect recognised. After the end, ``reasoning`` and
    ``tool_calls`` hold what the model showed besides its answer (``text()``).
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
        limits: Limits | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0 or None")
        self.attempts = 0
        self.events_url: str | None = None
        self._state = ConsumerState(resumable=resume)
        self._answer = Answer()
        self._limits = limits or Limits()
        self._client = client
        self._url = url
        self._origin = httpx.URL(url)
        self._method = method.upper()
        self._json = json
        self._headers = httpx.Headers({"Accept": "text/event-stream", "Cache-Control": "no-cache"})
        self._headers.update(headers or {})
        self._headers["Accept-Encoding"] = "identity"
        self._decoder: StreamDecoder = make_decoder(dialect)
        self._dialect_name = dialect
        self._max_retries = max_retries
        self._idle_timeout = idle_timeout
        self._backoff = backoff or Backoff()
        self._filter = ReplayFilter()
        self._reader = ConnectionReader(
            self._limits, idle_timeout=idle_timeout, read_timeout=client.timeout.read
        )
        self._batch: list[ServerSentEvent] = []
        self._pos = 0
        self._pending: list[Event] = []
        self._failures = 0
        self._reconnects = 0
        self._started = False
        self._stream_id: str | None = None
        self._first_id: str | None = None

    @property
    def outcome(self) -> Done | Error | None:
        """The terminal event the stream ended with (None before, and when interrupted)."""
        return self._state.outcome

    @property
    def interruption(self) -> str | None:
        """Why the stream ended without an outcome (None otherwise)."""
        return self._state.interruption

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event received (what a reconnection sends)."""
        return self._state.last_event_id

    @property
    def dialect(self) -> str | None:
        """The wire dialect of the stream (for ``auto``: None until recognised)."""
        decoder = self._decoder
        return decoder.dialect if isinstance(decoder, AutoDecoder) else self._dialect_name

    @property
    def reasoning(self) -> str:
        """The reasoning text received (``Reasoning`` joined; complete after the end)."""
        return self._answer.reasoning

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The complete tool calls, in order: each ``ToolCall`` received, and once the
        stream ended with ``done``, each call that came only as a start and fragments,
        assembled (its arguments parsed as JSON)."""
        return self._answer.tool_calls(complete=isinstance(self._state.outcome, Done))

    @property
    def _over(self) -> bool:
        state = self._state
        return state.outcome is not None or state.interruption is not None

    async def _send(
        self, method: str, url: str, headers: httpx.Headers, json: Any = None
    ) -> httpx.Response:
        target = httpx.URL(url)
        return await send(
            self._client, method, target, origin=self._origin, headers=headers, json=json
        )

    async def start(self) -> None:
        """Send the request; called by ``aconnect``.

        A non-2xx answer raises ``httpx.HTTPStatusError`` (with the body read), a 2xx answer
        that is not ``text/event-stream`` raises ``RemoteProtocolError``: the request was
        refused and no stream was made. A connection failure leaves the stream to reconnect
        (GET) or to end as interrupted (any other method), as does a redirect loop.
        """
        self.attempts = 1
        try:
            response = await self._send(self._method, self._url, self._headers, self._json)
        except httpx.HTTPError as exc:
            self._state.lost(f"the request failed: {exc!r}")
            if self._method == "GET" and isinstance(exc, httpx.TransportError):
                self.events_url = self._url
            else:
                self._state.resumable = False
            return
        if not response.is_success:
            await response.aread()
            await response.aclose()
            response.raise_for_status()
        if not is_event_stream(response):
            await response.aclose()
            content_type = response.headers.get("content-type")
            raise RemoteProtocolError(
                f"expected a text/event-stream response, got {content_type!r}"
            )
        if self._method == "GET":
            self.events_url = str(response.url)
        elif "location" in response.headers:
            self.events_url = str(response.url.join(response.headers["location"]))
        else:
            self._state.resumable = False
        self._open(response)

    def _open(self, response: httpx.Response) -> None:
        self._reader.open(response)
        decoder = self._decoder
        if isinstance(decoder, AutoDecoder):
            decoder.see_headers(response.headers)
        elif self.attempts > 1:
            # A resumed connection that names another dialect is read in it (an explicit
            # dialect says how to read the first response).
            named = named_dialect(response.headers)
            if named is not None and named != self._dialect_name:
                self._dialect_name = named
                self._decoder = make_decoder(named)

    async def aclose(self) -> None:
        """Close the connection; iteration ends (interrupted, if it had not ended)."""
        state = self._state
        if not self._over:
            state.lost("the stream was closed before its end")
            state.resumable = False
            state.finish()
        self._batch, self._pending = [], []
        await self._reader.close()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        state = self._state
        while True:
            pending = self._pending
            if pending:
                event = pending.pop(0)
                if type(event) is Text:
                    self._answer.texts.append(event.text)
                elif isinstance(event, TERMINAL_TYPES):
                    if await self._terminal(event):
                        continue
                elif type(event) is Start:
                    if not await self._accept_start(event):
                        continue
                elif not self._answer.add(event):
                    continue
                return event
            batch = self._batch
            if self._pos < len(batch):
                sse = batch[self._pos]
                self._pos += 1
                if self._filter.active:
                    await self._filter_replay(sse)
                    continue
                state.received(sse.id)
                try:
                    self._pending = self._decoder.decode(sse)
                except RemoteProtocolError as exc:
                    await self._abandon(f"the server sent an event that cannot be read: {exc}")
                continue
            if self._over:
                raise StopAsyncIteration
            await self._fill()

    async def _terminal(self, event: Done | Error) -> bool:
        """Handle a terminal event; True when it is held back for a resume instead."""
        held = self._state.terminal(event)
        self._batch, self._pos, self._pending = [], 0, []
        await self._reader.close()
        return held

    async def _accept_start(self, start: Start) -> bool:
        """True to deliver ``start``: the stream's first; a later one is dropped, and one
        that names another stream ends this one."""
        if not self._started:
            self._started = True
            self._stream_id = start.stream
            return True
        await self._check_same_stream(start)
        return False

    async def _check_same_stream(self, event: Event) -> bool:
        """False (and the stream ended) when ``event`` is the ``Start`` of another stream."""
        if type(event) is not Start or event.stream is None or self._stream_id is None:
            return True
        if event.stream == self._stream_id:
            return True
        await self._abandon(
            f"the server resumed a different stream ({event.stream!r}, not "
            f"{self._stream_id!r}); it was not spliced into this one"
        )
        return False

    async def _filter_replay(self, sse: ServerSentEvent) -> None:
        """Pass one SSE event of a resumed connection through the replay filter.

        It is decoded on its own (a fresh decoder) to see whether it is a terminal event or
        the ``Start`` of another stream, which a replay must not hide.
        """
        try:
            probe = make_decoder(self.dialect or self._dialect_name).decode(sse)
        except RemoteProtocolError:
            probe = []
        for event in probe:
            if not await self._check_same_stream(event):
                return
        terminal = any(isinstance(event, TERMINAL_TYPES) for event in probe)
        released = self._filter.accept(sse, terminal=terminal)
        if released:
            if not terminal:
                self._failures = 0
                self._state.progress()
            self._batch, self._pos = released + self._batch[self._pos :], 0

    async def _abandon(self, reason: str) -> None:
        """End the stream now, without reconnecting, because of ``reason``."""
        state = self._state
        state.lost(reason)
        state.resumable = False
        self._batch, self._pos, self._pending = [], 0, []
        await self._reader.close()
        self._finish()

    def _finish(self) -> None:
        """No more connections: a held error is delivered, else the stream is interrupted."""
        held = self._state.finish()
        if held is not None:
            self._pending = [held]

    async def _fill(self) -> None:
        """Read until the connection completes SSE events or the stream ends; may reconnect."""
        state = self._state
        while not self._over:
            if not self._reader.is_open and not await self._reconnect():
                self._finish()
                return
            try:
                events = await self._reader.read()
            except _IdleTimeout:
                state.give_up_holding()
                await self._abandon(f"no event for {self._idle_timeout} s (idle_timeout)")
                return
            except _ConnectionLost as exc:
                state.lost(str(exc))
                if await self._end_connection():
                    return
                continue
            except _Unreadable as exc:
                await self._abandon(str(exc))
                return
            if events is None:
                state.lost("the connection closed without a terminal event")
                if await self._end_connection():
                    return
                if self._decoder.finished:
                    await self._abandon("the stream ended without a done or error event")
                continue
            state.arrived()
            if self._first_id is None:
                self._first_id = next((e.id for e in events if e.id is not None), None)
            if not self._filter.active:
                self._failures = 0
                state.progress()
            self._batch, self._pos = events, 0
            return

    async def _end_connection(self) -> bool:
        """Close the connection; True when the stream ended, or left events to deliver."""
        try:
            self._reader.end()
        except _Unreadable as exc:
            await self._abandon(str(exc))
            return True
        held = self._filter.flush() if self._filter.active else []
        await self._reader.close()
        if held:
            self._batch, self._pos = held, 0
        return bool(held)

    async def _reconnect(self) -> bool:
        state = self._state
        url = self.events_url
        if url is None or not state.can_resume:
            return False
        headers = httpx.Headers(
            [
                (name, value)
                for name, value in self._headers.multi_items()
                if name.lower() not in _REQUEST_ONLY_HEADERS
            ]
        )
        max_reconnects = self._limits.max_reconnects
        while self._failures < self._max_retries:
            if self._reconnects >= max_reconnects:
                state.lost(f"gave up after {max_reconnects} reconnections (max_reconnects)")
                return False
            self._failures += 1
            self._reconnects += 1
            await anyio.sleep(self._backoff.delay(self._failures, self._reader.retry_ms))
            self.attempts += 1
            if state.last_event_id is not None:
                headers["Last-Event-ID"] = state.last_event_id
            try:
                response = await self._send("GET", url, headers)
            except httpx.TransportError as exc:
                state.lost(f"reconnecting failed: {exc!r}")
                continue
            except httpx.HTTPError as exc:
                state.lost(f"reconnecting failed: {exc}")
                return False
            if response.is_success and is_event_stream(response):
                self._open(response)
                self._filter.reconnected(state.last_event_id, self._first_id)
                return True
            await response.aclose()
            state.lost(f"the server answered {response.status_code} to the reconnection")
            if fatal_status(response.status_code) or response.is_success:
                return False
        state.lost(f"gave up after {self._max_retries} reconnection attempt(s); {state.reason}")
        return False

    async def text(self) -> str:
        """The answer text of a ``done`` stream (reading what is left of it first): its
        ``Text`` events joined; reasoning and tool calls are not part of it.

        Raises ``StreamFailed`` (``.error``) if it ended with ``error``, ``StreamInterrupted``
        (``.last_event_id``, ``.attempts``, ``.reason``) if it ended without a terminal event.
        """
        async for _ in self:
            pass
        return self._result()

    def _result(self) -> str:
        state = self._state
        outcome = state.outcome
        if isinstance(outcome, Done):
            return self._answer.text
        if isinstance(outcome, Error):
            raise StreamFailed(outcome)
        reason = state.interruption or state.reason
        raise StreamInterrupted(state.last_event_id, self.attempts, reason)

    def _buffered(self) -> bool:
        """True when the next event is already decoded or received (no network wait)."""
        return bool(self._pending) or self._pos < len(self._batch)
