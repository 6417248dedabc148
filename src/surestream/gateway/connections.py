"""Limits the gateway enforces on its connections itself, below the ASGI app.

Strategy: an ASGI app sees a request only once its header section is complete, and cannot
close a connection whose client stopped reading (a transport's ``close`` waits for the
write buffer to drain, which never happens). So these limits live in the HTTP protocol
object: ``guarded_http(limits)`` is uvicorn's httptools protocol extended with

- ``max_header_bytes``: a header section (request line included) larger than this is
  answered ``431`` and the connection closed, before the parser holds more of it;
- ``header_timeout``: a connection must complete its request's header section within this
  many seconds of connecting, or of starting the next request: ``408`` and closed (a
  connection that sends nothing is closed too); idle keep-alive is uvicorn's own timer;
- ``body_timeout``: a request body must be complete within this many seconds of its
  headers: ``408`` and closed;
- ``max_connections``: at most this many open connections (and never more than the
  process's file descriptor limit allows, less a reserve): a connection beyond it closes
  the one that has waited longest for a request head, or, if every connection is busy
  with a request, is itself answered ``503`` and closed;
- ``send_timeout``: a client that keeps the connection's write buffer full (it stopped
  reading) for this many seconds has its connection aborted, so a slow reader the stream
  dropped does not keep its descriptor and kernel buffers; when the server shuts down,
  such a client gets ``SHUTDOWN_DRAIN`` seconds more (its stream's ``server_shutdown``
  cannot reach it), so a shutdown is not held up to its grace period and ended with
  cancelled tasks.

Every refusal is one JSON error body, ``Connection: close``. Nothing here runs per byte of
a response; the header count runs per read while a head is incomplete.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from surestream.server import DEFAULT_SEND_TIMEOUT

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_CLIENT_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DESCRIPTOR_RESERVE",
    "SHUTDOWN_DRAIN",
    "ConnectionLimits",
    "guarded_http",
]

log = logging.getLogger("surestream.gateway")

DEFAULT_MAX_HEADER_BYTES = 65_536
"""Bytes of one request's header section, request line included (431 beyond)."""

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a connection has to send a complete header section (408 beyond)."""

DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds a request has to send its whole body after its headers (408 beyond)."""

DEFAULT_MAX_CLIENT_CONNECTIONS = 10_000
"""Open connections (held lower by the file descriptor limit, less ``DESCRIPTOR_RESERVE``)."""

SHUTDOWN_DRAIN = 1.0
"""Seconds a client that takes no bytes keeps its connection once the server shuts down."""

DESCRIPTOR_RESERVE = 64
"""File descriptors kept free of client connections: Redis, upstreams, logs."""

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The limits of ``guarded_http``; see the module docstring. None: no limit."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout: float | None = DEFAULT_HEADER_TIMEOUT
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CLIENT_CONNECTIONS
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT

    def usable_connections(self) -> int:
        """``max_connections``, held under the soft file descriptor limit less the reserve."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - DESCRIPTOR_RESERVE))


def _refusal(status: int, code: str, message: str) -> bytes:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n" % (status, _REASONS[status])
    if status == 503:
        head += b"retry-after: 1\r\n"
    return head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body


class _GuardedHttp(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the limits of ``limits`` (set by ``guarded_http``)."""

    limits: ConnectionLimits
    capacity: int
    shutdown_drops = 0
    """Connections this process aborted at shutdown (the first one is logged)."""
    made = 0
    """Connections made so far: ties of ``_waiting_since`` go to the older connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._waiting_since: tuple[float, int] | None = None
        """When this connection began waiting for a request head (None: in a request), and
        its number (the loop's clock may give connections made together one time)."""
        self._number = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._shutting_down = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection against ``max_connections``; start the header clock."""
        super().connection_made(transport)
        cls = type(self)
        cls.made += 1
        self._number = cls.made
        self._wait_for_head()
        if len(self.connections) > self.capacity and not self._evict_one():
            self._refuse(503, "unavailable", "the gateway has too many open connections")

    def _evict_one(self) -> bool:
        """Close the other connection that has waited longest for a request head."""
        oldest: _GuardedHttp | None = None
        since = (float("inf"), 0)
        for other in self.connections:
            if other is self or not isinstance(other, _GuardedHttp):
                continue
            waiting = other._waiting_since
            if waiting is not None and waiting < since:
                oldest, since = other, waiting
        if oldest is None:
            return False
        oldest.transport.close()
        oldest.connections.discard(oldest)
        return True

    def _wait_for_head(self) -> None:
        if self._waiting_since is None:
            self._waiting_since = (self.loop.time(), self._number)
        timeout = self.limits.header_timeout
        if timeout is not None and self._head_timer is None:
            self._head_timer = self.loop.call_later(timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop every timer of the connection."""
        for timer in (self._head_timer, self._body_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._write_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse a header section over ``max_header_bytes``."""
        waiting = self._waiting_since is not None
        if waiting:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            waiting
            and self._waiting_since is not None
            and self._head_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(
                431,
                "request_header_fields_too_large",
                f"the request's header section exceeds max_header_bytes "
                f"({self.limits.max_header_bytes} bytes)",
            )

    def on_message_begin(self) -> None:
        """A request starts: its head must be complete within ``header_timeout``."""
        super().on_message_begin()
        self._wait_for_head()

    def on_headers_complete(self) -> None:
        """Stop the header clock; start the body clock if a body follows."""
        self._waiting_since = None
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        timeout = self.limits.body_timeout
        if timeout is not None and self._has_body():
            self._body_timer = self.loop.call_later(timeout, self._body_too_slow)

    def _has_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return True
        return False

    def on_message_complete(self) -> None:
        """The body is complete: stop its clock."""
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """The connection may now wait for its next request (keep-alive)."""
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._waiting_since = (self.loop.time(), self._number)

    def pause_writing(self) -> None:
        """The client stopped taking bytes: abort the connection after ``send_timeout``."""
        super().pause_writing()
        if self._shutting_down:
            self._stall_at_shutdown()
            return
        timeout = self.limits.send_timeout
        if timeout is not None and self._write_timer is None:
            self._write_timer = self.loop.call_later(timeout, self._reader_too_slow)

    def resume_writing(self) -> None:
        """The client reads again."""
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().resume_writing()

    def shutdown(self) -> None:
        """The server shuts down: a client that takes no bytes (now or later) is aborted
        ``SHUTDOWN_DRAIN`` seconds after it stopped."""
        super().shutdown()
        self._shutting_down = True
        # From now on one byte the client does not take pauses writing, and so starts the
        # drain clock: a buffer below the usual high-water mark (a writer that had not yet
        # filled it, a last event queued behind a full socket) would never pause.
        self.transport.set_write_buffer_limits(high=0)
        if self.flow is not None and self.flow.write_paused:
            self._stall_at_shutdown()

    def _stall_at_shutdown(self) -> None:
        if self.transport.is_closing() and not self.transport.get_write_buffer_size():
            return
        if self._write_timer is not None:
            self._write_timer.cancel()
        self._write_timer = self.loop.call_later(SHUTDOWN_DRAIN, self._stuck_at_shutdown)

    def _stuck_at_shutdown(self) -> None:
        self._write_timer = None
        cls = type(self)
        if not cls.shutdown_drops:
            log.warning(
                "shutting down: dropping the clients that take no bytes (they resume elsewhere)"
            )
        cls.shutdown_drops += 1
        self.transport.abort()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        timeout = self.limits.header_timeout
        self._refuse(408, "request_timeout", f"no complete request head within {timeout:g} s")

    def _body_too_slow(self) -> None:
        self._body_timer = None
        timeout = self.limits.body_timeout
        self._refuse(408, "request_timeout", f"the request body took over {timeout:g} s")

    def _reader_too_slow(self) -> None:
        self._write_timer = None
        timeout = self.limits.send_timeout
        log.warning("dropping a client that took no bytes for %g s; connection closed", timeout)
        self.transport.abort()

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` (unless a response is under way) and close the connection."""
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_refusal(status, code, message))
        self.transport.close()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()


def guarded_http(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class with ``limits`` (pass it as ``Config(http=...)``)."""
    return type(
        "GuardedHttpToolsProtocol",
        (_GuardedHttp,),
        {"limits": limits, "capacity": limits.usable_connections()},
    )
