"""Server benchmark: EventStreamResponse against sse-starlette and a raw StreamingResponse.

One run measures, for (a) ``surestream.server.EventStreamResponse``, (b) sse-starlette's
``EventSourceResponse`` and (c) a raw Starlette ``StreamingResponse`` of pre-encoded bytes, each
in its own fresh uvicorn process (uvloop + httptools, access log off), all three started at
once and measured in turn (a, b, c, a, b, c, ...) so that a noisy neighbour hits them alike:

- burst: one stream of ``EVENTS`` small text events (the same native wire bytes,
  ``id: N`` + ``data: {"type":"text","text":...}``) from a source that never awaits, read by
  a light client that only reads the socket and counts event boundaries, so the server is what
  is measured; events/s is the median of ``REPEATS`` runs, from sending the request to the end
  of the body. This row favours (a): it writes whatever the source queued in one ``send``
  while (b) and (c) send once per event;
- yielding: the same with a source that awaits ``asyncio.sleep(0)`` before each event, as a
  source that reads its tokens from somewhere does, so nothing piles up between two sends;
- paced: ``PACED_STREAMS`` concurrent streams of ``PACED_RATE`` events/s each for
  ``PACED_SECONDS`` s (a source on an absolute schedule), each read by its own client as the
  events come, one event per write; the server's CPU per event, the median of
  ``PACED_REPEATS`` turns. Nothing can be batched here: it is the cost of one event;
- idle streams: ``IDLE_STREAMS`` concurrent streams whose source says nothing, with a heartbeat
  every ``IDLE_HEARTBEAT`` s; server RSS growth per stream, and server CPU per stream over
  ``IDLE_WINDOW`` s (one turn each, the variants in turn).

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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
PACED_STREAMS = 200
PACED_RATE = 50.0
PACED_SECONDS = 4.0
PACED_REPEATS = 3
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


async def _pause(i: int) -> None:
    """Await nothing: a source that never gives the loop a turn."""


async def _yield(i: int) -> None:
    await asyncio.sleep(0)


def _schedule(every: float) -> Callable[[int], Awaitable[None]]:
    start = asyncio.get_running_loop().time()

    async def pace(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i * every - asyncio.get_running_loop().time()))

    return pace


async def _texts(n: int, pause: Callable[[int], Awaitable[None]]) -> AsyncIterator[str]:
    for i in range(n):
        await pause(i)
        yield _word(i)


async def _starlette_events(
    n: int, pause: Callable[[int], Awaitable[None]]
) -> AsyncIterator[ServerSentEvent]:
    for i in range(n):
        await pause(i)
        data = orjson.dumps({"type": "text", "text": _word(i)}).decode()
        yield ServerSentEvent(data=data, id=str(i), sep="\n")


async def _bytes(
    chunks: list[bytes], pause: Callable[[int], Awaitable[None]]
) -> AsyncIterator[bytes]:
    for i, chunk in enumerate(chunks):
        await pause(i)
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
    every = float(request.query_params.get("every", 0))
    pause = {"burst": _pause, "yield": _yield}.get(request.path_params["mode"]) or _schedule(every)
    if variant == "a":
        return EventStreamResponse(_texts(n, pause))
    if variant == "b":
        return EventSourceResponse(_starlette_events(n, pause), sep="\n")
    return StreamingResponse(
        _bytes(_pre_encoded(n), pause), media_type="text/event-stream", headers=HEADERS
    )


async def idle(request: Request) -> Response:
    every = float(request.query_params.get("heartbeat", IDLE_HEARTBEAT))
    variant = request.path_params["variant"]
    if variant == "a":
        return EventStreamResponse(_silence(), heartbeat=every)
    if variant == "b":
        return EventSourceResponse(_silence(), ping=every, sep="\n")
    return StreamingResponse(_pings(every), media_type="text/event-stream", headers=HEADERS)


app = Starlette(routes=[Route("/{variant}/idle", idle), Route("/{variant}/{mode}", burst)])

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


def throughput(ports: dict[str, int], mode: str) -> dict[str, dict[str, float]]:
    """events/s of one fast stream per variant, the variants taking turns."""
    for variant, port in ports.items():
        read_events(port, f"/{variant}/{mode}?n=10000")
    runs: dict[str, list[tuple[float, int]]] = {variant: [] for variant in ports}
    for _ in range(REPEATS):
        for variant, port in ports.items():
            runs[variant].append(read_events(port, f"/{variant}/{mode}?n={EVENTS}"))
    figures = {}
    for variant, samples in runs.items():
        counted = min(count for _, count in samples)
        if counted < EVENTS:
            raise RuntimeError(f"variant {variant}: only {counted} of {EVENTS} events arrived")
        seconds = statistics.median(t for t, _ in samples)
        figures[variant] = {"events_per_s": EVENTS / seconds, "boundaries": counted}
    return figures


async def _read_paced(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(port, path))
    count, last = 0, 0
    while chunk := await reader.read(65536):
        count += chunk.count(b"\n\n") + (last == 10 and chunk[0] == 10)
        last = chunk[-1]
    writer.close()
    return count


async def paced_once(port: int, proc: psutil.Process, variant: str) -> float:
    """Server CPU µs per event over ``PACED_STREAMS`` paced streams."""
    n = int(PACED_RATE * PACED_SECONDS)
    path = f"/{variant}/paced?n={n}&every={1 / PACED_RATE}"
    before = proc.cpu_times()
    counts = await asyncio.gather(*(_read_paced(port, path) for _ in range(PACED_STREAMS)))
    after = proc.cpu_times()
    if min(counts) < n:
        raise RuntimeError(f"variant {variant}: a paced stream got {min(counts)} of {n} events")
    cpu = (after.user + after.system) - (before.user + before.system)
    return cpu / (n * PACED_STREAMS) * 1e6


def paced(servers: dict[str, tuple[int, psutil.Process]]) -> dict[str, dict[str, Any]]:
    """Server CPU per event of paced streams, the variants taking turns."""
    runs: dict[str, list[float]] = {variant: [] for variant in servers}
    for _ in range(PACED_REPEATS):
        for variant, (port, proc) in servers.items():
            runs[variant].append(asyncio.run(paced_once(port, proc, variant)))
    return {
        variant: {"paced_cpu_us_per_event": statistics.median(samples), "paced_runs": samples}
        for variant, samples in runs.items()
    }


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
        "paced": {"streams": PACED_STREAMS, "rate": PACED_RATE, "seconds": PACED_SECONDS},
        "variants": {variant: {"name": name} for variant, name in VARIANTS.items()},
    }
    figures = results["variants"]
    with contextlib.ExitStack() as stack:
        servers = {variant: stack.enter_context(_server()) for variant in VARIANTS}
        ports = {variant: port for variant, (port, _) in servers.items()}
        for variant, row in throughput(ports, "burst").items():
            figures[variant].update(row)
        for variant, row in throughput(ports, "yield").items():
            figures[variant]["yielding_events_per_s"] = row["events_per_s"]
        for variant, paced_row in paced(servers).items():
            figures[variant].update(paced_row)
        for variant, (port, proc) in servers.items():
            figures[variant].update(asyncio.run(idle_streams(port, proc, variant)))
    return results


def report(results: dict[str, Any]) -> None:
    table = Table(title=f"{EVENTS:,} text events; {IDLE_STREAMS:,} idle streams")
    columns = (
        "",
        "burst events/s",
        "yielding events/s",
        "paced CPU µs/event",
        "KiB RSS / idle stream",
        "CPU µs / idle stream / s",
    )
    for column in columns:
        table.add_column(column, justify="right" if column else "left")
    for variant, fig in results["variants"].items():
        table.add_row(
            f"({variant}) {fig['name']}",
            f"{fig['events_per_s']:,.0f}",
            f"{fig['yielding_events_per_s']:,.0f}",
            f"{fig['paced_cpu_us_per_event']:.1f}",
            f"{fig['rss_kib_per_stream']:.1f}",
            f"{fig['cpu_us_per_stream_per_s']:.1f}",
        )
    console = Console(width=140)
    console.print(table)
    a, b, c = (results["variants"][v] for v in "abc")
    console.print(
        f"(a) / (b) burst events/s: {a['events_per_s'] / b['events_per_s']:.2f}x (target >= 3x); "
        f"(a) / (c) yielding: {a['yielding_events_per_s'] / c['yielding_events_per_s']:.2f}x "
        f"(target >= 1.0x); paced CPU (c) / (a): "
        f"{c['paced_cpu_us_per_event'] / a['paced_cpu_us_per_event']:.2f}x; "
        f"(a) RSS per idle stream: {a['rss_kib_per_stream']:.1f} KiB (target <= 30 KiB)"
    )


if __name__ == "__main__":
    out = results_path(__doc__, RESULTS)
    outcome = run()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(outcome, indent=2) + "\n")
    report(outcome)
