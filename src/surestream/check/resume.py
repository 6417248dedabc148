"""The ``--resume`` rules: did the stream continue after ``Last-Event-ID`` as it should?

Strategy: pure functions. ``resume_cut_point`` chooses where the resume test cuts (the middle
event that introduced a new id). ``resume_findings`` compares the resumed connection with an
uninterrupted run of the same stream: the same events after the cut means ``resume_ok``;
with numeric ids, the first resumed id says what happened even when the content differs
between runs (a non-deterministic model): ``last + 1`` continues, ``<= last`` repeats,
``> last + 1`` lost events. Codes are listed in ``findings``. Sans-IO.
"""

from __future__ import annotations

from typing import Any

from surestream.check.recording import (
    END_CLOSED,
    RecordedEvent,
    Recording,
    ResumeRecording,
)
from surestream.check.report import OK, PROBLEM, WARNING, Finding
from surestream.lifecycle import parse_seq

__all__ = ["resume_cut_point", "resume_findings"]


def resume_cut_point(reference: Recording) -> int | None:
    """How many events the resume test reads before cutting (None: not possible).

    The middle event that introduced a new ``id``, so part of the stream is left after the
    cut; None when no event has an id or the stream is too short.
    """
    fresh = [
        ev.index
        for prev, ev in zip([None, *reference.events], reference.events, strict=False)
        if ev.id is not None and (prev is None or prev.id != ev.id)
    ]
    fresh = [i for i in fresh if i + 1 < len(reference.events)]
    if not fresh:
        return None
    return fresh[(len(fresh) - 1) // 2] + 1


def _key(ev: RecordedEvent) -> tuple[str, str]:
    return (ev.event, ev.data)


def resume_findings(
    reference: Recording, resume: ResumeRecording | Recording | None
) -> tuple[list[Finding], dict[str, Any]]:
    """The resume findings for ``reference`` (an uninterrupted run) and the resume test.

    ``resume`` is the test's two connections, or the first alone when it could not be cut,
    or None when no cut point exists. Returns the findings and the report's ``resume`` part.
    """
    if resume is None or not any(ev.id is not None for ev in reference.events):
        if not any(ev.id is not None for ev in reference.events):
            msg = "no event has an `id:`, so there is nothing to resume from"
            return [Finding("resume_no_ids", PROBLEM, msg, "number events with `id:` lines")], {
                "tested": False
            }
        return [
            Finding(
                "resume_not_tested",
                WARNING,
                f"the stream is too short to cut mid-way ({len(reference.events)} events)",
            )
        ], {"tested": False}
    if isinstance(resume, Recording):
        msg = (
            f"the resume test's first connection ended ({resume.end}) after "
            f"{len(resume.events)} events, before the cut point, or with no id to resume from"
        )
        return [Finding("resume_not_tested", WARNING, msg)], {"tested": False}
    first, second, last_id = resume.first, resume.second, resume.last_event_id
    summary: dict[str, Any] = {
        "tested": True,
        "cut_after": len(first.events),
        "last_event_id": last_id,
        "reconnect_url": second.request.url,
        "resumed_events": len(second.events),
        "first_resumed_id": second.events[0].id if second.events else None,
        "resumed_end": second.end,
    }
    ok_status = second.status is not None and 200 <= second.status < 300
    if not ok_status or not (second.header("content-type") or "").startswith("text/event-stream"):
        status = second.status if second.status is not None else second.error
        return [
            Finding(
                "resume_failed",
                PROBLEM,
                f"reconnecting with Last-Event-ID: {last_id} got {status}, not an SSE stream",
                "serve the stream again on reconnect, starting after Last-Event-ID",
            )
        ], summary
    head = f"cut after event id {last_id} ({len(first.events)} events), reconnected with " + (
        f"Last-Event-ID: {last_id}"
    )
    cut = len(first.events)
    ref_all = [_key(ev) for ev in reference.events]
    expected, got = ref_all[cut:], [_key(ev) for ev in second.events]
    last_int = parse_seq(last_id)
    first_int = next((parse_seq(ev.id) for ev in second.events if ev.id is not None), None)
    if got == expected or (last_int is not None and first_int == last_int + 1):
        out = [
            Finding(
                "resume_ok",
                OK,
                f"{head}: the stream continued with {len(got)} events, no loss, no repetition",
            )
        ]
        if second.end != END_CLOSED:
            out.append(
                Finding(
                    "resume_stalled",
                    WARNING,
                    f"the resumed connection did not end normally ({second.end}: {second.error})",
                    "after replaying, keep streaming live and close after the terminal event",
                )
            )
        return out, summary
    by_ids = last_int is not None and first_int is not None
    if (by_ids and first_int is not None and last_int is not None and first_int <= last_int) or (
        not by_ids and got[:cut] == ref_all[:cut]
    ):
        return [
            Finding(
                "resume_repeated_events",
                PROBLEM,
                f"{head}: the server sent events the client already had again "
                f"(first resumed id {summary['first_resumed_id']})",
                "on reconnect, send only the events after Last-Event-ID",
            )
        ], summary
    if by_ids or (got and len(got) < len(expected) and got == expected[-len(got) :]):
        return [
            Finding(
                "resume_lost_events",
                PROBLEM,
                f"{head}: events between the cut and the resumed stream were lost "
                f"(first resumed id {summary['first_resumed_id']})",
                "on reconnect, replay every event after Last-Event-ID from a journal",
            )
        ], summary
    return [
        Finding(
            "resume_diverged",
            WARNING,
            f"{head}: the resumed events differ from an uninterrupted run "
            "(the stream may not be deterministic)",
        )
    ], summary
