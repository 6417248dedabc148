"""The limits ``surestream serve`` enforces on its connections itself (no proxy in front).

Header size, header time and body time, the cap on open connections, a slow reader's
connection really closed, and a shutdown not held up by clients that take no bytes; each
against a real ``surestream serve`` over raw sockets, the gateway's memory and descriptors
read from ``/proc``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote_plus

import pytest
from tests.support.servers import RunningFake, ServerProcess, gateway_process

HANG_GUARD = 30.0
"""Seconds a socket read may wait before the test fails instead of hanging."""

BIG = "text=" + quote_plus(" ".join(["w" * 8000] * 3000))
"""A fake scenario answering 24 MB in 8 KB words: far more than socket buffers hold."""


def connect(gateway: ServerProcess, *, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(HANG_GUARD)
    sock.connect(("127.0.0.1", gateway.port))
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def post(path: str, body: bytes, *, declared: int | None = None) -> bytes:
    length = len(body) if declared is None else declared
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + body


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (``/proc`` has no event to wait on) until true, or fail."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def send_queues(port: int) -> list[int]:
    """The bytes each established connection of the server on ``port`` has not sent (``ss``)."""
    shown = subprocess.run(
        ["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [int(line.split()[1]) for line in shown.splitlines()]


def stuck_connections(port: int) -> int:
    """Connections of the server on ``port`` with over 1 MB it cannot send."""
    return sum(queued > 1_000_000 for queued in send_queues(port))


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := sock.recv(size - len(data))):
        data += chunk
    return data


@pytest.fixture
def fake_flags(fake: RunningFake) -> list[str]:
    return [
        "--upstream",
        f"fk={fake.base_url}",
        "--model",
        "fake=fk:fake-model",
        "--max-journal-bytes",
        "100000000",
    ]


@pytest.fixture
def gateway(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    flags: list[str] = list(getattr(request, "param", []))
    with gateway_process(*flags) as process:
        yield process


@pytest.mark.parametrize("gateway", [["--max-header-bytes", "4096"]], indirect=True)
def test_a_header_section_over_max_header_bytes_is_431(gateway: ServerProcess) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)
        status, headers, body = answer(read_until_closed(sock))
    assert status == 431
    assert headers["connection"] == "close"
    assert body == {
        "error": {
            "code": "request_header_fields_too_large",
            "message": "the request's header section exceeds max_header_bytes (4096 bytes)",
        }
    }


def test_slowloris_header_floods_stay_bounded_in_memory() -> None:
    """The issue's case: 16 connections each sending a 32 MiB header section held 587 MB."""
    with gateway_process() as gateway:
        pid = gateway.proc.pid
        before = status_kib(pid, "VmHWM")
        chunk = b"a" * 65536
        socks = [connect(gateway) for _ in range(16)]
        refused = 0
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            try:
                for _ in range(512):  # 32 MiB
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                refused += 1
            sock.close()
        peak = status_kib(pid, "VmHWM") - before
    assert refused == 16, "each connection is refused long before 32 MiB"
    assert peak < 32 * 1024, f"peak RSS grew by {peak} KiB"


@pytest.mark.parametrize("gateway", [["--header-timeout", "0.5"]], indirect=True)
def test_a_head_not_complete_within_header_timeout_is_408(gateway: ServerProcess) -> None:
    with connect(gateway) as silent, connect(gateway) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for sock in (silent, slow):
            status, headers, body = answer(read_until_closed(sock))
            assert (status, headers["connection"]) == (408, "close")
            assert body == {
                "error": {
                    "code": "request_timeout",
                    "message": "no complete request head within 0.5 s",
                }
            }
    with connect(gateway) as prompt:
        prompt.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_closed(prompt).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("gateway", [["--body-timeout", "0.5"]], indirect=True)
def test_a_body_not_complete_within_body_timeout_is_408(gateway: ServerProcess) -> None:
    with connect(gateway) as sock:
        sock.sendall(post("/v1/streams", b'{"model":', declared=100))
        status, _, body = answer(read_until_closed(sock))
    assert status == 408
    assert body == {
        "error": {"code": "request_timeout", "message": "the request body took over 0.5 s"}
    }


@pytest.mark.parametrize(
    "gateway", [["--max-connections", "20", "--demo-tokens-per-second", "2"]], indirect=True
)
def test_max_connections_closes_idle_ones_first_then_refuses(gateway: ServerProcess) -> None:
    pid = gateway.proc.pid
    baseline = open_descriptors(pid)
    idle = [connect(gateway) for _ in range(40)]
    with connect(gateway) as health:
        health.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_closed(health).startswith(b"HTTP/1.1 200")
    closed = sum(read_until_closed(sock) == b"" for sock in idle[:21])
    for sock in idle:
        sock.close()
    assert closed == 21, "the longest-waiting idle connections were closed"
    wait_for(lambda: open_descriptors(pid) == baseline, "the idle connections were not closed")
    chat = json.dumps({"model": "demo", "messages": [{"role": "user", "content": "hi"}]})
    busy = [connect(gateway) for _ in range(20)]
    for sock in busy:
        sock.sendall(post("/v1/chat/stream", chat.encode()))
        assert receive_exactly(sock, 12) == b"HTTP/1.1 200"
    with connect(gateway) as refused:
        status, headers, body = answer(read_until_closed(refused))
    for sock in busy:
        sock.close()
    assert (status, headers["retry-after"]) == (503, "1")
    assert body == {
        "error": {"code": "unavailable", "message": "the gateway has too many open connections"}
    }


def blocked_readers(gateway: ServerProcess, fake: RunningFake, count: int) -> list[socket.socket]:
    """``count`` clients that ask for a 24 MB answer and read none of it."""
    chat = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "hi"}]})
    socks = []
    for _ in range(count):
        fake.fake.enqueue(BIG)
        sock = connect(gateway, receive_buffer=4096)
        sock.sendall(post("/v1/chat/stream", chat.encode()))
        socks.append(sock)
    return socks


def test_a_dropped_slow_reader_is_really_closed_with_one_log_line(
    fake: RunningFake, fake_flags: list[str]
) -> None:
    with gateway_process(*fake_flags, "--send-timeout", "1") as gateway:
        pid = gateway.proc.pid
        baseline = open_descriptors(pid)
        socks = blocked_readers(gateway, fake, 3)
        # 3 clients and their 3 upstream connections, then none
        wait_for(lambda: open_descriptors(pid) >= baseline + 6, "the streams did not start")
        wait_for(lambda: open_descriptors(pid) <= baseline, "the dropped connections stayed open")
        assert send_queues(gateway.port) == [], "the server still holds connections"
        received = []
        for sock in socks:  # the client sees the end: EOF or a reset, not a read that waits
            with sock:
                received.append(read_until_closed(sock))
    output = "".join(gateway.output)  # all of it: stopping the gateway waits for its output
    assert all(b'"type":"done"' not in got and len(got) < len(BIG) for got in received)
    assert output.count("dropping a client that took no bytes for 1 s; connection closed") == 3
    assert "Traceback" not in output and "ERROR" not in output, output


def test_sigterm_with_blocked_writers_exits_soon_with_one_line(
    fake: RunningFake, fake_flags: list[str]
) -> None:
    with gateway_process(*fake_flags) as gateway:
        socks = blocked_readers(gateway, fake, 3)
        wait_for(lambda: stuck_connections(gateway.port) == 3, "the writers did not block")
        code = gateway.stop(signal.SIGTERM)
        for sock in socks:
            sock.close()
        output = "".join(gateway.output)
    assert code == 0
    assert output.count("shutting down: dropping the clients that take no bytes") == 1
    assert "Traceback" not in output and "ERROR" not in output, output
