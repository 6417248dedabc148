"""Store benchmark: one gateway on the MemoryStore against the RedisStore, and two gateways
sharing one Redis, under the load of ``load.py``.

Each run is ``load.py``'s (fresh uvicorn processes serving the stamped demo model through
``POST /v1/chat/stream``, a private ``redis-server``, the raw-socket load generator in its
own process) with one of three deployments:

- ``memory``: one gateway process on the MemoryStore;
- ``redis``: one gateway process on the RedisStore;
- ``redis x2``: two gateway processes on one RedisStore (one ``redis-server``), the load
  generator opening the streams to each in turn; CPU and RSS are the two processes' sums.
- ``redis before`` (with ``--before DIR``): one gateway process on the RedisStore of another
  checkout of surestream (``DIR/src`` first on its ``PYTHONPATH``), for a same-run
  comparison with an earlier version.

Two tables, every deployment of a table run in turn (a, b, a, b, ...) ``--repeats`` times,
medians reported, and the ratio of each pair of runs side by side:

- ``--streams`` (500) streams at ``--tps`` (30) tokens/s, one process on each store: the p99
  added latency of a token, the gateway's CPU per delivered event, Redis's own CPU, every
  stream ``done``; the RedisStore's CPU per event over the MemoryStore's, per pair;
- ``--scale-streams`` (1,000) at the same rate on ``memory``, ``redis`` and ``redis x2``;
  the scale-out ratio is the events/s the two processes deliver over what one RedisStore
  process delivers, with the p99 of each.

The load generator, the gateways and ``redis-server`` share the machine's cores: on a
machine of two, CPU per event is the figure to compare, and the machine's load at the
start is written with the results.

Writes ``benchmarks/results/store_load.json`` and prints the tables (``--markdown``: the
README's rows). Run: ``.venv/bin/python benchmarks/store_load.py`` (``--quick``: a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from load import HERE, _redis, _server, derive, machine

RESULTS = HERE / "results" / "store_load.json"
DEPLOYMENTS = {"memory": 1, "redis": 1, "redis x2": 2, "redis before": 1}
"""Deployment -> gateway processes."""


def run_deployment(deployment: str, streams: int, args: Any) -> dict[str, Any]:
    """One run of ``deployment``: fresh gateways (and Redis), one load generator."""
    tokens = max(2, round(args.tps * args.duration))
    env = {"LOAD_TPS": str(args.tps), "LOAD_TOKENS": str(tokens)}
    if deployment == "redis before":
        env["PYTHONPATH"] = str(Path(args.before).resolve() / "src")
    with contextlib.ExitStack() as stack:
        redis_pid = 0
        if deployment != "memory":
            url, redis_pid = stack.enter_context(_redis())
            env["LOAD_STORE"] = url
        servers = [
            stack.enter_context(_server("gateway", env)) for _ in range(DEPLOYMENTS[deployment])
        ]
        (port, pid), more = servers[0], servers[1:]
        argv = [
            *(sys.executable, str(HERE / "_load_client.py"), "--port", str(port)),
            *("--server-pid", str(pid), "--redis-pid", str(redis_pid)),
            *("--more-ports", ",".join(str(p) for p, _ in more)),
            *("--more-server-pids", ",".join(str(p) for _, p in more)),
            *("--streams", str(streams), "--tps", str(args.tps), "--tokens", str(tokens)),
            *("--open-rate", str(args.open_rate), "--warmup", str(args.warmup)),
            *("--deadline", str(args.duration * 2 + streams / args.open_rate + 30)),
        ]
        timeout = args.duration * 4 + 300
        out = subprocess.run(argv, capture_output=True, check=False, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"load generator failed: {out.stderr.decode()[-2000:]}")
        raw: dict[str, Any] = json.loads(out.stdout)
    figures = derive(raw, "memory" if deployment == "memory" else "redis")
    figures.pop("raw")
    figures["load_at_end"] = os.getloadavg()[0]
    return figures


def measure(deployments: list[str], streams: int, args: Any) -> dict[str, Any]:
    """``--repeats`` rounds of every deployment in turn; medians and per-round ratios."""
    runs: dict[str, list[dict[str, Any]]] = {d: [] for d in deployments}
    for i in range(args.repeats):
        for deployment in deployments:
            started = time.monotonic()
            figures = run_deployment(deployment, streams, args)
            runs[deployment].append(figures)
            print(
                f"  {deployment:>8} N={streams:>5} run {i + 1}/{args.repeats}: "
                f"done {figures['done']}/{streams}, p99 {figures['p99_ms']:.1f} ms, "
                f"{figures['events_per_s']:,.0f} events/s, cpu {figures['cpu_percent']:.0f}% "
                f"({figures['cpu_us_per_event']:.1f} µs/event), redis cpu "
                f"{figures['redis_cpu_percent']:.0f}% [{time.monotonic() - started:.0f} s]",
                flush=True,
            )
    rows = []
    for deployment in deployments:
        done = [r["done"] for r in runs[deployment]]
        row: dict[str, Any] = {"deployment": deployment, "streams": streams, "done_min": min(done)}
        for key in (
            "p50_ms",
            "p99_ms",
            "lateness_p99_ms",
            "events_per_s",
            "offered_events_per_s",
            "cpu_percent",
            "cpu_us_per_event",
            "redis_cpu_percent",
            "client_cpu_percent",
        ):
            row[key] = statistics.median(r[key] for r in runs[deployment])
        row["runs"] = runs[deployment]
        rows.append(row)
    ratios: dict[str, list[float]] = {}
    if "memory" in runs and "redis" in runs:
        ratios["cpu_per_event_redis_over_memory"] = [
            r["cpu_us_per_event"] / m["cpu_us_per_event"]
            for m, r in zip(runs["memory"], runs["redis"], strict=True)
            if m["cpu_us_per_event"]
        ]
    if "redis" in runs and "redis before" in runs:
        ratios["cpu_per_event_redis_over_before"] = [
            r["cpu_us_per_event"] / b["cpu_us_per_event"]
            for b, r in zip(runs["redis before"], runs["redis"], strict=True)
            if b["cpu_us_per_event"]
        ]
    if "redis" in runs and "redis x2" in runs:
        ratios["events_per_s_two_over_one"] = [
            two["events_per_s"] / one["events_per_s"]
            for one, two in zip(runs["redis"], runs["redis x2"], strict=True)
            if one["events_per_s"]
        ]
    return {"streams": streams, "rows": rows, "ratios": ratios}


def markdown(results: dict[str, Any]) -> str:
    """The README's rows: one per deployment and size, then the same-run ratios."""
    lines = [
        "| N × 30 tok/s | deployment | done | events/s | p99 added ms | gateway CPU µs/event "
        "| gateway CPU % | redis-server CPU % | steady runs |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for table in results["tables"]:
        for row in table["rows"]:
            steady = sum(bool(r["steady"]) for r in row["runs"])
            lines.append(
                f"| {row['streams']:,} | {row['deployment']} "
                f"| {row['done_min']:,}/{row['streams']:,} | {row['events_per_s']:,.0f} "
                f"| {row['p99_ms']:.1f} | {row['cpu_us_per_event']:.1f} "
                f"| {row['cpu_percent']:.0f} | {row['redis_cpu_percent']:.0f} "
                f"| {steady}/{len(row['runs'])} |"
            )
    for table in results["tables"]:
        for name, values in table["ratios"].items():
            shown = ", ".join(f"{v:.2f}" for v in values)
            lines.append(f"\nN = {table['streams']:,}: {name} per round: {shown}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=500)
    p.add_argument("--scale-streams", type=int, default=1000)
    p.add_argument("--tps", type=float, default=30.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per answer")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--open-rate", type=float, default=1000.0)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--only", choices=("single", "scale"), help="run one of the two tables")
    p.add_argument("--before", help="a checkout of an earlier version: a 'redis before' row")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--markdown", action="store_true", help="print the README rows of --out")
    p.add_argument("--quick", action="store_true", help="a small smoke run (not for the docs)")
    args = p.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.out.read_text())))
        return
    if args.quick:
        args.streams, args.scale_streams, args.duration, args.repeats = 50, 100, 3.0, 1
        args.warmup = 10
        if args.out == RESULTS:
            args.out = Path(tempfile.gettempdir()) / "store-load-quick.json"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 20_000)), hard))
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "settings": {
            "tps": args.tps,
            "duration_s": args.duration,
            "repeats": args.repeats,
            "open_rate": args.open_rate,
        },
        "tables": [],
    }
    if args.only in (None, "single"):
        single = ["memory", "redis"] + (["redis before"] if args.before else [])
        results["tables"].append(measure(single, args.streams, args))
    if args.only in (None, "scale"):
        results["tables"].append(measure(["memory", "redis", "redis x2"], args.scale_streams, args))
    results["elapsed_s"] = round(time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    print(f"results: {args.out}; {results['elapsed_s']} s")


if __name__ == "__main__":
    main()
