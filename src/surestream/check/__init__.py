"""``surestream check``: the doctor for any Server-Sent Events endpoint, ours or not.

``inspect(url, ...)`` (or ``await ainspect(url, ...)``) connects, records the whole stream
with timings and returns a ``Report``: a verdict per ``Finding`` (ok / warning / problem),
each with a stable ``code`` and, for problems, a one-line fix. Users assert their own
endpoints with it::

    report = inspect("http://localhost:8000/chat", expect_events=["complete"])
    assert report.problems == [], report.dumps()

Modules: ``recording`` (sans-IO recorder), ``record`` (the httpx I/O), ``signals``,
``findings``, ``head``, ``timing`` and ``resume`` (sans-IO rules; the list of codes is in
``findings``' docstring), ``report`` (value objects, JSON), ``render`` (rich); the command
is ``surestream.cli.check``.
The I/O names (``inspect``, ``ainspect``, ``build_request``, ``render``, ``render_text``) are
imported on first use, so importing the rules loads no httpx, anyio or rich.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from surestream.check.findings import Thresholds, analyse
from surestream.check.recording import Recorder, Recording, Request, ResumeRecording, replay
from surestream.check.report import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREACHABLE,
    OK,
    PROBLEM,
    WARNING,
    Finding,
    NameSummary,
    Report,
    Timing,
)
from surestream.check.signals import EndSignal

if TYPE_CHECKING:
    from surestream.check.doctor import ainspect, build_request, inspect
    from surestream.check.render import render, render_text

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEM",
    "EXIT_UNREACHABLE",
    "OK",
    "PROBLEM",
    "WARNING",
    "EndSignal",
    "Finding",
    "NameSummary",
    "Recorder",
    "Recording",
    "Report",
    "Request",
    "ResumeRecording",
    "Thresholds",
    "Timing",
    "ainspect",
    "analyse",
    "build_request",
    "inspect",
    "render",
    "render_text",
    "replay",
]

_LAZY = {
    "ainspect": "surestream.check.doctor",
    "build_request": "surestream.check.doctor",
    "inspect": "surestream.check.doctor",
    "render": "surestream.check.render",
    "render_text": "surestream.check.render",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'surestream.check' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
