"""The terminal report of ``surestream check``, drawn with rich.

Strategy: ``render(report, console)`` prints a header panel (request, status, dialect,
overall verdict), then the findings grouped in sections (Response, Events, The end,
Expectations, Timing, Resume), each line a verdict mark and a message, with the fix under
every problem and warning; the Events section also shows a table of event names, counts,
whether ``onmessage`` sees them and their JSON shapes. ``render_text`` returns the same as
plain text (for the README, for logs). Only presentation here: every fact comes from the
``Report``.
"""

from __future__ import annotations

import io

from surestream._extras import needs

with needs("check", __name__):
    from rich.console import Console, Group, RenderableType
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

from surestream.check.report import OK, PROBLEM, WARNING, Finding, NameSummary, Report

__all__ = ["MAX_SHAPES", "SECTIONS", "render", "render_text"]

MAX_SHAPES = 3
"""JSON shapes shown per event name (the most common first)."""

SECTIONS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "Response",
        frozenset(
            {
                "connect_failed",
                "status_ok",
                "status_not_ok",
                "content_type_sse",
                "content_type_not_sse",
                "cache_control_ok",
                "cache_control_missing",
                "compressed",
                "x_accel_buffering_ok",
                "x_accel_buffering_missing",
                "fixed_content_length",
            }
        ),
    ),
    (
        "Events",
        frozenset(
            {
                "no_events",
                "event_names",
                "named_events_only",
                "onmessage_misses",
                "no_event_ids",
                "buffered",
                "events_after_end",
            }
        ),
    ),
    (
        "The end",
        frozenset(
            {
                "terminal_signal",
                "terminal_error",
                "finish_reason_without_done",
                "no_terminal_signal",
                "connection_broken",
                "sse_protocol_error",
                "timed_out",
                "open_after_end",
            }
        ),
    ),
    (
        "Expectations",
        frozenset(
            {
                "expected_event_seen",
                "expected_event_missing",
                "expected_field_seen",
                "expected_field_missing",
            }
        ),
    ),
    (
        "Timing",
        frozenset(
            {
                "timing",
                "heartbeat_seen",
                "silence_ok",
                "silence_without_heartbeat",
                "round_silence_close",
            }
        ),
    ),
)
"""Which findings go under which heading; codes not listed go under "Resume"."""

_MARKS = {OK: ("✓", "green"), WARNING: ("!", "yellow"), PROBLEM: ("✗", "bold red")}
_VERDICT_STYLE = {OK: "bold green", WARNING: "bold yellow", PROBLEM: "bold red"}


def _findings(found: list[Finding]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1)
    grid.add_column(width=1)
    grid.add_column(ratio=1)
    for f in found:
        mark, style = _MARKS[f.verdict]
        body = Text(f.message)
        body.append(f"  [{f.code}]", style="dim")
        if f.fix and f.verdict != OK:
            body.append("\nfix: ", style="bold cyan")
            body.append(f.fix, style="cyan")
        grid.add_row("", Text(mark, style=style), body)
    return grid


def _shapes(summary: NameSummary) -> Text:
    out = Text()
    for i, (keys, count) in enumerate(summary.shapes[:MAX_SHAPES]):
        if i:
            out.append("\n")
        shown = keys[0] if keys and keys[0].startswith("<") else "{" + ", ".join(keys) + "}"
        out.append(shown)
        out.append(f" x{count}", style="dim")
    hidden = len(summary.shapes) - MAX_SHAPES
    if hidden > 0:
        out.append(f"\n+{hidden} more shapes", style="dim")
    return out


def _names_table(report: Report) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2), header_style="bold")
    table.add_column("  event")
    table.add_column("count", justify="right")
    table.add_column("onmessage")
    table.add_column("JSON shapes (keys)")
    for summary in report.names:
        seen = Text("yes", style="green") if summary.onmessage else Text("never", style="yellow")
        table.add_row(f"  {summary.name}", str(summary.count), seen, _shapes(summary))
    return table


def _header(report: Report) -> Panel:
    ctype = next((v for k, v in report.headers if k.lower() == "content-type"), "no content type")
    status = "no response" if report.status is None else f"HTTP {report.status}"
    head = Text()
    head.append(f"{report.method} {report.url}\n", style="bold")
    head.append(f"{status} · {ctype} · dialect: {report.dialect} · {report.event_count} events\n")
    head.append("verdict: ")
    head.append(report.verdict.upper(), style=_VERDICT_STYLE[report.verdict])
    head.append(f"  (exit {report.exit_code})", style="dim")
    return Panel(head, title="surestream check", title_align="left", expand=True)


def _sections(report: Report) -> list[RenderableType]:
    parts: list[RenderableType] = []
    placed: set[str] = set()
    groups: list[tuple[str, list[Finding]]] = []
    for title, codes in SECTIONS:
        groups.append((title, [f for f in report.findings if f.code in codes]))
        placed |= codes
    groups.append(("Resume", [f for f in report.findings if f.code not in placed]))
    for title, found in groups:
        if not found:
            continue
        parts.append(Text(f"\n{title}", style="bold underline"))
        parts.append(_findings(found))
        if title == "Events" and report.names:
            parts.append(Text(""))
            parts.append(_names_table(report))
    return parts


def render(report: Report, console: Console) -> None:
    """Print ``report`` on ``console``."""
    console.print(Group(_header(report), *_sections(report)))


def render_text(report: Report, width: int = 100) -> str:
    """The report as plain text, ``width`` columns wide."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    render(report, console)
    return console.export_text()
