"""Server shutdown: every open stream gets ``server_shutdown`` (retryable), then closes."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from surestream.events import Error, Text
from surestream.server import EventStreamResponse, request_shutdown
from tests.server._helpers import (
    Gate,
    Probe,
    assert_verdict,
    decode,
    fetch,
    scripted,
    serving,
)
from tests.support.servers import uvicorn_process

SHUTDOWN = Error("server_shutdown", "the server is shutting down", True)


@dataclass
class Reader:
    """A real HTTP client reading one stream to its end in a thread."""

    url: str
    ready_marker: bytes
    ready: threading.Event = field(default_factory=threading.Event)
    raw: bytes = b""
    thread: threading.Thread | None = None

    def start(self) -> Reader:
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self) -> None:
        with httpx.Client(timeout=30) as client, client.stream("GET", self.url) as response:
            for chunk in response.iter_raw():
                self.raw += chunk
                if self.ready_marker in self.raw:
                    self.ready.set()

    def join(self) -> bytes:
        assert self.thread is not None
        self.thread.join(30)
        assert not self.thread.is_alive(), "the stream was left hanging"
        return self.raw


@pytest.mark.parametrize("grace", [None, 10])
def test_sigterm_ends_every_open_stream_with_server_shutdown(grace: int | None) -> None:
    args = [] if grace is None else ["--timeout-graceful-shutdown", str(grace)]
    markers = {"silent": b'"start"', "midstream": b'"two"', "busy": b'"word"'}
    with uvicorn_process("tests.server.apps:app", args=args) as server:
        readers = {name: Reader(f"{server.url}/{name}", m).start() for name, m in markers.items()}
        for reader in readers.values():
            assert reader.ready.wait(20)
        sent_at = time.monotonic()
        code = server.stop(signal.SIGTERM)
        elapsed = time.monotonic() - sent_at
        output = "".join(server.output)
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught.
    assert code == -signal.SIGTERM, output
    assert "Finished server process" in output
    assert elapsed < (grace or 10), "closed within the grace period"
    for name, reader in readers.items():
        _, events = decode(reader.join())
        assert assert_verdict(events) == SHUTDOWN, name
        assert f"source closed: {name}" in output
    assert "Cancel" not in output, "uvicorn did not have to cancel anything"
    assert "without completing response" not in output


def test_request_shutdown_ends_open_streams_and_refuses_new_ones() -> None:
    probes, never = [Probe(), Probe()], Gate()
    queue = list(probes)

    def resp(request: object) -> EventStreamResponse:
        probe = queue.pop(0) if queue else Probe()
        return EventStreamResponse(scripted(probe, ["hi"], then=never))

    with serving(resp) as server:
        readers = [Reader(server.url + "/s", b'"hi"').start() for _ in probes]
        for reader in readers:
            assert reader.ready.wait(20)
        loop = probes[0].loop
        assert loop is not None
        request_shutdown(loop)
        for reader in readers:
            _, events = decode(reader.join())
            assert events[1:] == [Text("hi"), SHUTDOWN]
        later = fetch(server.url + "/s")
    assert assert_verdict(later.events) == SHUTDOWN
    assert all(p.closed.is_set() for p in probes)


def test_request_shutdown_needs_a_loop() -> None:
    with pytest.raises(RuntimeError):
        request_shutdown()
