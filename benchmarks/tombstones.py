"""Tombstone benchmark: what a finished stream leaves behind once its journal has expired.

A finished stream's journal lives ``retention`` seconds; then a tombstone remains for
``tombstone_ttl`` seconds so its id answers 410 rather than 404. This measures one
tombstone's memory: ``STREAMS`` streams are created, finished and left to expire, and

- RedisStore: ``used_memory`` of its own redis-server (no persistence) after minus before,
  per stream, and ``MEMORY USAGE`` of one tombstone key;
- MemoryStore: ``tracemalloc``'s traced bytes after minus before, per stream, with the
  journals gone and the tombstones held.

So the memory tombstones hold is at most streams per second x ``tombstone_ttl`` x these
bytes (and, in a MemoryStore, ``max_tombstones`` x these bytes). Prints a table and writes
``benchmarks/results/tombstones.json``.

Run: ``.venv/bin/python benchmarks/tombstones.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import tracemalloc
from pathlib import Path

import redis.asyncio as aioredis
from _common import cpu_model, results_path
from journal import redis_server
from rich.console import Console
from rich.table import Table

from surestream.events import Done
from surestream.hub import new_stream_id
from surestream.store import MemoryStore
from surestream.store.redis import RedisStore

STREAMS = 10_000
RESULTS = Path(__file__).with_name("results") / "tombstones.json"


async def redis_bytes(url: str) -> tuple[float, int]:
    admin = aioredis.Redis.from_url(url)
    store = RedisStore(url, retention=0.05, tombstone_ttl=3600.0)
    before = int((await admin.info("memory"))["used_memory"])
    ids = [new_stream_id() for _ in range(STREAMS)]
    for stream_id in ids:
        await store.create(stream_id)
        await store.finish(stream_id, Done())
    await asyncio.sleep(0.5)
    await admin.execute_command("SCAN", 0, "COUNT", STREAMS * 10)  # expire what has expired
    left = await admin.dbsize()
    after = int((await admin.info("memory"))["used_memory"])
    one = await admin.memory_usage(f"surestream:{{{ids[0]}}}:gone")
    await store.aclose()
    await admin.aclose()
    if left > STREAMS + 1:
        raise SystemExit(f"{left} keys left: the journals did not expire")
    return (after - before) / STREAMS, int(one or 0)


async def memory_bytes() -> float:
    now = [0.0]
    store = MemoryStore(retention=1.0, max_tombstones=STREAMS, clock=lambda: now[0])
    ids = [new_stream_id() for _ in range(STREAMS)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for stream_id in ids:
        await store.create(stream_id)
        await store.finish(stream_id, Done())
    now[0] = 2.0
    assert store.tombstones == STREAMS
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    await store.aclose()
    return (after - before) / STREAMS


async def main() -> None:
    out = results_path(__doc__, RESULTS)
    with redis_server() as url:
        redis_per_stream, redis_key = await redis_bytes(url)
    memory_per_stream = await memory_bytes()
    results = {
        "streams": STREAMS,
        "redis_bytes_per_tombstone": round(redis_per_stream),
        "redis_memory_usage_of_one_key": redis_key,
        "memory_store_bytes_per_tombstone": round(memory_per_stream),
        "machine": cpu_model(),
        "date": datetime.date.today().isoformat(),
    }
    table = Table(title=f"tombstones ({STREAMS:,} expired streams)")
    table.add_column("store")
    table.add_column("bytes per tombstone", justify="right")
    table.add_row("RedisStore (used_memory)", f"{redis_per_stream:.0f}")
    table.add_row("RedisStore (MEMORY USAGE of one)", str(redis_key))
    table.add_row("MemoryStore (tracemalloc)", f"{memory_per_stream:.0f}")
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
