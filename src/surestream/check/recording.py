"""What one connection to an SSE endpoint looked like: a timed recording, as plain data.

Strategy: ``Recorder`` is a sans-IO state machine. Whoever owns the socket (``record.py``)
tells it when the headers came (``on_headers``), hands it every chunk of the body with the
time it arrived (``on_bytes``) and says how the body ended (``on_end``); ``recording`` is then
a ``Recording``: the request, the response head, every event the WHATWG ``Decoder`` produced
with its arrival time, every comment line (heartbeat) with its time, and every chunk's time
and size. Times are seconds since the request was sent, from whatever clock the caller uses,
so tests build recordings from literal bytes and literal times without a socket. The
``Decoder`` drops comments, so ``Recorder`` also scans the raw lines for them itself.
No I/O, no asyncio, no printing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from surestream.errors import SSEProtocolError
from surestream.sse import Decoder

__all__ = [
    "BODY_PREVIEW_SIZE",
    "END_BROKEN",
    "END_CLOSED",
    "END_CUT",
    "END_NO_RESPONSE",
    "END_PROTOCOL_ERROR",
    "END_TIMEOUT",
    "RecordedComment",
    "RecordedEvent",
    "Recorder",
    "Recording",
    "Request",
    "ResumeRecording",
    "replay",
]

BODY_PREVIEW_SIZE = 2048
"""How many leading body bytes a recording keeps verbatim (to show a non-SSE body)."""

END_CLOSED = "closed"
"""The server ended the body normally."""
END_TIMEOUT = "timeout"
"""The overall time bound ran out while the body was still open."""
END_BROKEN = "broken"
"""The connection failed mid-body (reset, truncated chunked encoding, ...)."""
END_CUT = "cut"
"""The recorder closed the connection on purpose (the first half of a resume test)."""
END_NO_RESPONSE = "no_response"
"""No response head arrived: connection refused, DNS failure, or time ran out first."""
END_PROTOCOL_ERROR = "protocol_error"
"""The body broke an SSE decoder limit (an event larger than the limit)."""

_MAX_PENDING_LINE = 256
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Request:
    """The request that was sent: method, URL, headers (in order) and body."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def with_header(self, name: str, value: str) -> Request:
        """A copy with ``name`` set to ``value`` (replacing any header of that name)."""
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return Request(self.url, self.method, (*kept, (name, value)), self.body)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One dispatched SSE event: its position, arrival time and fields.

    ``event`` is the type a browser sees (``message`` when the block had no ``event:``
    line); ``id`` is the last event ID at dispatch time.
    """

    index: int
    t: float
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


@dataclass(frozen=True, slots=True)
class RecordedComment:
    """One comment line (``: ping``) and when it arrived; the text is without the colon."""

    t: float
    text: str


@dataclass(slots=True)
class Recording:
    """Everything observed on one connection, with times in seconds since the request."""

    request: Request
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    final_url: str = ""
    t_headers: float | None = None
    events: list[RecordedEvent] = field(default_factory=list)
    comments: list[RecordedComment] = field(default_factory=list)
    chunks: list[tuple[float, int]] = field(default_factory=list)
    body_preview: bytes = b""
    body_size: int = 0
    end: str = END_NO_RESPONSE
    t_end: float | None = None
    error: str | None = None
    timeout: float | None = None

    def header(self, name: str) -> str | None:
        """The response header ``name`` (all values joined by ``, ``), or None."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def responded(self) -> bool:
        """True when a response head arrived."""
        return self.status is not None


@dataclass(slots=True)
class ResumeRecording:
    """The two connections of a resume test.

    ``first`` was cut on purpose after some events; ``second`` reconnected with
    ``Last-Event-ID: last_event_id`` to ``second.request.url``.
    """

    first: Recording
    second: Recording
    last_event_id: str


class _CommentScanner:
    """Finds complete comment lines in a byte stream cut at arbitrary points."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[str]:
        lines = _LINE_BREAK.split(self._pending + chunk)
        pending = lines.pop()
        # Only a line's start decides whether it is a comment; the rest can be dropped.
        self._pending = pending[:_MAX_PENDING_LINE]
        return [
            line[1:].decode("utf-8", "replace").removeprefix(" ")
            for line in lines
            if line[:1] == b":"
        ]


class Recorder:
    """Builds a ``Recording`` from the calls of whoever reads the socket."""

    __slots__ = ("_comments", "_decoder", "recording")

    def __init__(self, request: Request, *, max_event_size: int | None = None) -> None:
        self.recording = Recording(request=request, final_url=request.url)
        self._decoder = Decoder() if max_event_size is None else Decoder(max_event_size)
        self._comments = _CommentScanner()

    def on_headers(
        self,
        t: float,
        status: int,
        headers: Iterable[tuple[str, str]],
        *,
        reason: str = "",
        http_version: str = "",
        final_url: str | None = None,
    ) -> None:
        """The response head arrived at ``t``."""
        rec = self.recording
        rec.t_headers = t
        rec.status = status
        rec.reason = reason
        rec.http_version = http_version
        rec.headers = list(headers)
        if final_url is not None:
            rec.final_url = final_url

    def on_bytes(self, t: float, chunk: bytes) -> int:
        """Body bytes arrived at ``t``; returns how many events they completed.

        Raises ``SSEProtocolError`` when the body breaks a decoder limit; the caller then
        ends the recording with ``END_PROTOCOL_ERROR``.
        """
        if not chunk:
            return 0
        rec = self.recording
        rec.chunks.append((t, len(chunk)))
        if len(rec.body_preview) < BODY_PREVIEW_SIZE:
            rec.body_preview += chunk[: BODY_PREVIEW_SIZE - len(rec.body_preview)]
        rec.body_size += len(chunk)
        rec.comments.extend(RecordedComment(t, text) for text in self._comments.feed(chunk))
        added = self._decoder.feed(chunk)
        for sse in added:
            rec.events.append(
                RecordedEvent(len(rec.events), t, sse.event, sse.data, sse.id, sse.retry)
            )
        return len(added)

    def on_end(self, t: float, how: str, error: str | None = None) -> Recording:
        """The body ended at ``t`` (``how`` is one of the ``END_*`` names)."""
        rec = self.recording
        if how == END_CLOSED:
            self._decoder.close()
        rec.end = how
        rec.t_end = t
        rec.error = error
        return rec

    @property
    def last_event_id(self) -> str | None:
        """The ``Last-Event-ID`` a reconnecting client would send now."""
        return self._decoder.last_event_id


def replay(
    request: Request,
    status: int,
    headers: Sequence[tuple[str, str]],
    timeline: Iterable[tuple[float, bytes]],
    *,
    t_headers: float = 0.0,
    end: str = END_CLOSED,
    t_end: float | None = None,
    error: str | None = None,
) -> Recording:
    """A recording made from literal data: a response head, then ``(time, bytes)`` chunks.

    For tests and for re-analysing a saved stream; ``t_end`` defaults to the last chunk's
    time.
    """
    recorder = Recorder(request)
    recorder.on_headers(t_headers, status, headers)
    last = t_headers
    for t, chunk in timeline:
        try:
            recorder.on_bytes(t, chunk)
        except SSEProtocolError as exc:
            return recorder.on_end(t, END_PROTOCOL_ERROR, str(exc))
        last = t
    return recorder.on_end(last if t_end is None else t_end, end, error)
