"""An httpx transport for long-lived event streams: one connection per request, bulk body reads.

Strategy: httpx's default transport hands the body up one HTTP chunk at a time through h11,
httpcore and httpx, about 5 µs of CPU per chunk; an SSE server writes one chunk per event, so
that per-chunk path, not SSE parsing, bounds how many events a client can take in. This
transport still uses h11 to write the request and to parse the response head, then reads the
body itself: each socket read (up to ``read_size`` bytes) goes through ``ChunkedDecoder`` in
one call and reaches httpx as one block. Everything above the transport (auth, redirects,
cookies, event hooks, timeouts, proxies from the environment) stays httpx's.

Connections are not pooled or reused: a stream holds its connection for its whole life, and
closing the response closes the socket. HTTP/1.1 over TCP, with TLS for ``https``. Failures
surface as the httpx exceptions httpx's own transport raises (``ConnectError``,
``ConnectTimeout``, ``ReadTimeout``, ``ReadError``, ``WriteTimeout``, ``RemoteProtocolError``).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import h11
import httpx

from surestream._chunked import ChunkedDecoder, ChunkedError

__all__ = ["DEFAULT_READ_SIZE", "StreamingTransport"]

DEFAULT_READ_SIZE = 256 * 1024
"""Most bytes taken from the socket per read; a body block handed to httpx is at most this."""

_HEAD_READ_SIZE = 64 * 1024


def _timeout(request: httpx.Request, kind: str) -> float | None:
    value = request.extensions.get("timeout", {}).get(kind)
    return None if value is None else float(value)


class _Connection:
    """One socket with the timeouts of one request."""

    __slots__ = ("read_size", "read_timeout", "request", "stream")

    def __init__(
        self, stream: anyio.abc.ByteStream, request: httpx.Request, read_size: int
    ) -> None:
        self.stream = stream
        self.request = request
        self.read_size = read_size
        self.read_timeout = _timeout(request, "read")

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``b""`` once the peer closed."""
        try:
            with anyio.fail_after(self.read_timeout):
                return await self.stream.receive(size)
        except TimeoutError:
            raise httpx.ReadTimeout(
                "timed out reading the response", request=self.request
            ) from None
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return b""
        except (OSError, anyio.BrokenResourceError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=self.request) from exc

    async def write(self, data: bytes) -> None:
        """Send all of ``data`` within the request's write timeout."""
        try:
            with anyio.fail_after(_timeout(self.request, "write")):
                await self.stream.send(data)
        except TimeoutError:
            raise httpx.WriteTimeout(
                "timed out sending the request", request=self.request
            ) from None
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=self.request) from exc

    async def aclose(self) -> None:
        """Close the socket (without waiting on the peer)."""
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()


class _Body(httpx.AsyncByteStream):
    """A response body read straight from the socket, in blocks of whole reads."""

    def __init__(self, conn: _Connection, head: bytes, framing: str, length: int) -> None:
        self._conn = conn
        self._head = head
        self._framing = framing
        self._length = length
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        data = self._head
        size = conn.read_size
        if self._framing == "chunked":
            decoder = ChunkedDecoder()
            try:
                while True:
                    if data:
                        block = decoder.feed(data)
                        if block:
                            yield block
                        if decoder.done:
                            return
                    data = await conn.read(size)
                    if not data:
                        raise httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body: "
                            "incomplete chunked read",
                            request=conn.request,
                        )
            except ChunkedError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=conn.request) from exc
        elif self._framing == "length":
            left = self._length
            while left > 0:
                if data:
                    data = data[:left]
                    left -= len(data)
                    yield data
                if left > 0:
                    data = await conn.read(min(size, left))
                    if not data:
                        raise httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body",
                            request=conn.request,
                        )
        else:
            while True:
                if data:
                    yield data
                data = await conn.read(size)
                if not data:
                    return

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._conn.aclose()


class StreamingTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 transport that reads response bodies in bulk; one connection per request.

    ``verify`` is an ``ssl.SSLContext`` or True/False, as for httpx; ``read_size`` is
    ``DEFAULT_READ_SIZE`` unless given.
    """

    def __init__(
        self, *, verify: ssl.SSLContext | bool = True, read_size: int = DEFAULT_READ_SIZE
    ) -> None:
        if read_size < 1:
            raise ValueError("read_size must be >= 1")
        self.read_size = read_size
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            verify = self._verify
            self._ssl = (
                verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
            )
        return self._ssl

    async def _open(self, request: httpx.Request) -> _Connection:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"unsupported URL scheme {url.scheme!r}", request=request
            )
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        try:
            with anyio.fail_after(_timeout(request, "connect")):
                if tls:
                    stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                        url.host, port, ssl_context=self._ssl_context(), tls_hostname=url.host
                    )
                else:
                    stream = await anyio.connect_tcp(url.host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"timed out connecting to {url.host}:{port}", request=request
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(stream, request, self.read_size)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a new connection and return once the response head arrived."""
        conn = await self._open(request)
        try:
            return await self._exchange(conn, request)
        except BaseException:
            await conn.aclose()
            raise

    async def _exchange(self, conn: _Connection, request: httpx.Request) -> httpx.Response:
        h11_conn = h11.Connection(h11.CLIENT)
        try:
            out = (
                h11_conn.send(
                    h11.Request(
                        method=request.method,
                        target=request.url.raw_path,
                        headers=list(request.headers.raw),
                    )
                )
                or b""
            )
            if not isinstance(request.stream, httpx.AsyncByteStream):
                raise httpx.LocalProtocolError("request body is not async", request=request)
            async for part in request.stream:
                out += h11_conn.send(h11.Data(data=part)) or b""
            out += h11_conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        await conn.write(out)
        while True:
            try:
                event = h11_conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                data = await conn.read(_HEAD_READ_SIZE)
                if not data:
                    raise httpx.RemoteProtocolError(
                        "server disconnected without sending a response", request=request
                    )
                h11_conn.receive_data(data)
            elif isinstance(event, h11.Response):
                break
        head, _ = h11_conn.trailing_data
        headers = httpx.Headers(list(event.headers))
        framing, length = _framing(request, event.status_code, headers)
        return httpx.Response(
            status_code=event.status_code,
            headers=list(event.headers),
            stream=_Body(conn, head, framing, length),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": event.reason},
        )


def _framing(request: httpx.Request, status: int, headers: httpx.Headers) -> tuple[str, int]:
    if request.method == "HEAD" or status in (204, 304):
        return "length", 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked", 0
    if "content-length" in headers:
        try:
            return "length", int(headers["content-length"])
        except ValueError:
            raise httpx.RemoteProtocolError("bad Content-Length", request=request) from None
    return "close", 0
