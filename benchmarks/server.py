"""Server benchmark: EventStreamResponse against sse-starlette and a raw StreamingResponse.

One run measures, for (a) ``surestream.server.EventStreamResponse``, (b) sse-starlette's
``EventSourceResponse`` and (c) a raw Starlette ``StreamingResponse`` of pre-encoded bytes, each
in its own fresh uvicorn process (uvloop + httptools, access log off):

- throughput: one stream of ``EVENTS`` small text events (the same native wire bytes,
  ``id: N`` + ``data: {"type":"text","text":...}``) read by a light client that only reads the
  socket and counts event boundaries, so the server is what is measured; events/s is the median
  of ``REPEATS`` runs, from sending the request to the end of the body;
- idle streams: ``IDLE_STREAMS`` concurrent streams whose source says nothing, with a heartbeat
  every ``IDLE_HEARTBEAT`` s; server RSS growth per stream, and server CPU per stream over
  ``IDLE_WINDOW`` s.

This file is also the app the server processes run (``uvicorn server:app --app-dir benchmarks``).
Prints a table and writes ``benchmarks/results/server.json``.

Run: ``.venv/bin/python benchmarks/server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil
from _common import cpu_model, free_port, results_path
from rich.console import Console
from rich.table import Table
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from surestream.server import EventStreamResponse

EVENTS = 100_000
REPEATS = 5
IDLE_STREAMS = 2_000
IDLE_HEARTBEAT = 1.0
IDLE_WINDOW = 10.0
RESULTS = Path(__file__).parent / "results" / "server.json"
VARIANTS = {
    "a": "surestream EventStreamResponse",
    "b": "sse-starlette EventSourceResponse",
    "c": "raw StreamingResponse (pre-encoded)",
}
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# ---------------------------------------------------------------------------- the server app


def _word(i: int) -> str:
    return f" w{i % 1000}"


_PRE_ENCODED: list[bytes] = []


def _pre_encoded(n: int) -> list[bytes]:
    if len(_PRE_ENCODED) < n:
        _PRE_ENCODED[:] = [
            b"id: %d\ndata: %b\n\n" % (i, orjson.dumps({"type": "text", "text": _word(i)}))
            for i in range(max(n, EVENTS))
        ]
    return _PRE_ENCODED[:n]


async def _texts(n: int) -> AsyncIterator[str]:
    for i in range(n):
        yield _word(i)


async def _starlette_events(n: int) -> AsyncIterator[ServerSentEvent]:
    for i in range(n):
        data = orjson.dumps({"type": "text", "text": _word(i)}).decode()
        yield ServerSentEvent(data=data, id=str(i), sep="\n")


async def _bytes(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _silence() -> AsyncIterator[Any]:
    await asyncio.Event().wait()
    yield ""


async def _pings(every: float) -> AsyncIterator[bytes]:
    while True:
        await asyncio.sleep(every)
        yield b": ping\n\n"


async def burst(request: Request) -> Response:
    n = int(request.query_params.get("n", EVENTS))
    variant = request.path_params["variant"]
    if variant == "a":
        return EventStreamResponse(_texts(n))
    if variant == "b":
        return EventSourceResponse(_starlette_events(n), sep="\n")
    return StreamingResponse(
        _bytes(_pre_encoded(n)), media_type="text/event-stream", headers=HEADERS
    )


async def idle(request: Request) -> Response:
    every = float(request.query_params.get("heartbeat", IDLE_HEARTBEAT))
    variant = request.path_params["variant"]
    if variant == "a":
        return EventStreamResponse(_silence(), heartbeat=every)
    if variant == "b":
        return EventSourceResponse(_silence(), ping=every, sep="\n")
    return StreamingResponse(_pings(every), media_type="text/event-stream", headers=HEADERS)


app = Starlette(routes=[Route("/{variant}/burst", burst), Route("/{variant}/idle", idle)])

# ------------------------------------------------------------------------------- the driver


@contextlib.contextmanager
def _server() -> Iterator[tuple[int, psutil.Process]]:
    """A fresh uvicorn process serving ``app``; yields its port and process."""
    port = free_port()
    argv = [
        *(sys.executable, "-m", "uvicorn", "server:app", "--app-dir", str(Path(__file__).parent)),
        *("--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--log-level", "warning", "--backlog", "4096"),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"uvicorn did not start: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.05)
    try:
        yield port, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _request(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()


def read_events(port: int, path: str) -> tuple[float, int]:
    """Seconds from request to end of body, and the number of ``\\n\\n`` event boundaries."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        start = time.perf_counter()
        sock.sendall(_request(port, path))
        count, last = 0, 0
        while True:
            size = sock.recv_into(buf)
            if not size:
                break
            chunk = view[:size]
            count += bytes(chunk).count(b"\n\n")
            if last == 10 and buf[0] == 10:
                count += 1
            last = buf[size - 1]
        return time.perf_counter() - start, count


def throughput(port: int, variant: str) -> dict[str, float]:
    read_events(port, f"/{variant}/burst?n=10000")
    runs = [read_events(port, f"/{variant}/burst?n={EVENTS}") for _ in range(REPEATS)]
    counted = min(count for _, count in runs)
    if counted < EVENTS:
        raise RuntimeError(f"variant {variant}: only {counted} of {EVENTS} events arrived")
    return {"events_per_s": EVENTS / statistics.median(t for t, _ in runs), "boundaries": counted}


async def _open_idle(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(port, path))
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def idle_streams(port: int, proc: psutil.Process, variant: str) -> dict[str, float]:
    path = f"/{variant}/idle?heartbeat={IDLE_HEARTBEAT}"
    warm = [await _open_idle(port, path) for _ in range(50)]
    for _, writer in warm:
        writer.close()
    await asyncio.sleep(1.0)
    rss_before = proc.memory_info().rss
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(0, IDLE_STREAMS, 200):
        streams += await asyncio.gather(*(_open_idle(port, path) for _ in range(200)))
    drains = [asyncio.create_task(_drain(reader)) for reader, _ in streams]
    await asyncio.sleep(2 * IDLE_HEARTBEAT)
    rss_after = proc.memory_info().rss
    cpu_before = proc.cpu_times()
    await asyncio.sleep(IDLE_WINDOW)
    cpu_after = proc.cpu_times()
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    for _, writer in streams:
        writer.close()
    for task in drains:
        task.cancel()
    await asyncio.gather(*drains, return_exceptions=True)
    return {
        "rss_kib_per_stream": (rss_after - rss_before) / 1024 / IDLE_STREAMS,
        "cpu_us_per_stream_per_s": cpu / IDLE_STREAMS / IDLE_WINDOW * 1e6,
        "cpu_percent_of_a_core": cpu / IDLE_WINDOW * 100,
    }


def machine() -> dict[str, str]:
    model = cpu_model()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "load_at_start": load,
    }


def run() -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "events": EVENTS,
        "repeats": REPEATS,
        "idle_streams": IDLE_STREAMS,
        "idle_heartbeat_s": IDLE_HEARTBEAT,
        "idle_window_s": IDLE_WINDOW,
        "variants": {},
    }
    for variant, name in VARIANTS.items():
        with _server() as (port, proc):
            figures = {"name": name, **throughput(port, variant)}
            figures.update(asyncio.run(idle_streams(port, proc, variant)))
        results["variants"][variant] = figures
    return results


def report(results: dict[str, Any]) -> None:
    table = Table(title=f"{EVENTS:,} text events; {IDLE_STREAMS:,} idle streams")
    for column in ("", "events/s", "KiB RSS / idle stream", "CPU µs / idle stream / s"):
        table.add_column(column, justify="right" if column else "left")
    for variant, fig in results["variants"].items():
        table.add_row(
            f"({variant}) {fig['name']}",
            f"{fig['events_per_s']:,.0f}",
            f"{fig['rss_kib_per_stream']:.1f}",
            f"{fig['cpu_us_per_stream_per_s']:.1f}",
        )
    console = Console(width=110)
    console.print(table)
    a, b = results["variants"]["a"], results["variants"]["b"]
    console.print(
        f"(a) / (b) events/s: {a['events_per_s'] / b['events_per_s']:.1f}x (target >= 3x); "
        f"(a) RSS per idle stream: {a['rss_kib_per_stream']:.1f} KiB (target <= 30 KiB)"
    )


if __name__ == "__main__":
    out = results_path(__doc__, RESULTS)
    outcome = run()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(outcome, indent=2) + "\n")
    report(outcome)
