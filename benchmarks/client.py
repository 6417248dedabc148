"""Client benchmark: ``surestream.client`` against httpx-sse and the official openai SDK.

One run starts one uvicorn child process (uvloop + httptools, access log off) serving this
file's ``app``, which writes pre-encoded streams, one ASGI body message (so one HTTP chunk) per
event:

- ``/``: ``EVENTS`` native text events (``id: N`` + ``data: {"type":"text","text":...}``),
  then ``done``, as fast as it can (about 650,000 events/s on this machine, well above every
  client below, so the client is what is measured);
- ``/paced``: ``PACED_EVENTS`` of the same at ``PACED_RATE`` events/s, so each socket read
  brings about one event and nothing is amortised over a large read;
- ``/{bulk,paced}/v1/chat/completions``: the OpenAI wire, ``OPENAI_EVENTS`` (or
  ``PACED_EVENTS``) ``chat.completion.chunk`` objects of one token each, then ``[DONE]``.

In this process the clients take turns (a, b, c, a, b, c, ...) on that server, ``REPEATS``
rounds:

- httpx-sse: ``aconnect_sse(httpx.AsyncClient(), "GET", url)`` then ``aiter_sse()``, counting
  events (no JSON decoding: it yields raw SSE events);
- surestream: ``aconnect(url)`` then ``async for event in stream`` (typed events: JSON decoded,
  ``Text`` objects built, resume bookkeeping, idle timer), with its default transport;
- surestream on a stock ``httpx.AsyncClient()`` (``http_client=``): the same client code over
  httpx's default transport, to show where the difference comes from;
- the anchor users compare with: the official ``openai`` SDK (``AsyncOpenAI().chat.completions
  .create(stream=True)``) against ``aconnect(url, method="POST", dialect="openai")`` reading
  the same answer (every token checked).

Each figure is events/s of wall time from the request to the last event, and the client's
CPU time per event (per token for the OpenAI wire); the median of the rounds. The bulk rows
favour a client that reads large blocks (ours, with its default transport); the paced rows
are the cost of one event as it comes. Prints the tables and writes
``benchmarks/results/client.json``. This file is also the app the server process runs
(``uvicorn client:app --app-dir benchmarks``).

Run: ``.venv/bin/python benchmarks/client.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeAlias

EVENTS = int(os.environ.get("CLIENT_BENCH_EVENTS", "100000"))
OPENAI_EVENTS = int(os.environ.get("CLIENT_BENCH_OPENAI_EVENTS", "20000"))
PACED_EVENTS = int(os.environ.get("CLIENT_BENCH_PACED_EVENTS", "4000"))
PACED_RATE = 2000.0
REPEATS = 5

_BLOCKS = [b'id: %d\ndata: {"type":"text","text":"tok%d "}\n\n' % (i, i) for i in range(EVENTS)]
_DONE = b'id: %d\ndata: {"type":"done","done":true,"finish_reason":"stop"}\n\n'
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"surestream-protocol", b"1"),
]
_CHUNK = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","choices":[{"index":0,"delta":{%b},"finish_reason":%b}]}\n\n'
)
_OPENAI = [
    _CHUNK % (b'"role":"assistant","content":""', b"null"),
    *(
        _CHUNK % (b'"content":"tok%d "' % i, b"null")
        for i in range(max(OPENAI_EVENTS, PACED_EVENTS))
    ),
]
_OPENAI_END = _CHUNK % (b"", b'"stop"') + b"data: [DONE]\n\n"
_OPENAI_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    """Raw ASGI: a pre-encoded stream, one body message per event (see the module doc)."""
    path: str = scope["path"]
    paced = path.startswith("/paced")
    if path.endswith("/chat/completions"):
        count = PACED_EVENTS if paced else OPENAI_EVENTS
        head, blocks, end = _OPENAI_HEADERS, _OPENAI[: count + 1], _OPENAI_END
    else:
        count = PACED_EVENTS if paced else EVENTS
        head, blocks, end = _HEADERS, _BLOCKS[:count], _DONE % count
    await send({"type": "http.response.start", "status": 200, "headers": head})
    start, every = time.monotonic(), 1 / PACED_RATE
    for index, block in enumerate(blocks):
        if paced:
            await asyncio.sleep(max(0.0, start + index * every - time.monotonic()))
        await send({"type": "http.response.body", "body": block, "more_body": True})
    await send({"type": "http.response.body", "body": end, "more_body": False})


Client: TypeAlias = "Callable[[str], Coroutine[Any, Any, int]]"
"""Reads the stream at a URL; returns how many events (tokens for the OpenAI wire) it got."""


def _main() -> None:
    import datetime
    import json
    import platform
    import socket
    import statistics
    import subprocess
    import sys
    from importlib.metadata import version
    from pathlib import Path

    import httpx
    from _common import cpu_model, free_port, results_path
    from httpx_sse import aconnect_sse
    from openai import AsyncOpenAI
    from rich.console import Console
    from rich.table import Table

    from surestream.client import aconnect
    from surestream.events import Done, Text

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

    request = {"model": "bench", "messages": [{"role": "user", "content": "Hi"}]}

    async def openai_sdk(base_url: str) -> int:
        tokens = 0
        async with AsyncOpenAI(base_url=base_url, api_key="bench") as client:
            chunks = await client.chat.completions.create(**request, stream=True)
            async for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    tokens += 1
        return tokens

    async def ours_openai(base_url: str) -> int:
        tokens = 0
        url = base_url + "/chat/completions"
        async with aconnect(
            url, method="POST", json={**request, "stream": True}, dialect="openai"
        ) as stream:
            async for event in stream:
                tokens += type(event) is Text
        if not isinstance(stream.outcome, Done):
            raise RuntimeError(f"surestream openai: no done ({stream.interruption})")
        return tokens

    native: dict[str, Client] = {
        f"httpx-sse {version('httpx-sse')} (aconnect_sse + aiter_sse)": httpx_sse,
        "surestream aconnect (default transport)": ours,
        "surestream aconnect on a stock httpx.AsyncClient": ours_stock,
    }
    anchor: dict[str, Client] = {
        f"openai SDK {version('openai')} (AsyncOpenAI, stream=True)": openai_sdk,
        'surestream aconnect(dialect="openai")': ours_openai,
    }

    def measure(run: Client, url: str, expected: int) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        count = asyncio.run(run(url))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if count != expected:
            raise RuntimeError(f"{url}: expected {expected} events, got {count}")
        return count / wall, cpu / count * 1e6

    # (table, client name) -> the URL it reads and the events it must count there.
    runs: dict[tuple[str, str], tuple[Client, str, int]] = {}
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for name, client in native.items():
        runs["bulk", name] = (client, base + "/", EVENTS + 1)
        runs["paced", name] = (client, base + "/paced", PACED_EVENTS + 1)
    for name, client in anchor.items():
        runs["openai bulk", name] = (client, base + "/bulk/v1", OPENAI_EVENTS)
        runs["openai paced", name] = (client, base + "/paced/v1", PACED_EVENTS)

    argv = [
        *(sys.executable, "-m", "uvicorn", "client:app", "--app-dir", str(here)),
        *("--port", str(port), "--loop", "uvloop", "--http", "httptools", "--lifespan", "off"),
        *("--no-access-log", "--log-level", "warning"),
    ]
    env = {
        **os.environ,
        "CLIENT_BENCH_EVENTS": str(EVENTS),
        "CLIENT_BENCH_OPENAI_EVENTS": str(OPENAI_EVENTS),
        "CLIENT_BENCH_PACED_EVENTS": str(PACED_EVENTS),
    }
    server = subprocess.Popen(argv, env=env)
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
        for client, url, expected in runs.values():
            if not url.endswith("/paced") and "/paced/" not in url:
                measure(client, url, expected)  # warm-up: imports, first connection
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in runs}
        for _ in range(REPEATS):
            for key, (client, url, expected) in runs.items():
                samples[key].append(measure(client, url, expected))
    finally:
        server.terminate()
        server.wait(10)

    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for (table_name, name), points in samples.items():
        tables.setdefault(table_name, {})[name] = {
            "events_per_s": statistics.median(p[0] for p in points),
            "cpu_us_per_event": statistics.median(p[1] for p in points),
            "runs": [{"events_per_s": p[0], "cpu_us_per_event": p[1]} for p in points],
        }
    titles = {
        "bulk": f"{EVENTS:,} native text events, as fast as the server writes them",
        "paced": f"{PACED_EVENTS:,} native text events at {PACED_RATE:,.0f} events/s",
        "openai bulk": f"the OpenAI wire: {OPENAI_EVENTS:,} chunks of one token, in bulk",
        "openai paced": f"the OpenAI wire: {PACED_EVENTS:,} chunks at {PACED_RATE:,.0f}/s",
    }
    console = Console(width=130)
    for table_name, rows in tables.items():
        first = next(iter(rows.values()))
        table = Table(title=f"Client: {titles[table_name]} (median of {REPEATS} turns)")
        for column in ("client", "events/s", "vs first", "CPU µs/event", "CPU vs first"):
            table.add_column(column, justify="left" if column == "client" else "right")
        for name, row in rows.items():
            table.add_row(
                name,
                f"{row['events_per_s']:,.0f}",
                f"{row['events_per_s'] / first['events_per_s']:.2f}x",
                f"{row['cpu_us_per_event']:.2f}",
                f"{first['cpu_us_per_event'] / row['cpu_us_per_event']:.2f}x",
            )
        console.print(table)
    bulk = list(tables["bulk"].values())
    ratio = bulk[1]["events_per_s"] / bulk[0]["events_per_s"]
    console.print(f"surestream vs httpx-sse: [bold]{ratio:.2f}x[/bold] events/s (target >= 2x)")

    results.parent.mkdir(exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "benchmark": "client",
                "date": datetime.date.today().isoformat(),
                "events": EVENTS,
                "openai_events": OPENAI_EVENTS,
                "paced_events": PACED_EVENTS,
                "paced_rate": PACED_RATE,
                "repeats": REPEATS,
                "ratio_events_per_s": ratio,
                "target": 2.0,
                "results": tables["bulk"],
                "paced": tables["paced"],
                "openai_anchor": {"bulk": tables["openai bulk"], "paced": tables["openai paced"]},
                "machine": {
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_at_start": load,
                    "httpx": version("httpx"),
                    "httpx-sse": version("httpx-sse"),
                    "openai": version("openai"),
                    "uvicorn": version("uvicorn"),
                },
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    _main()
