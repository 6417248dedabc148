"""Journal benchmark: events/s through MemoryStore and RedisStore, and the cost of a resume.

One run, in this process, through the real ``Hub`` (so the producer's batching and the
subscribers' ``Subscription`` are measured, not the store alone):

- fan-out: one producer whose source yields ``EVENTS`` small text events as fast as it can,
  to 1, 10 and 100 subscribers that subscribed before the first event; events/s is ``EVENTS``
  over the time from releasing the source to the last subscriber's terminal event, and
  deliveries/s counts every event each subscriber received; the median of ``REPEATS`` runs;
- for RedisStore, the same with ``max_batch=1`` (one store call per event) as the unbatched
  reference (the MemoryStore appends inline whatever ``max_batch`` says, so it has none);
- resume: the time to replay a finished journal of ``RESUME_EVENTS`` events from the start
  (``Last-Event-ID`` before the first event), the median of ``REPEATS`` runs.

Every configuration runs once per round and the rounds repeat (memory, redis, memory, redis,
...), so that a noisy neighbour hits both stores alike.

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


async def fan_out_once(make: Callable[[], Store], subscribers: int, max_batch: int) -> float:
    """Seconds from releasing the source to the last subscriber's terminal event."""
    store = make()
    async with Hub(store, max_batch=max_batch) as hub:
        go = asyncio.Event()
        stream_id = await hub.start(gated(go, EVENTS))
        subs = [await hub.subscribe(stream_id) for _ in range(subscribers)]
        readers = [asyncio.ensure_future(drain(sub)) for sub in subs]
        begin = time.perf_counter()
        go.set()
        counts = await asyncio.gather(*readers)
        seconds = time.perf_counter() - begin
        assert counts == [EVENTS + 2] * subscribers, counts
    await store.aclose()
    return seconds


async def resume_once(make: Callable[[], Store]) -> float:
    """Seconds to replay a finished journal of ``RESUME_EVENTS`` events from the start."""
    store = make()
    await store.create("bench")
    body = [Text(WORDS[i % len(WORDS)]) for i in range(RESUME_EVENTS - 1)]
    for start in range(0, len(body), 1000):
        await store.append_many("bench", body[start : start + 1000])
    await store.append("bench", Done())
    assert (await store.info("bench")).length == RESUME_EVENTS
    begin = time.perf_counter()
    count = 0
    async for _seq, _event in await store.read("bench", None):
        count += 1
    seconds = time.perf_counter() - begin
    assert count == RESUME_EVENTS
    await store.aclose()
    return seconds


async def run(redis_url: str) -> dict[str, Any]:
    stores: dict[str, Callable[[], Store]] = {
        "memory": MemoryStore,
        "redis": lambda: RedisStore(redis_url, prefix=f"bench{time.monotonic_ns()}:"),
    }
    configs = [(subscribers, 512) for subscribers in SUBSCRIBERS]
    fan_runs: dict[tuple[str, int, int], list[float]] = {}
    resume_runs: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(REPEATS):
        for subscribers, max_batch in configs:
            for name, make in stores.items():
                seconds = await fan_out_once(make, subscribers, max_batch)
                fan_runs.setdefault((name, subscribers, max_batch), []).append(seconds)
        unbatched = await fan_out_once(stores["redis"], 1, 1)
        fan_runs.setdefault(("redis", 1, 1), []).append(unbatched)
        for name, make in stores.items():
            resume_runs[name].append(await resume_once(make))
    fan = []
    for (name, subscribers, max_batch), runs in sorted(fan_runs.items(), key=_row_order):
        seconds = statistics.median(runs)
        fan.append(
            {
                "store": name,
                "subscribers": subscribers,
                "max_batch": max_batch,
                "events": EVENTS,
                "seconds": seconds,
                "events_per_s": EVENTS / seconds,
                "deliveries_per_s": EVENTS * subscribers / seconds,
            }
        )
    resume = {}
    for name, runs in resume_runs.items():
        seconds = statistics.median(runs)
        resume[name] = {
            "events": RESUME_EVENTS,
            "ms": seconds * 1000,
            "events_per_s": RESUME_EVENTS / seconds,
        }
    return {"fan_out": fan, "resume": resume}


def _row_order(item: tuple[tuple[str, int, int], list[float]]) -> tuple[str, int, int]:
    """Rows by store, then batched before unbatched, then subscribers."""
    name, subscribers, max_batch = item[0]
    return name, -max_batch, subscribers


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
