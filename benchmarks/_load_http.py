"""Same-run ratios of ``benchmarks/load.py --upstream http``: the gateway against the
hand-written proxies in front of the same HTTP upstream.

The variants of one size run interleaved (gateway, proxy, proxy-sse, gateway, ...), so run
``i`` of each variant forms one group measured under the same background load; the ratio of
each group is the gateway's server CPU per token over the other server's, and the figure
reported is the median of the groups' ratios (each group's ratio is listed too).
"""

from __future__ import annotations

import statistics
from typing import Any

OURS = "gateway-http"
ANCHORS = ("proxy", "proxy-sse")


def ratios(grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size and anchor: the gateway's CPU µs per token over the anchor's, run by run."""
    out = []
    for ours in (r for r in grid if r["variant"] == OURS):
        for anchor in ANCHORS:
            theirs = next(
                (
                    r
                    for r in grid
                    if r["variant"] == anchor
                    and r["streams"] == ours["streams"]
                    and r["tps"] == ours["tps"]
                ),
                None,
            )
            if theirs is None:
                continue
            pairs = [
                a["cpu_us_per_event"] / b["cpu_us_per_event"]
                for a, b in zip(ours["runs"], theirs["runs"], strict=False)
                if b["cpu_us_per_event"]
            ]
            out.append(
                {
                    "streams": ours["streams"],
                    "tps": ours["tps"],
                    "anchor": anchor,
                    "ours_us": [a["cpu_us_per_event"] for a in ours["runs"]],
                    "theirs_us": [b["cpu_us_per_event"] for b in theirs["runs"]],
                    "ratios": pairs,
                    "median_ratio": statistics.median(pairs) if pairs else 0.0,
                }
            )
    return out


def markdown(results: dict[str, Any], short: dict[str, str]) -> str:
    """The README's rows: CPU µs per token per server and the same-run ratios."""
    lines = [
        "| N × tokens/s | server | done | CPU µs/token (runs) | median | p99 added latency |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    for r in results["grid"]:
        runs = ", ".join(f"{x['cpu_us_per_event']:.0f}" for x in r["runs"])
        lines.append(
            f"| {r['streams']:,} × {r['tps']:g} | {short[r['variant']]} "
            f"| {r['done']:,}/{r['streams']:,} | {runs} | {r['cpu_us_per_event']:.0f} "
            f"| {r['p99_ms']:.1f} ms |"
        )
    lines += ["", "| N × tokens/s | ours / anchor, CPU per token | each run | median |"]
    lines.append("| --- | --- | --- | ---: |")
    for q in results.get("ratios", []):
        each = ", ".join(f"{x:.2f}" for x in q["ratios"])
        lines.append(
            f"| {q['streams']:,} × {q['tps']:g} | ours / {short[q['anchor']]} | {each} "
            f"| **{q['median_ratio']:.2f}x** |"
        )
    return "\n".join(lines)
