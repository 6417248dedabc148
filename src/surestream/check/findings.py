"""From a recording to findings: the rules of ``surestream check``, as pure functions.

Strategy: ``analyse(recording, ...)`` reads one ``Recording`` (and, for ``--resume``, the
two connections of the resume test) and returns a ``Report``; the response-head rules are in
``head``, the timing rules in ``timing``, the resume rules in ``resume``. No I/O: every rule
is tested on recordings built from literal bytes and times. Every threshold is a field of
``Thresholds`` with a module-level default. Each finding has a stable ``code``:

Response (the head of the response)
    ``connect_failed`` (problem)      no response: refused, DNS, TLS, or no head in time
    ``status_not_ok`` (problem)       the status is not 2xx
    ``status_ok`` (ok)
    ``content_type_not_sse`` (problem) ``Content-Type`` is not ``text/event-stream``
    ``content_type_sse`` (ok)
    ``cache_control_missing`` (warning) no ``no-cache``/``no-store``: caches may hold it
    ``cache_control_ok`` (ok)
    ``compressed`` (problem)          ``Content-Encoding`` set, and the events arrived late
                                      (``buffered``) or batched (``batched_events_per_arrival``)
                                      (warning) set, but the events arrived one by one
    ``x_accel_buffering_missing`` (warning) nginx buffers proxied responses without it
    ``x_accel_buffering_ok`` (ok)
    ``fixed_content_length`` (problem) ``Content-Length`` set: the body was not streamed
Events
    ``no_events`` (problem)           the body held no complete event
    ``event_names`` (ok)              the names seen, with counts
    ``named_events_only`` (warning)   every event is named: ``onmessage`` sees none
                                      (ok) in a dialect whose clients read the names
                                      (``anthropic``: its SDKs dispatch on them)
    ``onmessage_misses`` (warning)    some events are named: ``onmessage`` misses them
    ``no_event_ids`` (warning)        no ``id:`` lines: nothing to resume from
    ``buffered`` (warning)            all events arrived at once, long after the headers
    ``events_after_end`` (warning)    events followed the end signal
The end
    ``terminal_signal`` (ok)          ended with an explicit success signal (which, by dialect)
    ``terminal_error`` (warning)      ended with an explicit error signal
    ``finish_reason_without_done`` (warning) OpenAI-style ``finish_reason`` but no ``[DONE]``
    ``no_terminal_signal`` (problem)  closed without a terminal signal
    ``connection_broken`` (problem)   the connection failed mid-stream, no terminal signal
    ``sse_protocol_error`` (problem)  the body broke a decoder limit
    ``timed_out`` (problem)           still open at ``--timeout`` with no terminal signal
    ``open_after_end`` (warning)      still open at ``--timeout`` after the end signal
Expectations (``--expect-event``, ``--expect-field``)
    ``expected_event_seen`` (ok) / ``expected_event_missing`` (problem; points at the
    event that carried the end); ``expected_field_seen`` (ok) / ``expected_field_missing``
    (problem)
Timing
    ``timing`` (ok)                   time to headers, first event, first text, end
    ``heartbeat_seen`` (ok)           comment lines kept the connection alive
    ``silence_ok`` (ok)               no silence reached a proxy idle limit
    ``silence_without_heartbeat`` (warning) no bytes at all for longer than a proxy limit
    ``round_silence_close`` (warning) the server ended after a suspiciously round silence:
                                      a server-side inter-chunk timeout
Resume (``--resume``)
    ``resume_ok`` (ok)                continued after ``Last-Event-ID`` without loss/repeat
    ``resume_stalled`` (warning)      ...but the resumed connection did not end normally
    ``resume_lost_events`` (problem)  events between the cut and the resumed stream lost
    ``resume_repeated_events`` (problem) the resumed stream repeated events (restarted)
    ``resume_diverged`` (warning)     the resumed events differ from an uninterrupted run
    ``resume_failed`` (problem)       the reconnect got no SSE response
    ``resume_no_ids`` (problem)       no event ids, so there is nothing to resume from
    ``resume_not_tested`` (warning)   the stream was too short to cut mid-way

Round silences: a silence is "round" when it is within ``round_tolerance`` (relative) plus
``round_slack`` (seconds, for scheduling and network delay) of a value in
``round_silences``. The defaults include 1 s and 2 s, so the rule recognises a short
server timeout as well as the common 10 s, 30 s and 60 s ones: 1.0 s matches 0.85-1.15 s,
10 s matches 9.4-10.6 s. The rule only looks at the silence that ended the stream (the
close or break, or the last event when the close followed it within ``prompt_close``), and
only when the stream did not end with a success signal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from surestream.check.head import head_findings
from surestream.check.recording import (
    END_BROKEN,
    END_CLOSED,
    END_PROTOCOL_ERROR,
    END_TIMEOUT,
    RecordedEvent,
    Recording,
    ResumeRecording,
)
from surestream.check.report import (
    OK,
    PROBLEM,
    WARNING,
    Finding,
    NameSummary,
    Report,
)
from surestream.check.resume import resume_cut_point, resume_findings
from surestream.check.signals import (
    NOT_JSON,
    EventReading,
    json_of,
    read_events,
    sniff_dialect,
)
from surestream.check.timing import (
    Thresholds,
    buffered,
    measure,
    round_value,
    seconds,
    timing_findings,
)
from surestream.dialects import is_end_marker

__all__ = [
    "Thresholds",
    "analyse",
    "measure",
    "resume_cut_point",
    "round_value",
    "summarise_names",
]

# -- events -----------------------------------------------------------------------------


def _shape(data: str) -> tuple[str, ...]:
    obj = json_of(data)
    if obj is NOT_JSON:
        return (f"<{data.strip()}>",) if is_end_marker(data) else ("<text>",)
    if isinstance(obj, dict):
        return tuple(sorted(obj))
    return (f"<{type(obj).__name__}>",)


def summarise_names(events: Sequence[RecordedEvent]) -> tuple[NameSummary, ...]:
    """Per event name: count, whether ``onmessage`` sees it, JSON shapes and types."""
    order: dict[str, None] = {}
    shapes: dict[str, Counter[tuple[str, ...]]] = {}
    types: dict[str, Counter[str]] = {}
    for ev in events:
        order.setdefault(ev.event)
        shapes.setdefault(ev.event, Counter())[_shape(ev.data)] += 1
        obj = json_of(ev.data)
        if isinstance(obj, dict) and isinstance(obj.get("type"), str):
            types.setdefault(ev.event, Counter())[obj["type"]] += 1
    return tuple(
        NameSummary(
            name,
            sum(shapes[name].values()),
            name == "message",
            tuple(shapes[name].most_common()),
            tuple(types.get(name, Counter()).most_common()),
        )
        for name in order
    )


NAMED_DIALECTS = frozenset({"anthropic"})
"""Dialects whose wire names every event, for clients that dispatch on the names."""


def _event_findings(
    rec: Recording,
    names: Sequence[NameSummary],
    reading: EventReading,
    dialect: str,
    th: Thresholds,
) -> list[Finding]:
    if not rec.events:
        got = f"{rec.body_size} bytes" if rec.body_size else "an empty body"
        return [
            Finding(
                "no_events",
                PROBLEM,
                f"no complete event arrived (got {got})",
                "write each event as `data: ...` lines followed by an empty line",
            )
        ]
    listing = ", ".join(f"{n.name} x{n.count}" for n in names)
    out = [Finding("event_names", OK, f"{len(rec.events)} events: {listing}")]
    unseen = [n for n in names if not n.onmessage]
    if len(unseen) == len(names) and dialect in NAMED_DIALECTS:
        message = f"every event is named, as the {dialect} wire is: its clients read the names"
        out.append(Finding("named_events_only", OK, message))
    elif len(unseen) == len(names):
        out.append(
            Finding(
                "named_events_only",
                WARNING,
                "every event has an `event:` name, so a browser onmessage handler sees none of "
                "them; only addEventListener(" + ", ".join(repr(n.name) for n in names) + ") does",
                "listen with addEventListener for each name, or send unnamed events",
            )
        )
    elif unseen:
        out.append(
            Finding(
                "onmessage_misses",
                WARNING,
                "onmessage never sees " + ", ".join(f"{n.name} (x{n.count})" for n in unseen),
                "listen for those names with addEventListener too",
            )
        )
    if all(ev.id is None for ev in rec.events):
        out.append(
            Finding(
                "no_event_ids",
                WARNING,
                "no event has an `id:`, so a client that loses the connection cannot resume "
                "with Last-Event-ID",
                "number events with `id:` and honour Last-Event-ID on reconnect",
            )
        )
    out.extend(buffered(rec, th))
    end = reading.end
    if end is not None:
        end_indexes = {e.index for e in reading.ends}
        after = [ev for ev in rec.events[end.index + 1 :] if ev.index not in end_indexes]
        if after:
            out.append(
                Finding(
                    "events_after_end",
                    WARNING,
                    f"{len(after)} events came after the end signal ({end.description}); "
                    "a client that stops at the end never sees them",
                    "make the end signal the last event",
                )
            )
    return out


# -- the end ----------------------------------------------------------------------------

_NO_END_FIX = (
    'send an explicit last event (e.g. data: {"done": true}) before closing, and an error '
    "event when the stream fails"
)


def _end_findings(rec: Recording, reading: EventReading, dialect: str) -> list[Finding]:
    end = reading.end
    if end is not None:
        where = f"event #{end.index}: {end.description}"
        out = [
            Finding("terminal_signal", OK, f"ended with {where}")
            if end.outcome == "done"
            else Finding(
                "terminal_error",
                WARNING,
                f"ended with an explicit error ({where}): {end.detail or 'no message'}",
            )
        ]
        if rec.end == END_TIMEOUT:
            out.append(
                Finding(
                    "open_after_end",
                    WARNING,
                    f"the server kept the connection open after the end signal until the "
                    f"{seconds(rec.timeout or 0)} timeout",
                    "close the response after the last event",
                )
            )
        return out
    if rec.end == END_CLOSED and dialect == "openai" and reading.finish_reason is not None:
        return [
            Finding(
                "finish_reason_without_done",
                WARNING,
                f"finish_reason {reading.finish_reason!r} arrived but no data: [DONE]; "
                "clients that wait for [DONE] treat the stream as cut",
                "send data: [DONE] after the last chunk",
            )
        ]
    if rec.end == END_CLOSED:
        return [
            Finding(
                "no_terminal_signal",
                PROBLEM,
                "closed without a terminal signal: clients cannot tell success from failure",
                _NO_END_FIX,
            )
        ]
    if rec.end == END_BROKEN:
        return [
            Finding(
                "connection_broken",
                PROBLEM,
                f"the connection broke mid-stream ({rec.error}) with no terminal signal",
                "find what cut it (server crash, proxy limit); end every stream with an event",
            )
        ]
    if rec.end == END_PROTOCOL_ERROR:
        return [
            Finding(
                "sse_protocol_error",
                PROBLEM,
                f"the body is not valid SSE: {rec.error}",
                "write events as `data:` lines, each event ended by an empty line",
            )
        ]
    if rec.end == END_TIMEOUT:
        return [
            Finding(
                "timed_out",
                PROBLEM,
                f"still open after {seconds(rec.timeout or 0)} with no terminal signal",
                "raise --timeout if the stream is legitimately longer; otherwise end it with "
                "an explicit last event and close",
            )
        ]
    return []


# -- expectations -----------------------------------------------------------------------


def _pointer(rec: Recording, reading: EventReading) -> str:
    end = reading.end
    if end is not None:
        return f"The end was carried by event #{end.index} ({end.description})."
    if rec.events:
        last = rec.events[-1]
        return (
            f"No event carried an end; the last was #{last.index} `{last.event}`: {last.data[:80]}"
        )
    return "No event arrived at all."


def _expect_event(
    name: str, rec: Recording, names: Sequence[NameSummary], reading: EventReading
) -> Finding:
    seen = next((n for n in names if n.name == name), None)
    if seen is not None:
        return Finding(
            "expected_event_seen", OK, f"the client's {name!r} listener fires {seen.count} times"
        )
    as_type = [n.name for n in names if any(t == name for t, _ in n.types)]
    hint = (
        f" {name!r} appears only as a JSON type inside "
        + ", ".join(repr(n) for n in as_type)
        + " events, not as an SSE event name."
        if as_type
        else ""
    )
    end = reading.end
    if end is not None:
        fix = (
            f"send `event: {name}` from the server, or listen for {end.event!r} in the client "
            f"and finish on {end.description.split(' with ', 1)[-1]}"
        )
    else:
        fix = f"send `event: {name}` from the server when the stream ends"
    return Finding(
        "expected_event_missing",
        PROBLEM,
        f"no {name!r} event arrived, so a client waiting for it waits forever.{hint} "
        + _pointer(rec, reading),
        fix,
    )


def _lookup(obj: Any, path: str) -> bool:
    for part in path.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return False
    return True


def _expect_field(key: str, rec: Recording, reading: EventReading) -> Finding:
    hits = [ev for ev in rec.events if _lookup(json_of(ev.data), key)]
    if hits:
        where = ", ".join(sorted({ev.event for ev in hits}))
        return Finding("expected_field_seen", OK, f"{key!r} is in {len(hits)} events ({where})")
    end = reading.end
    fix = f"send {key!r} in the last event" + (
        f", or have the client read {end.description.split(' with ', 1)[-1]}" if end else ""
    )
    return Finding(
        "expected_field_missing",
        PROBLEM,
        f"no event's JSON has {key!r}, so a client checking it never sees the end. "
        + _pointer(rec, reading),
        fix,
    )


# -- all together -----------------------------------------------------------------------


def analyse(
    rec: Recording,
    *,
    expect_events: Sequence[str] = (),
    expect_fields: Sequence[str] = (),
    thresholds: Thresholds | None = None,
    resume: ResumeRecording | Recording | None = None,
    resume_requested: bool = False,
) -> Report:
    """All findings about ``rec`` (and the resume test, when ``resume_requested``)."""
    th = thresholds or Thresholds()
    findings = head_findings(rec, th)
    dialect = sniff_dialect(rec.headers, rec.events)
    reading = read_events(rec.events, dialect)
    names = summarise_names(rec.events)
    timing = measure(rec, reading)
    status_ok = rec.status is not None and 200 <= rec.status < 300
    if status_ok and (rec.events or any(f.code == "content_type_sse" for f in findings)):
        findings += _event_findings(rec, names, reading, dialect, th)
        findings += _end_findings(rec, reading, dialect)
        findings += [_expect_event(name, rec, names, reading) for name in expect_events]
        findings += [_expect_field(key, rec, reading) for key in expect_fields]
        findings += timing_findings(rec, timing, reading, th)
    resume_summary = None
    if resume_requested and status_ok:
        more, resume_summary = resume_findings(rec, resume)
        findings += more
    return Report(
        url=rec.request.url,
        method=rec.request.method,
        status=rec.status,
        headers=tuple(rec.headers),
        dialect=dialect,
        event_count=len(rec.events),
        names=names,
        timing=timing,
        end=reading.end,
        end_how=rec.end,
        findings=tuple(findings),
        resume=resume_summary,
    )
