"""HTTP/1.1 chunked transfer coding, decoded in bulk: framed bytes in, payload bytes out.

Strategy: ``ChunkedDecoder.feed(data)`` strips the chunk framing (RFC 9112 section 7.1) from
whatever bytes the socket gave and returns the payload they carry, joined into one ``bytes``;
``done`` turns true after the last chunk and its trailer section. An SSE server writes one
small chunk per event, so the decoder's unit of work is the socket read, never the chunk: one
call handles the thousand chunks a 64 KiB read holds. Chunk extensions and trailers are
skipped. A malformed size line, a missing CRLF after the data, or a size line longer than
``max_line`` raises ``ChunkedError``. Sans-IO: no sockets, no asyncio.
"""

from __future__ import annotations

from surestream.errors import ChunkedError

__all__ = ["DEFAULT_MAX_LINE", "ChunkedDecoder", "ChunkedError"]

DEFAULT_MAX_LINE = 4096
"""Longest chunk-size line (with extensions) or trailer line accepted, in bytes."""

_CRLF = b"\r\n"


class ChunkedDecoder:
    """Incremental decoder of one chunked message body."""

    __slots__ = ("_crlf", "_pending", "_remaining", "_trailers", "done", "max_line")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self.done = False
        self._pending = b""
        self._remaining = 0
        self._crlf = 0
        self._trailers = False

    def feed(self, data: bytes) -> bytes:
        """The payload carried by ``data`` (``b""`` if it held only framing)."""
        if self._pending:
            data = self._pending + data
            self._pending = b""
        out: list[bytes] = []
        pos = 0
        size = len(data)
        while pos < size and not self.done:
            if self._remaining:
                end = pos + self._remaining
                if end > size:
                    out.append(data[pos:])
                    self._remaining = end - size
                    break
                out.append(data[pos:end])
                self._remaining = 0
                self._crlf = 2
                pos = end
            if self._crlf:
                pos = self._skip_crlf(data, pos)
                continue
            eol = data.find(_CRLF, pos)
            if eol < 0:
                if size - pos > self.max_line:
                    raise ChunkedError(f"chunk size line longer than {self.max_line} bytes")
                self._pending = data[pos:]
                break
            if eol - pos > self.max_line:
                raise ChunkedError(f"chunk size line longer than {self.max_line} bytes")
            line = data[pos:eol]
            pos = eol + 2
            if self._trailers:
                self.done = not line
                continue
            length = self._size(line)
            if length == 0:
                self._trailers = True
                continue
            end = pos + length
            if end + 2 <= size and data[end : end + 2] == _CRLF:
                out.append(data[pos:end])
                pos = end + 2
            else:
                self._remaining = length
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def _skip_crlf(self, data: bytes, pos: int) -> int:
        expected = _CRLF[2 - self._crlf :]
        got = data[pos : pos + len(expected)]
        if not expected.startswith(got):
            raise ChunkedError("chunk data not followed by CRLF")
        self._crlf -= len(got)
        return pos + len(got)

    @staticmethod
    def _size(line: bytes) -> int:
        try:
            length = int(line, 16)
        except ValueError:
            pass
        else:
            if length >= 0:
                return length
        digits = line.split(b";", 1)[0].strip(b" \t")
        if not digits or digits.strip(b"0123456789abcdefABCDEF"):
            raise ChunkedError(f"bad chunk size line {line[:40]!r}")
        return int(digits, 16)
