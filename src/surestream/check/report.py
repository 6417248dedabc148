"""The report of ``surestream check``: findings with verdicts, plus what was measured.

Strategy: frozen value objects, built by ``findings.analyse`` and read by the renderer, the
JSON output and users' own tests. ``Report.to_json()`` is the ``--json`` document (stable
keys; times in seconds, rounded to the millisecond). The exit code follows from the
findings alone: 2 when a finding in ``UNREACHABLE_CODES`` is present (no connection, or the
response is not an SSE stream), else 1 when any finding is a problem, else 0. Sans-IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from surestream.check.signals import EndSignal

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEM",
    "EXIT_UNREACHABLE",
    "OK",
    "PROBLEM",
    "UNREACHABLE_CODES",
    "VERDICTS",
    "WARNING",
    "Finding",
    "NameSummary",
    "Report",
    "Timing",
]

OK = "ok"
"""Verdict: nothing to do."""
WARNING = "warning"
"""Verdict: works, but fragile or unusual; worth a look."""
PROBLEM = "problem"
"""Verdict: clients will misbehave; the finding carries a one-line fix."""
VERDICTS = (OK, WARNING, PROBLEM)
"""The verdicts, from best to worst."""

EXIT_OK = 0
"""Exit code when no finding is a problem."""
EXIT_PROBLEM = 1
"""Exit code when at least one finding is a problem."""
EXIT_UNREACHABLE = 2
"""Exit code when the endpoint could not be reached or did not answer with an SSE stream."""
UNREACHABLE_CODES = frozenset({"connect_failed", "status_not_ok", "content_type_not_sse"})
"""Findings that make the exit code 2."""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation: a stable ``code``, a verdict, a message and (for problems) a fix."""

    code: str
    verdict: str
    message: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the report."""
        return {
            "code": self.code,
            "verdict": self.verdict,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class NameSummary:
    """One event name: how often it came, whether ``onmessage`` sees it, its JSON shapes.

    ``shapes`` pairs each shape (the sorted top-level keys of a JSON object, or one of
    ``<text>``, ``<[DONE]>``, ``<array>``, ``<string>``, ``<number>``...) with its count;
    ``types`` does the same for the values of a JSON ``type`` field.
    """

    name: str
    count: int
    onmessage: bool
    shapes: tuple[tuple[tuple[str, ...], int], ...] = ()
    types: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the report."""
        return {
            "name": self.name,
            "count": self.count,
            "onmessage": self.onmessage,
            "shapes": [{"keys": list(keys), "count": n} for keys, n in self.shapes],
            "types": dict(self.types),
        }


@dataclass(frozen=True, slots=True)
class Timing:
    """What the clock said, in seconds since the request was sent (None: never happened).

    ``longest_silence_events`` is the longest stretch with no event (heartbeats do not
    count); ``longest_silence_bytes`` the longest with nothing at all on the wire
    (heartbeats count). ``..._after`` is the index of the event the silence followed
    (-1: the response head).
    """

    headers: float | None = None
    first_event: float | None = None
    first_text: float | None = None
    end: float | None = None
    longest_silence_events: float = 0.0
    longest_silence_events_after: int = -1
    longest_silence_bytes: float = 0.0
    longest_silence_bytes_after: int = -1
    heartbeats: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the report."""
        return {
            "headers_s": _round(self.headers),
            "first_event_s": _round(self.first_event),
            "first_text_s": _round(self.first_text),
            "end_s": _round(self.end),
            "longest_silence_events_s": _round(self.longest_silence_events),
            "longest_silence_events_after": self.longest_silence_events_after,
            "longest_silence_bytes_s": _round(self.longest_silence_bytes),
            "longest_silence_bytes_after": self.longest_silence_bytes_after,
            "heartbeats": self.heartbeats,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``surestream check`` found about one endpoint.

    ``end_how`` is how the connection ended (``closed``, ``timeout``, ``broken``,
    ``no_response``, ``protocol_error``); ``end`` the event that carried the end signal.
    """

    url: str
    method: str
    status: int | None
    headers: tuple[tuple[str, str], ...]
    dialect: str
    event_count: int
    names: tuple[NameSummary, ...]
    timing: Timing
    end: EndSignal | None
    end_how: str
    findings: tuple[Finding, ...]
    resume: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def verdict(self) -> str:
        """The worst verdict of any finding."""
        worst = max((VERDICTS.index(f.verdict) for f in self.findings), default=0)
        return VERDICTS[worst]

    @property
    def exit_code(self) -> int:
        """0 (no problem), 1 (a problem) or 2 (unreachable, or not an SSE stream)."""
        if any(f.code in UNREACHABLE_CODES for f in self.findings):
            return EXIT_UNREACHABLE
        return EXIT_PROBLEM if self.verdict == PROBLEM else EXIT_OK

    @property
    def codes(self) -> list[str]:
        """The codes of all findings, in report order."""
        return [f.code for f in self.findings]

    @property
    def problems(self) -> list[Finding]:
        """The findings whose verdict is ``problem``."""
        return [f for f in self.findings if f.verdict == PROBLEM]

    def finding(self, code: str) -> Finding | None:
        """The first finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "url": self.url,
            "method": self.method,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "dialect": self.dialect,
            "events": {"count": self.event_count, "names": [n.to_json() for n in self.names]},
            "timing": self.timing.to_json(),
            "end": {
                "how": self.end_how,
                "signal": None if self.end is None else self.end.to_json(),
            },
            "findings": [f.to_json() for f in self.findings],
            "resume": self.resume,
        }

    def dumps(self) -> str:
        """``to_json()`` as indented JSON text."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2).decode()
