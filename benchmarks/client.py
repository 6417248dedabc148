"""Client benchmark: events/s received by ``surestream.client`` against httpx-sse, same server.

One run starts one uvicorn child process (uvloop + httptools, access log off) serving this
file's ``app``: ``EVENTS`` pre-encoded native text events (``id: N`` + ``data:
{"type":"text","text":...}``), one ASGI body message (so one HTTP chunk) each, then ``done``.
The server writes about 650,000 such events/s on this machine, well above every client below,
so the client is what is measured. In this process, in turn, for ``REPEATS`` rounds:

- httpx-sse: ``aconnect_sse(httpx.AsyncClient(), "GET", url)`` then ``aiter_sse()``, counting
  events (no JSON decoding: it yields raw SSE events);
- surestream: ``aconnect(url)`` then ``async for event in stream`` (typed events: JSON decoded,
  ``Text`` objects built, resume bookkeeping, idle timer), with its default transport;
- surestream on a stock ``httpx.AsyncClient()`` (``http_client=``): the same client code over
  httpx's default transport, to show where the difference comes from.

Each figure is events/s of wall time from the request to the last event, and the client's
CPU time per event; the median of the rounds. Prints a table and the ratios and writes
``benchmarks/results/client.json``. This file is also the app the server process runs
(``uvicorn client:app --app-dir benchmarks``).

Run: ``.venv/bin/python benchmarks/client.py``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

EVENTS = int(os.environ.get("CLIENT_BENCH_EVENTS", "100000"))
REPEATS = 5

_BLOCKS = [b'id: %d\ndata: {"type":"text","text":"tok%d "}\n\n' % (i, i) for i in range(EVENTS)]
_DONE = b'id: %d\ndata: {"type":"done","done":true,"finish_reason":"stop"}\n\n' % EVENTS
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"surestream-protocol", b"1"),
]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    """Raw ASGI: the pre-encoded stream, one body message per event."""
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    for block in _BLOCKS:
        await send({"type": "http.response.body", "body": block, "more_body": True})
    await send({"type": "http.response.body", "body": _DONE, "more_body": False})


def _main() -> None:
    import asyncio
    import datetime
    import json
    import platform
    import socket
    import statistics
    import subprocess
    import sys
    import time
    from importlib.metadata import version
    from pathlib import Path

    import httpx
    from _common import cpu_model, free_port, results_path
    from httpx_sse import aconnect_sse
    from rich.console import Console
    from rich.table import Table

    from surestream.client import aconnect
    from surestream.events import Done

    here = Path(__file__).parent
    results = results_path(__doc__, here / "results" / "client.json")

    async def httpx_sse(url: str) -> int:
        count = 0
        async with httpx.AsyncClient() as client, aconnect_sse(client, "GET", url) as source:
            async for _ in source.aiter_sse():
                count += 1
        return count

    async def ours(url: str) -> int:
        count = 0
        async with aconnect(url) as stream:
            async for _ in stream:
                count += 1
        if not isinstance(stream.outcome, Done):
            raise RuntimeError(f"surestream: no done ({stream.interruption})")
        return count

    async def ours_stock(url: str) -> int:
        count = 0
        async with httpx.AsyncClient() as client, aconnect(url, http_client=client) as stream:
            async for _ in stream:
                count += 1
        if not isinstance(stream.outcome, Done):
            raise RuntimeError(f"surestream: no done ({stream.interruption})")
        return count

    clients: dict[str, Callable[[str], Coroutine[Any, Any, int]]] = {
        f"httpx-sse {version('httpx-sse')} (aconnect_sse + aiter_sse)": httpx_sse,
        "surestream aconnect (default transport)": ours,
        "surestream aconnect on a stock httpx.AsyncClient": ours_stock,
    }

    def measure(run: Callable[[str], Coroutine[Any, Any, int]], url: str) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        count = asyncio.run(run(url))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if count != EVENTS + 1:
            raise RuntimeError(f"expected {EVENTS + 1} events, got {count}")
        return count / wall, cpu / count * 1e6

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "client:app",
            "--app-dir",
            str(here),
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**os.environ, "CLIENT_BENCH_EVENTS": str(EVENTS)},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.05)
        for run in clients.values():
            measure(run, url)  # warm-up: imports, first connection
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for _ in range(REPEATS):
            for name, run in clients.items():
                samples[name].append(measure(run, url))
    finally:
        server.terminate()
        server.wait(10)

    rows: dict[str, dict[str, Any]] = {
        name: {
            "events_per_s": statistics.median(s[0] for s in runs),
            "cpu_us_per_event": statistics.median(s[1] for s in runs),
            "runs": [{"events_per_s": r[0], "cpu_us_per_event": r[1]} for r in runs],
        }
        for name, runs in samples.items()
    }
    names = list(clients)
    base = rows[names[0]]
    table = Table(title=f"Client: {EVENTS:,} native text events from one uvicorn stream")
    for column in ("client", "events/s", "vs httpx-sse", "CPU µs/event", "CPU vs httpx-sse"):
        table.add_column(column, justify="left" if column == "client" else "right")
    for name, row in rows.items():
        table.add_row(
            name,
            f"{row['events_per_s']:,.0f}",
            f"{row['events_per_s'] / base['events_per_s']:.2f}x",
            f"{row['cpu_us_per_event']:.2f}",
            f"{base['cpu_us_per_event'] / row['cpu_us_per_event']:.2f}x",
        )
    console = Console(width=120)
    console.print(table)
    ratio = rows[names[1]]["events_per_s"] / base["events_per_s"]
    console.print(f"surestream vs httpx-sse: [bold]{ratio:.2f}x[/bold] events/s (target >= 2x)")

    cpu = cpu_model()
    results.parent.mkdir(exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "benchmark": "client",
                "date": datetime.date.today().isoformat(),
                "events": EVENTS,
                "repeats": REPEATS,
                "ratio_events_per_s": ratio,
                "target": 2.0,
                "results": rows,
                "machine": {
                    "cpu": cpu,
                    "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "httpx": version("httpx"),
                    "httpx-sse": version("httpx-sse"),
                    "uvicorn": version("uvicorn"),
                },
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    _main()
