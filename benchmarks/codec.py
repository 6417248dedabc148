"""Codec benchmark: our SSE Decoder and encode() against the Python SSE libraries people use.

One run, two synthetic LLM-like streams of the same text deltas (3-12 characters), each cut
into 4 KiB and 64 KiB chunks:

- ``native``: ``id: N`` + ``data: {"type":"text",...}``, the occasional ``: ping`` comment and
  the occasional multi-line data;
- ``event+data``: Anthropic's shape, ``event: content_block_delta`` + ``data:
  {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":...}}`` (no
  ids), the occasional ``event: ping`` block, as Claude's Messages API streams it.

Each decoder is fed the way its library is fed:

- ours: ``Decoder.feed(chunk)`` per raw byte chunk, then ``close()``;
- httpx-sse: ``EventSource(response).iter_sse()`` over a real ``httpx.Response`` whose body is
  the chunk iterator (httpx's text decoding and httpx-sse's ``SSELineDecoder`` included);
- sseclient-py: ``SSEClient(iter(chunks)).events()``;
- the floor: ``bytes.split(b"\\n\\n")`` over each chunk (no parsing at all).

Encoding: ours ``encode(data, id=str(n))`` vs sse-starlette ``ServerSentEvent(data, id=...)``
then ``.encode()``. The candidates of one table take turns (a, b, c, a, b, c, ...) so that
a noisy neighbour hits all of them alike; each figure is the median of ``REPEATS`` turns.
Prints the tables and the ratios, writes ``benchmarks/results/codec.json``.

Run: ``.venv/bin/python benchmarks/codec.py`` (or ``make bench``).
"""

from __future__ import annotations

import datetime
import gc
import json
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import httpx
from _common import results_path
from httpx_sse import EventSource
from rich.console import Console
from rich.table import Table
from sse_starlette.event import ServerSentEvent as StarletteEvent
from sseclient import SSEClient

from surestream.sse import Decoder, encode

EVENTS = 120_000
REPEATS = 5
CHUNK_SIZES = (4096, 65536)
RESULTS = Path(__file__).parent / "results" / "codec.json"
WORDS = (
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "streaming",
    "tokens",
    "é",
    "naïve",
    "café",
    "🙂",
    "résumé",
    "and",
    "“quotes”",
    "in",
    "between",
)


def make_deltas(n: int, seed: int = 7) -> list[str]:
    """``n`` text deltas of 3-12 characters, LLM-like (words, spaces, some non-ASCII)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        size = rng.randint(3, 12)
        text = ""
        while len(text) < size:
            text += " " + rng.choice(WORDS)
        out.append(text[:size])
    return out


Reference: TypeAlias = list[tuple[str, str, str | None]]
"""(event type, data, id) of every event of a stream."""


def make_stream(n: int) -> tuple[bytes, Reference]:
    """The wire bytes of a native stream with ``n`` events, and its events."""
    rng = random.Random(11)
    parts = [b"retry: 3000\n\n"]
    reference: Reference = []
    for seq, delta in enumerate(make_deltas(n)):
        if rng.random() < 1 / 200:
            parts.append(b": ping\n\n")
        if rng.random() < 1 / 500:
            payload = json.dumps({"type": "text", "text": delta}, indent=1, ensure_ascii=False)
        else:
            payload = json.dumps(
                {"type": "text", "text": delta}, separators=(",", ":"), ensure_ascii=False
            )
        parts.append(encode(payload, id=str(seq)))
        reference.append(("message", payload, str(seq)))
    return b"".join(parts), reference


def make_typed_stream(n: int) -> tuple[bytes, Reference]:
    """The wire bytes of an Anthropic-shaped stream with ``n`` events, and its events."""
    rng = random.Random(13)
    parts: list[bytes] = []
    reference: Reference = []
    for delta in make_deltas(n - n // 200):
        if rng.random() < 1 / 200:
            parts.append(b'event: ping\ndata: {"type": "ping"}\n\n')
            reference.append(("ping", '{"type": "ping"}', None))
        block = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": delta},
        }
        payload = json.dumps(block, separators=(",", ":"), ensure_ascii=False)
        parts.append(encode(payload, event="content_block_delta"))
        reference.append(("content_block_delta", payload, None))
    return b"".join(parts), reference


def chunked(blob: bytes, size: int) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def decode_ours(chunks: list[bytes]) -> int:
    decoder = Decoder()
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    return n + len(decoder.close())


def decode_httpx_sse(chunks: list[bytes]) -> int:
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    n = 0
    for _ in EventSource(response).iter_sse():
        n += 1
    return n


def decode_sseclient(chunks: list[bytes]) -> int:
    n = 0
    for _ in SSEClient(iter(chunks)).events():
        n += 1
    return n


def sanity(chunks: list[bytes]) -> dict[str, Reference]:
    """(event type, data, id) of every event each decoder yields, untimed.

    httpx-sse also yields a (data-less) event for a comment-only block once an id was seen,
    against the spec ("If the data buffer is an empty string, ... return"); those are dropped.
    """
    decoder = Decoder()
    ours = [(e.event, e.data, e.id) for chunk in chunks for e in decoder.feed(chunk)]
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    httpx_sse = [
        (e.event, e.data, e.id or None) for e in EventSource(response).iter_sse() if e.data
    ]
    sseclient = [(e.event, e.data, e.id) for e in SSEClient(iter(chunks)).events()]
    return {"surestream": ours, "httpx-sse": httpx_sse, "sseclient-py": sseclient}


def decode_split_floor(chunks: list[bytes]) -> int:
    n = 0
    for chunk in chunks:
        n += len(chunk.split(b"\n\n"))
    return n


def encode_ours(items: list[tuple[str, str]]) -> int:
    for data, seq in items:
        encode(data, id=seq)
    return len(items)


def encode_starlette(items: list[tuple[str, str]]) -> int:
    for data, seq in items:
        StarletteEvent(data, id=seq).encode()
    return len(items)


def interleaved_rates(candidates: dict[str, Callable[[], int]], events: int) -> dict[str, float]:
    """Median events/s of each candidate over ``REPEATS`` turns, the candidates taking turns."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(REPEATS):
        for name, fn in candidates.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: events / statistics.median(runs) for name, runs in times.items()}


def machine() -> dict[str, str]:
    model = cores = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "CPU(s)":
                cores = value.strip()
    except OSError:
        pass
    return {"cpu": model, "cores": cores, "python": platform.python_version()}


DECODERS: dict[str, Callable[[list[bytes]], int]] = {
    "surestream": decode_ours,
    "httpx-sse": decode_httpx_sse,
    "sseclient-py": decode_sseclient,
    "bytes.split floor": decode_split_floor,
}
STREAMS: dict[str, Callable[[int], tuple[bytes, Reference]]] = {
    "native": make_stream,
    "event+data": make_typed_stream,
}


def run() -> dict[str, object]:
    decode: dict[str, dict[str, dict[str, float]]] = {}
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for shape, make in STREAMS.items():
        blob, reference = make(EVENTS)
        sizes[shape] = len(blob)
        decode[shape] = {}
        for size in CHUNK_SIZES:
            chunks = chunked(blob, size)
            for name, events in sanity(chunks).items():
                counts[f"{shape}: {name} @ {size}"] = len(events)
                if events != reference:
                    sys.exit(f"{name} decodes the {shape} stream in {size}-byte chunks wrongly")
            candidates = {
                name: lambda fn=fn, chunks=chunks: fn(chunks) for name, fn in DECODERS.items()
            }
            decode[shape][str(size)] = interleaved_rates(candidates, len(reference))

    items = [
        (json.dumps({"type": "text", "text": d}, separators=(",", ":"), ensure_ascii=False), str(i))
        for i, d in enumerate(make_deltas(EVENTS))
    ]
    enc = interleaved_rates(
        {
            "surestream": lambda: encode_ours(items),
            "sse-starlette": lambda: encode_starlette(items),
        },
        len(items),
    )
    return {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "events": EVENTS,
        "events_decoded": counts,
        "stream_bytes": sizes,
        "repeats": REPEATS,
        "decode_events_per_s": decode,
        "decode_ratio_vs_httpx_sse": {
            shape: {size: row["surestream"] / row["httpx-sse"] for size, row in rows.items()}
            for shape, rows in decode.items()
        },
        "encode_events_per_s": enc,
        "encode_ratio_vs_sse_starlette": enc["surestream"] / enc["sse-starlette"],
    }


def report(results: dict[str, object]) -> None:
    console = Console()
    decode = results["decode_events_per_s"]
    enc = results["encode_events_per_s"]
    assert isinstance(decode, dict) and isinstance(enc, dict)
    for shape, rows in decode.items():
        table = Table(
            title=f"SSE decode, {shape} stream, events/s (median of {REPEATS} interleaved turns)"
        )
        table.add_column("decoder")
        for size in rows:
            table.add_column(f"{int(size) // 1024} KiB chunks", justify="right")
            table.add_column("vs httpx-sse", justify="right")
        for name in DECODERS:
            cells = []
            for row in rows.values():
                cells += [f"{row[name]:,.0f}", f"{row[name] / row['httpx-sse']:.2f}x"]
            table.add_row(name, *cells)
        console.print(table)
    etable = Table(title=f"SSE encode, events/s (median of {REPEATS} interleaved turns)")
    etable.add_column("encoder")
    etable.add_column("events/s", justify="right")
    etable.add_column("vs sse-starlette", justify="right")
    for name, rate in enc.items():
        etable.add_row(name, f"{rate:,.0f}", f"{rate / enc['sse-starlette']:.2f}x")
    console.print(etable)
    console.print(f"machine: {results['machine']}  date: {results['date']}")


def main() -> None:
    out = results_path(__doc__, RESULTS)
    results = run()
    report(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
