"""Load benchmark: many concurrent streams through the gateway, against FastAPI + sse-starlette
(or, with ``--upstream http``, against hand-written proxies of an HTTP upstream).

What runs (each run in fresh processes, loopback only):

- the server: ``uvicorn`` with uvloop + httptools, one process, access log off, serving either
  the surestream gateway (``POST /v1/chat/stream``, MemoryStore or RedisStore; a private
  ``redis-server`` on a free port is started for the Redis runs) or a typical FastAPI +
  sse-starlette endpoint (see ``_load_apps.py``). Both stream the same demo model: one event
  per token at ``--tps`` tokens/s, every answer exactly ``--duration`` seconds long, each
  token's text its production time (``DemoModel(stamp=True)``);
- the load generator (``_load_client.py``), its own process: raw asyncio sockets, one regular
  expression per received chunk, opening ``N`` streams at ``--open-rate`` per second.

Per run it records: streams that ended with ``done`` (and any error, lost connection or
refusal), events/s delivered, the added latency of every token (receipt minus production
stamp, same clock) as p50 / p99 / max, each token's lateness against the demo's schedule
(p99; unlike the added latency it also counts a token the server produced late), and over a steady window with all streams open the
server's CPU (% of one core and µs per delivered event) and its RSS growth per stream from
rest. For the MemoryStore the journal lives in the gateway's memory, so the RSS per stream is
also given *beyond the journal*: the journal's bytes are the events it holds (events
received so far plus each stream's ``start``) times what one stamped token takes there (its
string and a list slot). With Redis the journal lives in ``redis-server``,
whose RSS growth is reported on its own.

The default grid reproduces docs/load.md: N in ``--sizes`` at ``--tps`` for the gateway on
each store and for sse-starlette, N in ``--slow-sizes`` at ``--slow-tps`` on the MemoryStore
and sse-starlette, each ``--repeats`` times (medians reported); then the highest N in
``--search`` at ``--tps`` at which the p99 added latency stays under ``--p99-limit`` ms, for
the gateway (MemoryStore) and sse-starlette (N already in the grid are taken from it, the
others run once; the search stops at the first N over the limit). The whole default run
takes about 20 minutes; ``--quick`` is a small smoke run for development.

Writes ``benchmarks/results/load.json`` and ``docs/load.png`` and prints the tables.

``--upstream http`` measures the main job instead, the gateway in front of a real upstream:
``_load_upstream.py``, an OpenAI-wire server in its own process (one HTTP chunk per token,
stamped, at ``--tps``), behind (a) the gateway (MemoryStore, the upstream as its only one),
(b) a hand-written FastAPI + httpx proxy re-yielding the upstream's lines through a
``StreamingResponse`` and (c) the same through sse-starlette (``_load_apps.py``). Default:
N = 100 at 30 tokens/s, 3 interleaved repeats; the figure is the server process's CPU per
token (the upstream's and the load generator's are not counted), and each repeat's ratio
ours / theirs (``_load_http.py``). Writes ``benchmarks/results/load-http.json``.

Run: ``.venv/bin/python benchmarks/load.py`` (``--quick``; ``--help`` for the flags;
``--plot-only`` redraws the plot from the JSON and ``--markdown`` prints the docs' tables).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _load_http
from _common import cpu_model, free_port
from rich.console import Console
from rich.table import Table

from surestream.events import Start

HERE = Path(__file__).parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "load.json"
RESULTS_HTTP = HERE / "results" / "load-http.json"
PLOT = ROOT / "docs" / "load.png"
VARIANTS = {
    "memory": "surestream gateway, MemoryStore",
    "redis": "surestream gateway, RedisStore",
    "starlette": "FastAPI + sse-starlette",
}
HTTP_VARIANTS = {
    "gateway-http": "surestream gateway, MemoryStore, HTTP upstream",
    "proxy": "FastAPI + httpx, StreamingResponse",
    "proxy-sse": "FastAPI + httpx, sse-starlette",
}
"""``--upstream http``: the servers in front of ``_load_upstream.py``."""
APPS = {
    "memory": "gateway",
    "redis": "gateway",
    "starlette": "starlette",
    "gateway-http": "gateway_http",
    "proxy": "proxy",
    "proxy-sse": "proxy_sse",
}
"""Variant -> its factory in ``_load_apps.py``."""
SHORT = {
    "memory": "ours, memory",
    "redis": "ours, redis",
    "starlette": "sse-starlette",
    "gateway-http": "ours (gateway)",
    "proxy": "FastAPI + httpx StreamingResponse",
    "proxy-sse": "FastAPI + httpx sse-starlette",
}
COLORS = {"memory": "#1f77b4", "redis": "#2ca02c", "starlette": "#d62728"}
OPEN_FILES = 20_000
STEADY_WINDOW = 2.0
"""Seconds of all streams open below which a run has no steady state (the streams took
longer to open than to stream): its CPU and RSS figures are then over a 1 s fallback window
and marked as such."""


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {proc.poll()})")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def _redis() -> Iterator[tuple[str, int]]:
    """A private redis-server on a free port, no persistence; yields its URL and pid."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", tmp, "--maxclients", "15000"),
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port, proc, "redis-server")
            yield f"redis://127.0.0.1:{port}/0", proc.pid
        finally:
            _stop(proc)


@contextlib.contextmanager
def _server(app: str, env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """A fresh uvicorn process serving ``_load_apps:<app>``; yields its port and pid."""
    port = free_port()
    argv = [
        *(sys.executable, "-m", "uvicorn", f"_load_apps:{app}", "--factory"),
        *("--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
        *("--log-level", "warning", "--backlog", "4096"),
    ]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=log)
        try:
            _wait_for_port(port, proc, f"uvicorn {app}")
            yield port, proc.pid
        finally:
            _stop(proc)
            log.seek(0)
            errors = log.read().decode(errors="replace")
            if "Traceback" in errors:
                print(f"server {app} logged errors:\n{errors[-2000:]}", file=sys.stderr)


@contextlib.contextmanager
def _upstream(tps: float, tokens: int) -> Iterator[str]:
    """``_load_upstream.py`` in its own process on a free port; yields its base URL."""
    port = free_port()
    argv = [
        *(sys.executable, str(HERE / "_load_upstream.py"), "--port", str(port)),
        *("--tps", str(tps), "--tokens", str(tokens)),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, "the HTTP upstream")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(proc)


def journal_bytes_per_event() -> int:
    """Bytes one stamped token takes in a MemoryStore journal: its text (the journal keeps a
    ``Text`` as its ``str``) and a list slot (8 bytes, 9 with the list's over-allocation)."""
    return sys.getsizeof(" 1712345678.123456") + 9


def start_bytes() -> int:
    """Bytes of a journal's ``Start`` event and its strings."""
    start = Start("st_" + "x" * 30, "demo")
    return sys.getsizeof(start) + sys.getsizeof(start.stream) + 8


def run_once(variant: str, streams: int, tps: float, duration: float, args: Any) -> dict[str, Any]:
    """One run: fresh server (and Redis), one load generator; its raw figures."""
    tokens = max(2, round(tps * duration))
    env = {"LOAD_TPS": str(tps), "LOAD_TOKENS": str(tokens)}
    with contextlib.ExitStack() as stack:
        redis_pid = 0
        if variant == "redis":
            url, redis_pid = stack.enter_context(_redis())
            env["LOAD_STORE"] = url
        if variant in HTTP_VARIANTS:
            env["LOAD_UPSTREAM"] = stack.enter_context(_upstream(tps, tokens))
        port, pid = stack.enter_context(_server(APPS[variant], env))
        argv = [
            *(sys.executable, str(HERE / "_load_client.py"), "--port", str(port)),
            *("--server-pid", str(pid), "--redis-pid", str(redis_pid)),
            *("--streams", str(streams), "--tps", str(tps), "--tokens", str(tokens)),
            *("--open-rate", str(args.open_rate), "--warmup", str(args.warmup)),
            *("--deadline", str(duration * 2 + streams / args.open_rate + 30)),
        ]
        out = subprocess.run(argv, capture_output=True, check=False, timeout=duration * 4 + 300)
        if out.returncode != 0:
            raise RuntimeError(f"load generator failed: {out.stderr.decode()[-2000:]}")
        raw: dict[str, Any] = json.loads(out.stdout)
    return derive(raw, variant)


def derive(raw: dict[str, Any], variant: str) -> dict[str, Any]:
    """The figures the tables show, from one run's raw numbers."""
    open_streams = max(1, raw["streams_mid"])
    rss = (raw["rss_mid"] - raw["rss_rest"]) / 1024 / open_streams
    journal = 0.0
    if variant in ("memory", "gateway-http"):
        held = raw["journal_events_mid"] - raw["streams_mid"]
        journal = (
            (held * journal_bytes_per_event() + raw["streams_mid"] * start_bytes())
            / 1024
            / open_streams
        )
    outcomes = raw["outcomes"]
    return {
        "streams": raw["streams"],
        "steady": raw["window_s"] >= STEADY_WINDOW and raw["streams_mid"] == raw["streams"],
        "done": outcomes["done"],
        "not_done": raw["streams"] - outcomes["done"],
        "outcomes": outcomes,
        "p50_ms": raw["latency"]["p50_ms"],
        "p99_ms": raw["latency"]["p99_ms"],
        "max_ms": raw["latency"]["max_ms"],
        "lateness_p99_ms": raw["lateness"]["p99_ms"],
        "events_per_s": raw["events_per_s"],
        "offered_events_per_s": raw["offered_events_per_s"],
        "cpu_percent": raw["server_cpu_percent"],
        "cpu_us_per_event": raw["server_cpu_us_per_event"],
        "rss_kib_per_stream": rss,
        "journal_kib_per_stream": journal,
        "rss_beyond_journal_kib_per_stream": rss - journal,
        "redis_rss_kib_per_stream": (raw["redis_rss_mid"] - raw["redis_rss_rest"])
        / 1024
        / open_streams,
        "redis_cpu_percent": raw["redis_cpu_percent"],
        "client_cpu_percent": raw["client_cpu_percent"],
        "open_s": raw["open_s"],
        "window_s": raw["window_s"],
        "production_overrun_ms_p99": raw["production_overrun_ms_p99"],
        "raw": raw,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of every figure over the repeats; ``done`` is the worst run's."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if key in ("raw", "outcomes"):
            continue
        if key == "steady":
            out[key] = all(r[key] for r in runs)
        elif key in ("done",):
            out[key] = min(r[key] for r in runs)
        elif key in ("not_done",):
            out[key] = max(r[key] for r in runs)
        elif isinstance(value, int | float):
            out[key] = statistics.median(r[key] for r in runs)
    out["runs"] = [{k: v for k, v in r.items() if k != "raw"} for r in runs]
    return out


def measure(
    variants: list[str], streams: int, tps: float, duration: float, repeats: int, args: Any
) -> list[dict[str, Any]]:
    """``repeats`` runs of each variant, interleaved (a, b, a, b, ...) so that a change in
    the machine's background load falls on every variant alike; their medians."""
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    for i in range(repeats):
        for variant in variants:
            started = time.monotonic()
            figures = run_once(variant, streams, tps, duration, args)
            runs[variant].append(figures)
            print(
                f"  {variant:>9} N={streams:>5} {tps:g} tok/s run {i + 1}/{repeats}: "
                f"done {figures['done']}/{streams}, p99 {figures['p99_ms']:.1f} ms, "
                f"cpu {figures['cpu_percent']:.0f}% ({figures['cpu_us_per_event']:.1f} µs/event), "
                f"RSS {figures['rss_kib_per_stream']:.1f} KiB/stream "
                f"[{time.monotonic() - started:.0f} s]",
                flush=True,
            )
    return [
        {"variant": variant, "streams": streams, "tps": tps, **median_of(runs[variant])}
        for variant in variants
    ]


def search(variant: str, grid: list[dict[str, Any]], args: Any) -> dict[str, Any]:
    """The highest N in ``--search`` with every stream done and the p99 added latency under
    the limit (the issue's measure), and the same with the p99 lateness against the schedule;
    stops at the first N where both are over."""
    best = best_late = 0
    passing = passing_late = True
    tried = []
    for streams in args.search:
        known = [
            r
            for r in grid
            if r["variant"] == variant and r["streams"] == streams and r["tps"] == args.tps
        ]
        result = (
            known[0] if known else measure([variant], streams, args.tps, args.duration, 1, args)[0]
        )
        done = result["not_done"] == 0
        passing = passing and done and result["p99_ms"] < args.p99_limit
        passing_late = passing_late and done and result["lateness_p99_ms"] < args.p99_limit
        tried.append(
            {
                "streams": streams,
                "p99_ms": result["p99_ms"],
                "lateness_p99_ms": result["lateness_p99_ms"],
                "done": result["done"],
                "events_per_s": result["events_per_s"],
                "offered_events_per_s": result["offered_events_per_s"],
                "open_s": result["open_s"],
                "ok": passing,
                "ok_late": passing_late,
            }
        )
        best = streams if passing else best
        best_late = streams if passing_late else best_late
        if not passing and not passing_late:
            break
    return {"variant": variant, "highest_n": best, "highest_n_late": best_late, "tried": tried}


def machine() -> dict[str, str]:
    model = cpu_model()
    versions = {
        name: importlib.metadata.version(name)
        for name in (
            *("uvicorn", "uvloop", "httptools", "starlette", "fastapi", "sse-starlette"),
            "httpx",
        )
    }
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "load_at_start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        **versions,
        "redis-server": next((w[2:] for w in redis_version if w.startswith("v=")), "?"),
    }


def run(args: Any) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, OPEN_FILES)), hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit < 3 * max(args.sizes + args.slow_sizes + args.search) + 100:
        print(f"warning: open-files limit {limit} may be too low for the largest N")
    if "redis" in args.variants and shutil.which("redis-server") is None:
        raise SystemExit("redis-server not found (needed for the RedisStore runs)")
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "settings": {
            "tps": args.tps,
            "duration_s": args.duration,
            "slow_tps": args.slow_tps,
            "slow_duration_s": args.slow_duration,
            "open_rate": args.open_rate,
            "repeats": args.repeats,
            "p99_limit_ms": args.p99_limit,
            "journal_bytes_per_event": journal_bytes_per_event(),
        },
        "grid": [],
        "slow": [],
        "search": [],
    }
    for streams in args.sizes:
        results["grid"] += measure(
            args.variants, streams, args.tps, args.duration, args.repeats, args
        )
    for streams in args.slow_sizes:
        results["slow"] += measure(
            [v for v in args.variants if v != "redis"],
            streams,
            args.slow_tps,
            args.slow_duration,
            args.repeats,
            args,
        )
    if args.search:
        for variant in [v for v in args.variants if v != "redis"]:
            results["search"].append(search(variant, results["grid"], args))
    return results


def markdown(results: dict[str, Any]) -> str:
    """The tables of docs/load.md, from the results."""
    settings = results["settings"]
    head = (
        "| N | tokens/s | server | done | events/s | p50 ms | p99 ms | max ms | late p99 ms "
        "| CPU % | CPU µs/event | RSS KiB/stream | beyond journal |\n"
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |"
    )
    lines = [head]
    for r in results["grid"] + results["slow"]:
        beyond = r["rss_beyond_journal_kib_per_stream"]
        mark = "" if r["steady"] else " †"
        lines.append(
            f"| {r['streams']:,} | {r['tps']:g} | {SHORT[r['variant']]} "
            f"| {r['done']:,}/{r['streams']:,} | {r['events_per_s']:,.0f} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.0f} "
            f"| {r['lateness_p99_ms']:.1f} | {r['cpu_percent']:.0f}{mark} "
            f"| {r['cpu_us_per_event']:.1f}{mark} | {r['rss_kib_per_stream']:.1f}{mark} "
            f"| {beyond:.1f}{mark} |"
        )
    if results["search"]:
        limit = f"{settings['p99_limit_ms']:g} ms"
        lines += [
            "",
            f"| {settings['tps']:g} tokens/s | highest N, p99 added latency < {limit} "
            f"| highest N, p99 lateness < {limit} |",
            "| --- | ---: | ---: |",
        ]
        for s in results["search"]:
            lines.append(
                f"| {SHORT[s['variant']]} | {s['highest_n']:,} | {s.get('highest_n_late', 0):,} |"
            )
        lines += [
            "",
            "| server | N | done | p99 added ms | p99 late ms | events/s (offered) | opening s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in results["search"]:
            for t in s["tried"]:
                lines.append(
                    f"| {SHORT[s['variant']]} | {t['streams']:,} | {t.get('done', 0):,} "
                    f"| {t['p99_ms']:.1f} | {t.get('lateness_p99_ms', 0):.1f} "
                    f"| {t.get('events_per_s', 0):,.0f} ({t.get('offered_events_per_s', 0):,.0f}) "
                    f"| {t.get('open_s', 0):.1f} |"
                )
    return "\n".join(lines)


def report(results: dict[str, Any]) -> None:
    console = Console(width=140)
    settings = results["settings"]
    for key, title in (
        ("grid", f"{settings['tps']:g} tokens/s per stream, {settings['duration_s']:g} s answers"),
        (
            "slow",
            f"{settings['slow_tps']:g} tokens/s per stream, {settings['slow_duration_s']:g} s answers",
        ),
    ):
        if not results[key]:
            continue
        table = Table(title=f"{title}; medians of {settings['repeats']}")
        for column in (
            "N",
            "server",
            "done",
            "events/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "late p99",
            "CPU %",
            "CPU µs/event",
            "RSS KiB/stream",
            "beyond journal",
        ):
            table.add_column(column, justify="left" if column == "server" else "right")
        for r in results[key]:
            table.add_row(
                f"{r['streams']:,}",
                SHORT[r["variant"]],
                f"{r['done']:,}/{r['streams']:,}",
                f"{r['events_per_s']:,.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                f"{r['lateness_p99_ms']:.1f}",
                f"{r['cpu_percent']:.0f}",
                f"{r['cpu_us_per_event']:.1f}",
                f"{r['rss_kib_per_stream']:.1f}",
                f"{r['rss_beyond_journal_kib_per_stream']:.1f}",
            )
        console.print(table)
    for s in results["search"]:
        tried = ", ".join(
            f"{t['streams']:,}: {t['p99_ms']:.0f} / {t.get('lateness_p99_ms', 0):.0f} ms"
            for t in s["tried"]
        )
        console.print(
            f"highest N at {settings['tps']:g} tokens/s with p99 added latency / lateness < "
            f"{settings['p99_limit_ms']:g} ms, {VARIANTS[s['variant']]}: {s['highest_n']:,} / "
            f"{s.get('highest_n_late', 0):,} ({tried})"
        )


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = results["settings"]
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for variant, name in VARIANTS.items():
        rows = sorted(
            (r for r in results["grid"] if r["variant"] == variant), key=lambda r: r["streams"]
        )
        if not rows:
            continue
        xs = [r["streams"] for r in rows]
        style = {"color": COLORS[variant], "marker": "o", "label": name}
        lat.plot(xs, [max(r["p99_ms"], 0.01) for r in rows], **style)
        steady = [r for r in rows if r["steady"]]
        mem.plot([r["streams"] for r in steady], [r["rss_kib_per_stream"] for r in steady], **style)
        if variant == "memory":
            mem.plot(
                [r["streams"] for r in steady],
                [r["rss_beyond_journal_kib_per_stream"] for r in steady],
                color=COLORS[variant],
                marker="o",
                linestyle="--",
                label=f"{name}, beyond the journal",
            )
        slow = [r for r in results["slow"] if r["variant"] == variant]
        for r in slow:
            marker = {"color": COLORS[variant], "marker": "s", "markerfacecolor": "none"}
            lat.plot([r["streams"]], [max(r["p99_ms"], 0.01)], **marker, linestyle="none")
            mem.plot([r["streams"]], [r["rss_kib_per_stream"]], **marker, linestyle="none")
    lat.axhline(50, color="grey", linestyle=":", linewidth=1)
    mem.axhline(30, color="grey", linestyle=":", linewidth=1)
    sizes = sorted({r["streams"] for r in results["grid"] + results["slow"]})
    for ax in (lat, mem):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
    lat.set_yscale("log")
    lat.set_xlabel("concurrent streams (N)")
    lat.set_ylabel("p99 added latency per token (ms)")
    lat.set_title(f"p99 added latency, {settings['tps']:g} tokens/s per stream")
    mem.set_xlabel("concurrent streams (N)")
    mem.set_ylabel("server RSS growth per open stream (KiB)")
    mem.set_title("RSS per stream")
    mem.set_ylim(bottom=0)
    for ax in (lat, mem):
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = mem.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    machine = results["machine"]
    fig.suptitle(
        f"{machine['cores']} cores ({machine['cpu']}); squares: {settings['slow_tps']:g} "
        "tokens/s; dotted: the targets (50 ms, 30 KiB); RSS only where all N were open at once",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description="Load benchmark: gateway vs FastAPI + sse-starlette")
    p.add_argument("--sizes", type=_ints, default=[100, 1000, 5000], help="N at --tps")
    p.add_argument("--tps", type=float, default=30.0, help="tokens per second per stream")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per answer at --tps")
    p.add_argument("--slow-sizes", type=_ints, default=[5000], help="N at --slow-tps")
    p.add_argument("--slow-tps", type=float, default=2.0)
    p.add_argument("--slow-duration", type=float, default=30.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--search", type=_ints, default=[500, 1000, 2000, 3000, 5000])
    p.add_argument("--p99-limit", type=float, default=100.0, help="ms, for --search")
    p.add_argument("--open-rate", type=float, default=1000.0, help="streams opened per second")
    p.add_argument("--warmup", type=int, default=100, help="short streams before each run")
    p.add_argument(
        "--variants",
        type=lambda s: s.split(","),
        default=list(VARIANTS),
        help="memory,redis,starlette (--upstream http: gateway-http,proxy,proxy-sse)",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--plot", type=Path, default=PLOT)
    p.add_argument("--plot-only", action="store_true", help="redraw the plot from --out")
    p.add_argument("--markdown", action="store_true", help="print the tables of --out")
    p.add_argument("--quick", action="store_true", help="a small smoke run (not for the docs)")
    p.add_argument(
        "--upstream",
        choices=("demo", "http"),
        default="demo",
        help="demo: the in-process demo model (the default grid); http: the gateway and the "
        "hand-written proxies in front of _load_upstream.py in its own process",
    )
    if p.parse_known_args()[0].upstream == "http":
        p.set_defaults(
            sizes=[100],
            slow_sizes=[],
            search=[],
            variants=list(HTTP_VARIANTS),
            out=RESULTS_HTTP,
            plot=None,
        )
    args = p.parse_args()
    if args.markdown:
        results = json.loads(args.out.read_text())
        http = results["settings"].get("upstream") == "http"
        print(_load_http.markdown(results, SHORT) if http else markdown(results))
        return
    if args.plot_only:
        results = json.loads(args.out.read_text())
        report(results)
        plot(results, args.plot)
        return
    if args.quick:
        http = args.upstream == "http"
        args.sizes, args.slow_sizes = ([50], []) if http else ([50, 200], [200])
        args.search = [] if http else [50, 200]
        args.duration, args.slow_duration, args.repeats, args.warmup = 3.0, 4.0, 1, 10
        if args.out in (RESULTS, RESULTS_HTTP):
            args.out = Path(tempfile.gettempdir()) / f"load-quick-{args.upstream}.json"
        if args.plot == PLOT:
            args.plot = Path(tempfile.gettempdir()) / "load-quick.png"
    started = time.monotonic()
    results = run(args)
    results["settings"]["upstream"] = args.upstream
    if args.upstream == "http":
        results["ratios"] = _load_http.ratios(results["grid"])
    results["elapsed_s"] = round(time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    if args.upstream == "http":
        print(_load_http.markdown(results, SHORT))
    if args.plot is not None:
        plot(results, args.plot)
    print(f"results: {args.out}; plot: {args.plot}; {results['elapsed_s']} s")


if __name__ == "__main__":
    main()
