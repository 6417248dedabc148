"""Hostile peers the campaign sets on the gateways directly (no nginx in front), while the
mixed streams run: slowloris heads, header floods, idle connections, and clients that break
the protocol or hang up at the worst moment.

Each attack is one connection with an expected answer; ``Attacks.outcomes`` counts
``(attack, what happened)`` and ``Attacks.problems`` lists every answer that was not one of
the expected ones (a slowloris connection still open long after ``header_timeout``, a
header flood the gateway kept reading, a 5xx, ...).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field

FLOOD_BYTES = 32 * 1024 * 1024
"""What a header flood tries to send: the issue's 32 MiB header section."""

EXPECTED: dict[str, set[str]] = {
    "slowloris": {"408", "closed"},
    "header flood": {"431", "reset"},
    "idle": {"408", "closed"},
    "garbage": {"400", "closed", "reset"},
    "bad chunked body": {"400", "closed", "reset"},
    "encoded token": {"401"},
    "huge last-event-id": {"431"},
    "reset mid-stream": {"reset sent"},
    "half close": {"200", "closed"},
}


@dataclass
class Attacks:
    """The attacks on one gateway port; ``path`` is a live stream's events path to hit."""

    port: int
    header_timeout: float
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def note(self, attack: str, outcome: str) -> None:
        self.outcomes[(attack, outcome)] += 1
        if outcome not in EXPECTED[attack]:
            self.problems.append(f"{attack} on port {self.port}: {outcome}")

    async def run(self, path: str, token: str, api_key: str, scale: int = 1) -> None:
        """Every attack, ``scale`` times over (slowloris and idle ones 10 times as many)."""
        jobs = []
        for _ in range(scale):
            jobs += [self.slowloris() for _ in range(10)]
            jobs += [self.idle() for _ in range(10)]
            jobs += [self.header_flood() for _ in range(2)]
            jobs += [
                self.garbage(),
                self.bad_chunked_body(api_key),
                self.encoded_token(path, token),
                self.huge_last_event_id(path, api_key),
                self.reset_mid_stream(path, api_key),
                self.half_close(),
            ]
        await asyncio.gather(*jobs)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def _answer(self, reader: asyncio.StreamReader, within: float) -> str:
        """The status of the answer, ``closed`` (no answer), ``reset``, or ``open``."""
        try:
            data = await asyncio.wait_for(reader.read(65536), within)
        except TimeoutError:
            return "open"
        except OSError:
            return "reset"
        if not data:
            return "closed"
        return data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.") else "garbled"

    async def slowloris(self) -> None:
        """A head one header line at a time, never finished."""
        reader, writer = await self._connect()
        outcome = "open"
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            for line in range(int(self.header_timeout * 3) + 2):
                try:
                    writer.write(b"X-Slow-%d: 1\r\n" % line)
                    await writer.drain()
                except OSError:
                    outcome = "closed"
                    break
                outcome = await self._answer(reader, 1.0)
                if outcome != "open":
                    break
        finally:
            writer.transport.abort()
        self.note("slowloris", outcome)

    async def idle(self) -> None:
        """A connection that sends nothing."""
        reader, writer = await self._connect()
        try:
            outcome = await self._answer(reader, self.header_timeout * 3)
        finally:
            writer.transport.abort()
        self.note("idle", outcome)

    async def header_flood(self) -> None:
        """A 32 MiB header value, sent as fast as the gateway takes it."""
        reader, writer = await self._connect()
        outcome = "accepted"
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
            chunk = b"a" * 65536
            for _ in range(FLOOD_BYTES // len(chunk)):
                writer.write(chunk)
                try:
                    await writer.drain()
                except OSError:
                    outcome = "reset"
                    break
                if reader.at_eof() or writer.transport.is_closing():
                    break
            if outcome == "accepted":
                outcome = await self._answer(reader, self.header_timeout)
        finally:
            writer.transport.abort()
        self.note("header flood", outcome if outcome != "closed" else "reset")

    async def _exchange(self, attack: str, request: bytes) -> None:
        reader, writer = await self._connect()
        try:
            writer.write(request)
            outcome = await self._answer(reader, self.header_timeout * 3)
        except OSError:
            outcome = "reset"
        finally:
            writer.transport.abort()
        self.note(attack, outcome)

    async def garbage(self) -> None:
        """Bytes that are no HTTP request."""
        await self._exchange("garbage", bytes(range(256)) * 16)

    async def bad_chunked_body(self, api_key: str) -> None:
        """A chunked body whose chunk size is not hex."""
        await self._exchange(
            "bad chunked body",
            b"POST /v1/streams HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + api_key.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        )

    async def encoded_token(self, path: str, token: str) -> None:
        """A valid read token under another spelling of ``token=``: refused (and masked)."""
        await self._exchange(
            "encoded token", f"GET {path}?%74oken={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )

    async def huge_last_event_id(self, path: str, api_key: str) -> None:
        """A 1 MB ``Last-Event-ID``."""
        await self._exchange(
            "huge last-event-id",
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_key}\r\n".encode()
            + b"Last-Event-ID: "
            + b"7" * 1_000_000
            + b"\r\n\r\n",
        )

    async def reset_mid_stream(self, path: str, api_key: str) -> None:
        """Read a few bytes of a stream, then hang up with a reset (``SO_LINGER`` 0)."""
        reader, writer = await self._connect()
        try:
            auth = f"Authorization: Bearer {api_key}\r\n"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            await asyncio.wait_for(reader.read(64), self.header_timeout * 3)
        finally:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self.note("reset mid-stream", "reset sent")

    async def half_close(self) -> None:
        """A whole request, then the client's side of the connection shut."""
        reader, writer = await self._connect()
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            writer.write_eof()
            outcome = await self._answer(reader, self.header_timeout * 3)
        finally:
            writer.transport.abort()
        self.note("half close", outcome)
