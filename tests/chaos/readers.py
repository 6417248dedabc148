"""How the campaign reads a stream, and what it writes down about it.

Two readers fill the same ``StreamRecord``: ``read_with_client`` uses the product's client
(``surestream.client.aconnect``: resume, dedupe, outcome), ``read_raw`` speaks HTTP/1.1 over
a raw socket, decodes with ``surestream.sse.Decoder`` and resumes by itself with
``Last-Event-ID``. The raw reader checks the server without the client's replay filter in
between: after a resume from ``n`` the first event must be ``n + 1`` (or, for a verdict the
server made up at the resume point, ``n``), so a server that replays too much or too little
is caught here rather than hidden by the client.

Every event delivered is recorded as ``(seq, event)``; a verdict the client or the server made
up outside the journal carries the seq of the event before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from surestream.client import aconnect
from surestream.client._chunked import ChunkedDecoder
from surestream.dialects import get_dialect
from surestream.events import Error, Event, Text, is_terminal
from surestream.sse import Decoder

READ_TIMEOUT = 2.0
"""Seconds without a byte before a reader treats its connection as lost (the gateways send
a heartbeat every 0.5 s, so only a stalled connection gets there)."""

CLIENT_MAX_RETRIES = 8
RAW_MAX_ATTEMPTS = 12
RAW_RETRY_DELAY = 0.3
OPEN_ATTEMPTS = 10
"""Times a reader tries to open a stream answered 502/503 (an instance or Redis restarting)."""

TCP_ESTABLISHED = 1
"""``tcpi_state`` of an established connection (Linux ``TCP_INFO``)."""


@dataclass
class StreamRecord:
    """One stream of the campaign: what was planned, what was seen, what was wrong."""

    index: int
    phase: str
    upstream: str
    path: str
    reader: str
    stream_id: str = ""
    read_token: str = ""
    outcome: str = ""
    events: list[tuple[int, Event]] = field(default_factory=list)
    attempts: int = 0
    refusals: int = 0
    """Opening answers 502/503 that the reader waited out."""
    transient: list[str] = field(default_factory=list)
    """Verdicts made up at a resume point that a resume then replaced (raw reader)."""
    interruption: str | None = None
    pause: float = 0.0
    """At most this many seconds the raw reader stops reading once, after its third event,
    on a connection with a small receive buffer, waiting for the gateway to drop it."""
    dropped: int = 0
    """Connections the server closed on the reader while it was not reading."""
    problems: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, seq: int, event: Event) -> None:
        self.events.append((seq, event))
        if len(self.events) >= 3 or is_terminal(event):
            self.started.set()

    @property
    def text(self) -> str:
        return "".join(e.text for _, e in self.events if isinstance(e, Text))


def outcome_of(events: list[tuple[int, Event]], interruption: str | None) -> str:
    """``done:<finish_reason>``, ``error:<code>`` or ``interrupted``."""
    if not events or not is_terminal(events[-1][1]):
        return "interrupted"
    last = events[-1][1]
    if isinstance(last, Error):
        return f"error:{last.code}"
    return f"done:{last.to_json().get('finish_reason')}"


async def read_with_client(record: StreamRecord, url: str, headers: Mapping[str, str]) -> None:
    """Read with ``aconnect``; a 502/503 on opening is waited out like an application would."""
    timeout = httpx.Timeout(5.0, read=READ_TIMEOUT)
    for _ in range(OPEN_ATTEMPTS):
        try:
            async with aconnect(
                url,
                headers=headers,
                http_timeout=timeout,
                max_retries=CLIENT_MAX_RETRIES,
                idle_timeout=None,
            ) as stream:
                async for event in stream:
                    seq = -1 if stream.last_event_id is None else int(stream.last_event_id)
                    record.add(seq, event)
                record.attempts += stream.attempts
                record.interruption = stream.interruption
            break
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in (502, 503):
                record.problems.append(f"opening answered {exc.response.status_code}")
                break
            record.refusals += 1
            await asyncio.sleep(1.0)
    record.outcome = outcome_of(record.events, record.interruption)
    record.started.set()


class _Lost(Exception):
    pass


async def _read(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
    except (TimeoutError, OSError) as exc:
        raise _Lost(repr(exc)) from None


async def read_raw(record: StreamRecord, port: int, path: str) -> None:
    """Read ``path`` (with its ``?token=``) over raw sockets, resuming by itself."""
    last: int | None = None
    held: Error | None = None
    failures = 0
    while failures < RAW_MAX_ATTEMPTS and not record.outcome:
        if record.attempts:
            await asyncio.sleep(RAW_RETRY_DELAY * min(failures, 5))
        record.attempts += 1
        try:
            reader, writer = await _open(port, small=record.pause > 0)
        except OSError:
            failures += 1
            continue
        try:
            resumed = "" if last is None else f"Last-Event-ID: {last}\r\n"
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                f"Connection: close\r\n{resumed}\r\n".encode()
            )
            got = await _connection(record, reader, writer, last)
        except _Lost:
            got = None
        finally:
            writer.transport.abort()
        if got == "failed":
            break
        if got == "refused":
            record.refusals += 1
        if isinstance(got, Error):
            held = got
        new_last = record.events[-1][0] if record.events else None
        failures = 0 if new_last != last else failures + 1
        last = new_last
    if not record.outcome and held is not None:
        record.add(last if last is not None else -1, held)
        record.outcome = outcome_of(record.events, None)
    if not record.outcome:
        record.interruption = f"raw reader gave up after {record.attempts} connections"
        record.outcome = "interrupted"
    record.started.set()


async def _open(port: int, *, small: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to ``port``; ``small``: a 4 KB receive buffer and a 4 KB stream buffer,
    so that a reader that stops reading stops the server's writes soon."""
    if not small:
        return await asyncio.open_connection("127.0.0.1", port)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=4096)


async def _stop_reading(
    record: StreamRecord, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Take no bytes until the server drops the connection (its ``send_timeout``; at most
    ``record.pause`` seconds), then read what is left of it (the stream resumes on a new
    one): a reset means the server dropped it. Resuming as soon as it was dropped keeps the
    stream within the gateway's ``orphan_grace`` however slowly its answer is produced (on
    loaded cores, waiting for the whole answer got slow readers' streams cancelled)."""
    pause, record.pause = record.pause, 0.0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(pause):
            while _established(writer):  # noqa: ASYNC110 (the kernel's TCP state has no event)
                await asyncio.sleep(0.1)
    try:
        while await asyncio.wait_for(reader.read(65536), READ_TIMEOUT):
            pass
    except TimeoutError:
        return
    except OSError:  # reset: the server aborted the connection
        record.dropped += 1


def _established(writer: asyncio.StreamWriter) -> bool:
    """Whether the connection is still established, seen from this end (``TCP_INFO``)."""
    sock = writer.get_extra_info("socket")
    if sock is None or writer.transport.is_closing():
        return False
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
    except OSError:
        return False
    return info[0] == TCP_ESTABLISHED


async def _connection(
    record: StreamRecord,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    last: int | None,
) -> str | Error | None:
    """Read one connection: None when it was lost, a verdict made up at the resume point
    (to resume past, or to keep if resuming fails), or how it ended."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = await _read(reader)
        if not data:
            return None
        head += data
    head, _, body = head.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    if status in (502, 503, 429):
        return "refused"
    if status != 200:
        record.problems.append(f"raw reader: resume from {last} answered {status}")
        return "failed"
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    unchunk = ChunkedDecoder() if chunked else None
    decoder = Decoder()
    expect_first = True
    previous = last
    dialect = get_dialect("native").decoder()
    data = body
    while True:
        payload = unchunk.feed(data) if unchunk is not None else data
        for sse in decoder.feed(payload):
            if sse.id is None:
                record.problems.append("raw reader: an event without an id")
                continue
            seq = int(sse.id)
            for event in dialect.decode(sse):
                made_up = isinstance(event, Error) and event.retryable and seq == previous
                if expect_first and last is not None and seq != last + 1 and not made_up:
                    record.problems.append(f"raw reader: resumed after {last}, got {seq} first")
                expect_first = False
                if made_up and isinstance(event, Error):
                    record.transient.append(event.code)
                    return event
                record.add(seq, event)
                previous = seq
                if is_terminal(event):
                    record.outcome = outcome_of(record.events, None)
                    return "ended"
                if record.pause and len(record.events) >= 3:
                    await _stop_reading(record, reader, writer)
                    return "lost"
        if unchunk is not None and unchunk.done:
            return "lost"
        data = await _read(reader)
        if not data:
            return "lost"
