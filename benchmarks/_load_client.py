"""The load generator of ``benchmarks/load.py``: N concurrent streams from one cheap process.

Strategy: one asyncio ``Protocol`` per connection on raw loopback sockets, no HTTP client and
no SSE parser, so the process that shares the cores with the server stays cheap. Each
connection sends one ``POST /v1/chat/stream`` (``Connection: close``) and, per chunk it
receives, takes the clock once and pulls out every production stamp with one regular
expression (``"text":" <unix seconds>"``, or ``"content":...`` where a hand-written proxy
passes the upstream's OpenAI chunks on; the stamp is the whole text of a stamped token), so
the added latency of a token is receipt time minus its stamp, same machine, same clock. Only
the unfinished last line of a chunk is carried over to the next one, so a stamp split across
two reads is still read once. A stream counts as ``done`` when its ``done`` event (through a
proxy of the OpenAI wire, ``data: [DONE]``) arrived; a connection that closes without one is
``lost`` (``unfinished`` when it was still streaming at the time bound and the load
generator closed it). Also per token, its lateness against the demo's schedule: receipt
minus (first token's stamp + k / tokens per second) for the k-th token, which also counts a
token produced late (a server too busy to run the demo's timers on time), which the added
latency cannot see.

The run, bounded in count and time: a warm-up of short answers; the server's RSS at rest;
``--streams`` connections opened at ``--open-rate`` per second; once all are open, a steady
window (until the first stream is due to end) over which the server's CPU time and the
events received are counted and, in its middle, the server's RSS is read (psutil); then the
wait for every stream to end, at most until ``--deadline``, after which the rest are closed
and counted as unfinished. Prints one JSON object.

With ``--more-ports`` (and ``--more-server-pids``) the streams go to several servers in turn
and the servers' CPU and RSS are summed (``store_load.py``'s two gateways on one Redis).

Run by ``load.py``; by hand: ``python benchmarks/_load_client.py --port P --server-pid PID``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import time
from array import array
from typing import Any, cast

import numpy as np
import psutil

STAMP = re.compile(rb'"(?:text|content)": ?" (\d+\.\d+)"')
DONE = re.compile(rb'"type": ?"done"|^data: \[DONE\]', re.MULTILINE)
ERROR = re.compile(rb'"type": ?"error"')
SETTLE = 0.5
"""Seconds after the last stream opened before the steady window starts."""
MARGIN = 0.5
"""Seconds before the first stream is due to end at which the steady window ends."""


def request(port: int, max_tokens: int | None = None) -> bytes:
    """One create-and-stream request of a demo answer."""
    body: dict[str, Any] = {"model": "demo", "messages": [{"role": "user", "content": "load"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST /v1/chat/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        "Accept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


class Run:
    """What all connections of one phase record."""

    def __init__(self, payload: bytes, expected: int, interval: float) -> None:
        self.payload = payload
        self.expected = expected
        self.interval = interval
        self.latency = array("d")
        self.lateness = array("d")
        self.events = 0
        self.open_times = array("d")
        self.spans = array("d")
        self.pending = 0
        self.headers_pending = 0
        self.all_open = asyncio.Event()
        self.all_closed = asyncio.Event()
        self.outcomes = {
            "done": 0,
            "error": 0,
            "lost": 0,
            "unfinished": 0,
            "refused": 0,
            "connect_failed": 0,
        }
        self.short = 0
        self.streams: list[Stream] = []
        self.error_samples: list[str] = []

    def opened(self) -> None:
        self.headers_pending -= 1
        if self.headers_pending == 0:
            self.all_open.set()

    def closed(self, stream: Stream) -> None:
        if stream.status == 0:
            self.opened()
        if stream.status not in (0, 200):
            outcome = "refused"
        elif stream.done:
            outcome = "done"
            if stream.count < self.expected:
                self.short += 1
            if stream.count > 1:
                self.spans.append(stream.last - stream.first)
        elif stream.error:
            outcome = "error"
        elif stream.aborted:
            outcome = "unfinished"
        else:
            outcome = "lost"
        self.outcomes[outcome] += 1
        self.pending -= 1
        if self.pending == 0:
            self.all_closed.set()


class Stream(asyncio.Protocol):
    """One streamed answer, read as bytes."""

    __slots__ = (
        "aborted",
        "count",
        "done",
        "error",
        "first",
        "head",
        "last",
        "run",
        "started",
        "status",
        "tail",
        "transport",
    )

    def __init__(self, run: Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.started = time.time()
        self.status = 0
        self.head = b""
        self.tail = b""
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = False
        self.error = False
        self.aborted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.run.payload)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        run = self.run
        if self.status == 0:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head[9:12])
            run.open_times.append(now - self.started)
            run.opened()
            data, self.head = self.head[end + 4 :], b""
            if self.status != 200:
                if self.transport is not None:
                    self.transport.close()
                return
        buf = self.tail + data if self.tail else data
        stamps = STAMP.findall(buf)
        if stamps:
            values = [float(s) for s in stamps]
            run.latency.extend([now - v for v in values])
            run.events += len(values)
            if not self.count:
                self.first = values[0]
            due, step = self.first + self.count * run.interval, run.interval
            run.lateness.extend([now - due - i * step for i in range(len(values))])
            self.last = values[-1]
            self.count += len(values)
        if DONE.search(buf):
            self.done = True
        elif ERROR.search(buf):
            self.error = True
            if len(run.error_samples) < 3:
                run.error_samples.append(buf[-300:].decode(errors="replace"))
        self.tail = buf[buf.rfind(b"\n") + 1 :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.run.closed(self)


async def _open(run: Run, port: int) -> None:
    loop = asyncio.get_running_loop()
    stream = Stream(run)
    run.streams.append(stream)
    try:
        await loop.create_connection(lambda: stream, "127.0.0.1", port)
    except OSError:
        run.outcomes["connect_failed"] += 1
        run.pending -= 1
        run.opened()
        if run.pending == 0:
            run.all_closed.set()


async def open_streams(run: Run, ports: list[int], count: int, rate: float) -> None:
    """Open ``count`` connections at ``rate`` per second, to each of ``ports`` in turn."""
    loop = asyncio.get_running_loop()
    run.pending += count
    run.headers_pending += count
    start = loop.time()
    tasks = []
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(_open(run, ports[i % len(ports)])))
    await asyncio.gather(*tasks)


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    times = proc.cpu_times()
    return float(times.user + times.system)


def _rss(proc: psutil.Process | None) -> int:
    return 0 if proc is None else int(proc.memory_info().rss)


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentiles(values: array[float]) -> dict[str, float]:
    if not len(values):
        return {"p50_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0}
    arr = np.frombuffer(values, dtype=np.float64) * 1000
    p50, p99, p999 = np.percentile(arr, [50, 99, 99.9])
    return {
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "p999_ms": float(p999),
        "max_ms": float(arr.max()),
        "mean_ms": float(arr.mean()),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run (see the module docstring)."""
    loop = asyncio.get_running_loop()
    ports = [args.port, *args.more_ports]
    servers = [psutil.Process(pid) for pid in (args.server_pid, *args.more_server_pids) if pid]
    redis = psutil.Process(args.redis_pid) if args.redis_pid else None
    hard_stop = loop.time() + args.deadline

    interval = 1.0 / args.tps
    warm = Run(request(args.port, max_tokens=args.warmup_tokens), args.warmup_tokens, interval)
    await open_streams(warm, ports, args.warmup, args.open_rate)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(warm.all_closed.wait(), 30)
    await asyncio.sleep(1.0)
    rss_rest, redis_rss_rest = sum(map(_rss, servers)), _rss(redis)

    run = Run(request(args.port), args.tokens, interval)
    duration = args.tokens / args.tps
    t0 = time.time()
    opener = loop.create_task(open_streams(run, ports, args.streams, args.open_rate))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_open.wait(), max(1.0, hard_stop - loop.time()))
    t_open = time.time()
    first_end = t0 + (min(run.open_times) if len(run.open_times) else 0.0) + duration

    window_start = t_open + SETTLE
    window_end = max(window_start + 1.0, first_end - MARGIN)

    def sample() -> tuple[float, float, float, int, float]:
        """CPU seconds of the server, Redis and this process; events so far; the time."""
        return sum(map(_cpu, servers)), _cpu(redis), _self_cpu(), run.events, time.time()

    await asyncio.sleep(max(0.0, window_start - time.time()))
    cpu0, redis_cpu0, self_cpu0, ev0, w0 = sample()
    await asyncio.sleep(max(0.0, (window_end - w0) / 2))
    rss_mid, redis_rss_mid, held = sum(map(_rss, servers)), _rss(redis), run.events
    held_streams = run.pending
    await asyncio.sleep(max(0.0, window_end - time.time()))
    cpu1, redis_cpu1, self_cpu1, ev1, w1 = sample()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_closed.wait(), max(0.1, hard_stop - loop.time()))
    t_end = time.time()
    await opener
    unfinished = 0
    for stream in run.streams:
        if stream.transport is not None and not stream.transport.is_closing():
            unfinished += 1
            stream.aborted = True
            stream.transport.abort()
    await asyncio.sleep(0.1)

    window = w1 - w0
    events = ev1 - ev0
    spans = np.frombuffer(run.spans, dtype=np.float64) if len(run.spans) else np.zeros(1)
    nominal = (args.tokens - 1) / args.tps
    return {
        "streams": args.streams,
        "tokens_per_second": args.tps,
        "tokens": args.tokens,
        "outcomes": run.outcomes,
        "error_samples": run.error_samples,
        "unfinished_at_deadline": unfinished,
        "done_streams_short": run.short,
        "events": run.events,
        "latency": _percentiles(run.latency),
        "lateness": _percentiles(run.lateness),
        "open_ms_p99": float(np.percentile(np.frombuffer(run.open_times) * 1000, 99))
        if len(run.open_times)
        else 0.0,
        "open_s": t_open - t0,
        "run_s": t_end - t0,
        "production_overrun_ms_p99": float(np.percentile(spans - nominal, 99) * 1000),
        "window_s": window,
        "window_events": events,
        "events_per_s": events / window if window > 0 else 0.0,
        "offered_events_per_s": args.streams * args.tps,
        "server_cpu_percent": (cpu1 - cpu0) / window * 100 if window > 0 else 0.0,
        "server_cpu_us_per_event": (cpu1 - cpu0) / events * 1e6 if events else 0.0,
        "redis_cpu_percent": (redis_cpu1 - redis_cpu0) / window * 100 if window > 0 else 0.0,
        "client_cpu_percent": (self_cpu1 - self_cpu0) / window * 100 if window > 0 else 0.0,
        "rss_rest": rss_rest,
        "rss_mid": rss_mid,
        "redis_rss_rest": redis_rss_rest,
        "redis_rss_mid": redis_rss_mid,
        "journal_events_mid": held + held_streams,
        "streams_mid": held_streams,
    }


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-pid", type=int, default=0)
    p.add_argument("--redis-pid", type=int, default=0)
    p.add_argument("--more-ports", type=_ints, default=[], help="more servers' ports, a,b")
    p.add_argument("--more-server-pids", type=_ints, default=[], help="their pids (CPU, RSS)")
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--tps", type=float, default=30.0, help="the server's demo tokens/s")
    p.add_argument("--tokens", type=int, default=300, help="the server's demo answer length")
    p.add_argument("--open-rate", type=float, default=1000.0, help="connections opened per s")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--warmup-tokens", type=int, default=3)
    p.add_argument("--deadline", type=float, default=120.0, help="seconds the run may take")
    args = p.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(measure(args))))


if __name__ == "__main__":
    main()
