"""Journal benchmark: events/s through MemoryStore and RedisStore, and the cost of a resume.

One run, in this process, through the real ``Hub`` (so the producer's batching and the
subscribers' ``Subscription`` are measured, not the store alone):

- fan-out: one producer whose source yields ``EVENTS`` small text events as fast as it can,
  to 1, 10 and 100 subscribers that subscribed before the first event; events/s is ``EVENTS``
  over the time from releasing the source to the last subscriber's terminal event, and
  deliveries/s counts every event each subscriber received; the median of ``REPEATS`` runs;
- the same with ``max_batch=1`` (one store call per event) as the unbatched reference;
- resume: the time to replay a finished journal of ``RESUME_EVENTS`` events from the start
  (``Last-Event-ID`` before the first event), the median of ``REPEATS`` runs.

RedisStore runs against its own ``redis-server`` on a free loopback port (no persistence).
Prints a table and writes ``benchmarks/results/journal.json``.

Run: ``.venv/bin/python benchmarks/journal.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from _common import cpu_model, free_port, results_path
from rich.console import Console
from rich.table import Table

from surestream.events import Done, Text, is_terminal
from surestream.hub import Hub, Subscription
from surestream.store import MemoryStore, Store
from surestream.store.redis import RedisStore

EVENTS = 20_000
"""Events per fan-out run."""
SUBSCRIBERS = (1, 10, 100)
RESUME_EVENTS = 10_000
REPEATS = 3
RESULTS = Path(__file__).with_name("results") / "journal.json"
WORDS = [" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog."]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: run `make system-deps`")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            break
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def gated(go: asyncio.Event, count: int) -> AsyncIterator[str]:
    await go.wait()
    for index in range(count):
        yield WORDS[index % len(WORDS)]


async def drain(sub: Subscription) -> int:
    received = 0
    async with sub:
        async for _, event in sub:
            received += 1
            if is_terminal(event):
                break
    return received


async def fan_out(make: Callable[[], Store], subscribers: int, max_batch: int) -> dict[str, Any]:
    runs: list[float] = []
    for _ in range(REPEATS):
        store = make()
        async with Hub(store, max_batch=max_batch) as hub:
            go = asyncio.Event()
            stream_id = await hub.start(gated(go, EVENTS))
            subs = [await hub.subscribe(stream_id) for _ in range(subscribers)]
            readers = [asyncio.ensure_future(drain(sub)) for sub in subs]
            begin = time.perf_counter()
            go.set()
            counts = await asyncio.gather(*readers)
            runs.append(time.perf_counter() - begin)
            assert counts == [EVENTS + 2] * subscribers, counts
        await store.aclose()
    seconds = statistics.median(runs)
    return {
        "subscribers": subscribers,
        "max_batch": max_batch,
        "events": EVENTS,
        "seconds": seconds,
        "events_per_s": EVENTS / seconds,
        "deliveries_per_s": EVENTS * subscribers / seconds,
    }


async def resume_cost(make: Callable[[], Store]) -> dict[str, Any]:
    store = make()
    await store.create("bench")
    body = [Text(WORDS[i % len(WORDS)]) for i in range(RESUME_EVENTS - 1)]
    for start in range(0, len(body), 1000):
        await store.append_many("bench", body[start : start + 1000])
    await store.append("bench", Done())
    assert (await store.info("bench")).length == RESUME_EVENTS
    runs: list[float] = []
    for _ in range(REPEATS):
        begin = time.perf_counter()
        count = 0
        async for _seq, _event in await store.read("bench", None):
            count += 1
        runs.append(time.perf_counter() - begin)
        assert count == RESUME_EVENTS
    await store.aclose()
    seconds = statistics.median(runs)
    return {"events": RESUME_EVENTS, "ms": seconds * 1000, "events_per_s": RESUME_EVENTS / seconds}


async def run(redis_url: str) -> dict[str, Any]:
    stores: dict[str, Callable[[], Store]] = {
        "memory": MemoryStore,
        "redis": lambda: RedisStore(redis_url, prefix=f"bench{time.monotonic_ns()}:"),
    }
    fan: list[dict[str, Any]] = []
    resume: dict[str, Any] = {}
    for name, make in stores.items():
        for subscribers in SUBSCRIBERS:
            fan.append({"store": name, **await fan_out(make, subscribers, 512)})
        fan.append({"store": name, **await fan_out(make, 1, 1)})
        resume[name] = await resume_cost(make)
    return {"fan_out": fan, "resume": resume}


def main() -> None:
    out = results_path(__doc__, RESULTS)
    console = Console()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with redis_server() as url:
        redis_version = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[2]
        outcome = asyncio.run(run(url))
    outcome = {
        "date": datetime.date.today().isoformat(),
        "machine": {
            "cpu": cpu_model(),
            "cores": str(os.cpu_count()),
            "python": platform.python_version(),
            "redis": redis_version.removeprefix("v="),
            "redis_py": importlib.metadata.version("redis"),
            "hiredis": importlib.metadata.version("hiredis"),
            "load_at_start": load,
        },
        "events": EVENTS,
        "repeats": REPEATS,
        **outcome,
    }
    table = Table(
        title=f"Journal fan-out: one producer, {EVENTS:,} text events (median of {REPEATS})"
    )
    for column in ("store", "subscribers", "batch", "events/s", "deliveries/s", "seconds"):
        table.add_column(column, justify="left" if column == "store" else "right")
    for row in outcome["fan_out"]:
        table.add_row(
            row["store"],
            str(row["subscribers"]),
            str(row["max_batch"]),
            f"{row['events_per_s']:,.0f}",
            f"{row['deliveries_per_s']:,.0f}",
            f"{row['seconds']:.3f}",
        )
    console.print(table)
    resume = Table(title=f"Resume: replay a finished journal of {RESUME_EVENTS:,} events")
    for column in ("store", "ms", "events/s"):
        resume.add_column(column, justify="left" if column == "store" else "right")
    for name, row in outcome["resume"].items():
        resume.add_row(name, f"{row['ms']:.1f}", f"{row['events_per_s']:,.0f}")
    console.print(resume)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(outcome, indent=2) + "\n")
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
