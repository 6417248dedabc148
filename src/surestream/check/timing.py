"""The timing rules of ``surestream check``: thresholds, silences, heartbeats, buffering.

Strategy: pure functions over a ``Recording`` and its ``EventReading``, as in
``surestream.check.findings`` (which documents every finding code and calls these). Every
threshold is a field of ``Thresholds`` with a module-level ``DEFAULT_*``; the round-silence
rule is explained in ``findings``' docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from surestream.check.recording import END_BROKEN, END_CLOSED, Recording
from surestream.check.report import OK, WARNING, Finding, Timing
from surestream.check.signals import EventReading

__all__ = [
    "DEFAULT_BATCHED_EVENTS_PER_ARRIVAL",
    "DEFAULT_BUFFERED_MIN_EVENTS",
    "DEFAULT_BUFFERED_MIN_WAIT",
    "DEFAULT_BUFFERED_WINDOW",
    "DEFAULT_PROMPT_CLOSE",
    "DEFAULT_PROXY_IDLE_LIMITS",
    "DEFAULT_ROUND_SILENCES",
    "DEFAULT_ROUND_SLACK",
    "DEFAULT_ROUND_TOLERANCE",
    "Thresholds",
    "buffered",
    "held_back",
    "measure",
    "round_value",
    "seconds",
    "timing_findings",
    "where",
]

DEFAULT_PROXY_IDLE_LIMITS = (30.0, 60.0)
"""Idle timeouts of common proxies and load balancers, in seconds (many CDNs and PaaS routers
cut at 30 s; nginx ``proxy_read_timeout`` and the AWS ALB idle timeout default to 60 s)."""
DEFAULT_ROUND_SILENCES = (
    1.0,
    2.0,
    3.0,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    45.0,
    60.0,
    90.0,
    120.0,
    180.0,
    300.0,
    600.0,
)
"""Silences (seconds) that look like a configured timeout rather than chance."""
DEFAULT_ROUND_TOLERANCE = 0.05
"""Relative tolerance around a round silence (5 %)."""
DEFAULT_ROUND_SLACK = 0.1
"""Absolute tolerance (seconds) added to it, for scheduling and network delay."""
DEFAULT_PROMPT_CLOSE = 0.25
"""A close within this many seconds of the last event counts as "right after" it."""
DEFAULT_BUFFERED_MIN_EVENTS = 5
"""The ``buffered`` rule needs at least this many events."""
DEFAULT_BUFFERED_WINDOW = 0.05
"""All events arriving within this many seconds of each other counts as "at once"."""
DEFAULT_BUFFERED_MIN_WAIT = 1.0
"""...and only when they came at least this long after the response head."""
DEFAULT_BATCHED_EVENTS_PER_ARRIVAL = 3.0
"""A compressed stream whose events arrived this many per body chunk (on average, with at
least ``buffered_min_events`` events) was batched by its compressor."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every limit the rules use; the defaults are the module-level ``DEFAULT_*`` values."""

    proxy_idle_limits: tuple[float, ...] = DEFAULT_PROXY_IDLE_LIMITS
    round_silences: tuple[float, ...] = DEFAULT_ROUND_SILENCES
    round_tolerance: float = DEFAULT_ROUND_TOLERANCE
    round_slack: float = DEFAULT_ROUND_SLACK
    prompt_close: float = DEFAULT_PROMPT_CLOSE
    buffered_min_events: int = DEFAULT_BUFFERED_MIN_EVENTS
    buffered_window: float = DEFAULT_BUFFERED_WINDOW
    buffered_min_wait: float = DEFAULT_BUFFERED_MIN_WAIT
    batched_events_per_arrival: float = DEFAULT_BATCHED_EVENTS_PER_ARRIVAL


def seconds(seconds: float) -> str:
    """``0.25`` -> ``250 ms``, ``12.34`` -> ``12.3 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def where(index: int) -> str:
    """What a silence followed: the event with ``index``, or the response head (-1)."""
    return "the response head" if index < 0 else f"event #{index}"


def round_value(seconds: float, thresholds: Thresholds) -> float | None:
    """The round silence ``seconds`` is suspiciously close to, or None."""
    for value in thresholds.round_silences:
        if abs(seconds - value) <= value * thresholds.round_tolerance + thresholds.round_slack:
            return value
    return None


def buffered(rec: Recording, th: Thresholds) -> list[Finding]:
    events = rec.events
    if len(events) < th.buffered_min_events or rec.t_headers is None:
        return []
    spread = events[-1].t - events[0].t
    wait = events[0].t - rec.t_headers
    if spread > th.buffered_window or wait < th.buffered_min_wait:
        return []
    return [
        Finding(
            "buffered",
            WARNING,
            f"all {len(events)} events arrived within {seconds(spread)}, {seconds(wait)} after the "
            "headers: something between the model and you buffers the stream",
            "flush after every event; no compression or proxy buffering for text/event-stream",
        )
    ]


def held_back(rec: Recording, th: Thresholds) -> str | None:
    """How the arrivals show that something held the events back (all at once and late, or
    several per chunk), or None."""
    events = rec.events
    if len(events) < th.buffered_min_events:
        return None
    if buffered(rec, th):
        return f"all {len(events)} events arrived at once, late"
    arrivals = len({event.t for event in events})
    if len(events) / arrivals >= th.batched_events_per_arrival:
        chunks = "one chunk" if arrivals == 1 else f"{arrivals} chunks"
        return f"{len(events)} events arrived in {chunks}"
    return None


def _longest_gap(
    start: float, points: Sequence[tuple[float, int]], end: float
) -> tuple[float, int]:
    best, after, prev, prev_index = 0.0, -1, start, -1
    for t, index in [*points, (end, -2)]:
        if t - prev > best:
            best, after = t - prev, prev_index
        prev, prev_index = t, index
    return best, after


def measure(rec: Recording, reading: EventReading) -> Timing:
    """Time to headers, first event, first text, end; the longest silences; heartbeats."""
    if rec.t_headers is None:
        return Timing(end=rec.t_end)
    end = rec.t_end if rec.t_end is not None else rec.t_headers
    events = [(ev.t, ev.index) for ev in rec.events]
    gap_events, after_events = _longest_gap(rec.t_headers, events, end)
    # An event's bytes may have arrived in an earlier chunk than the one completing it; a
    # chunk is "after" the latest event completed at or before it.
    chunk_points: list[tuple[float, int]] = []
    latest, pending = -1, 0
    for t, _ in rec.chunks:
        while pending < len(rec.events) and rec.events[pending].t <= t:
            latest, pending = rec.events[pending].index, pending + 1
        chunk_points.append((t, latest))
    gap_bytes, after_bytes = _longest_gap(rec.t_headers, chunk_points, end)
    first_text = rec.events[reading.text_indexes[0]].t if reading.text_indexes else None
    return Timing(
        headers=rec.t_headers,
        first_event=rec.events[0].t if rec.events else None,
        first_text=first_text,
        end=rec.t_end,
        longest_silence_events=gap_events,
        longest_silence_events_after=after_events,
        longest_silence_bytes=gap_bytes,
        longest_silence_bytes_after=after_bytes,
        heartbeats=len(rec.comments),
    )


def timing_findings(
    rec: Recording, timing: Timing, reading: EventReading, th: Thresholds
) -> list[Finding]:
    parts = [f"headers after {seconds(timing.headers or 0)}"]
    if timing.first_event is not None:
        parts.append(f"first event after {seconds(timing.first_event)}")
    if timing.first_text is not None:
        parts.append(f"first text after {seconds(timing.first_text)}")
    if timing.end is not None:
        parts.append(f"{rec.end} after {seconds(timing.end)}")
    out = [Finding("timing", OK, ", ".join(parts))]
    limits = sorted(th.proxy_idle_limits)
    exceeded = [limit for limit in limits if timing.longest_silence_bytes > limit]
    if timing.heartbeats:
        out.append(
            Finding(
                "heartbeat_seen",
                OK,
                f"{timing.heartbeats} heartbeat comments; longest silence "
                f"{seconds(timing.longest_silence_events)} without events, "
                f"{seconds(timing.longest_silence_bytes)} counting heartbeats",
            )
        )
    if exceeded:
        out.append(
            Finding(
                "silence_without_heartbeat",
                WARNING,
                f"{seconds(timing.longest_silence_bytes)} with no bytes at all (no event, no "
                f"heartbeat) after {where(timing.longest_silence_bytes_after)}: longer than "
                "the "
                + " and ".join(f"{limit:g} s" for limit in exceeded)
                + " idle limits of common proxies and load balancers",
                f"send a heartbeat comment (`: ping`) at least every {limits[0] / 2:g} s",
            )
        )
    elif not timing.heartbeats:
        out.append(
            Finding(
                "silence_ok",
                OK,
                f"longest silence {seconds(timing.longest_silence_events)}, below the "
                f"{limits[0]:g} s proxy idle limit"
                if limits
                else "no silence limit set",
            )
        )
    out.extend(_round_silence(rec, reading, th))
    return out


def _round_silence(rec: Recording, reading: EventReading, th: Thresholds) -> list[Finding]:
    if rec.end not in (END_CLOSED, END_BROKEN) or rec.t_end is None or rec.t_headers is None:
        return []
    end = reading.end
    if end is not None and end.outcome == "done":
        return []
    events = rec.events
    closed = "closed the connection" if rec.end == END_CLOSED else "the connection broke"
    last_t = events[-1].t if events else rec.t_headers
    # (silence, what ended it, index of the event the silence followed; -1: the head)
    candidates = [(rec.t_end - last_t, closed, len(events) - 1)]
    if events and rec.t_end - last_t <= th.prompt_close:
        prev_t = events[-2].t if len(events) > 1 else rec.t_headers
        candidates.append(
            (
                last_t - prev_t,
                f"event #{events[-1].index} came and the server closed",
                len(events) - 2,
            )
        )
    for gap, what, since in candidates:
        value = round_value(gap, th)
        if value is not None:
            return [
                Finding(
                    "round_silence_close",
                    WARNING,
                    f"{what} after a {gap:.2f} s silence following {where(since)}: "
                    f"suspiciously close to {value:g} s, which looks like a server-side "
                    "inter-chunk timeout (or a proxy idle timeout) that cuts slow but healthy "
                    "streams",
                    "raise or remove the inter-chunk timeout; send heartbeats while the model "
                    "is silent, and an explicit error event when the server really gives up",
                )
            ]
    return []
