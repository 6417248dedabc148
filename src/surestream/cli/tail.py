"""``surestream tail URL``: print a stream live in the terminal, then its verdict.

Strategy: a thin shell over ``surestream.client.aconnect``. The answer's text is written as
it arrives, and so is reasoning, dimmed, apart from it; status messages and steps go on their
own dimmed lines, a tool call on its own line (``⚙ name(arguments)``, the arguments
streaming in as they come) and so does a tool's result (``↳ id: output``, or ``✗ id: error``);
start and data events are counted but not shown. Nothing absent is ever printed as ``None``.
The last line states the outcome, the event count, the answer's character count and the
number of connections. The exit code is the verdict, so scripts can rely on it:

- 0: the stream ended with ``done``;
- 1: the stream ended with ``error`` (also when a retryable error could not be resumed);
- 2: the stream was interrupted (no terminal event, resuming failed), the connection or
  the request failed, or the command line was wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from surestream._extras import needs

with needs("check", __name__):
    import anyio
    import httpx
    from rich.console import Console
    from rich.markup import escape

import orjson

from surestream.client import DEFAULT_CLIENT_IDLE_TIMEOUT, aconnect
from surestream.errors import SurestreamError
from surestream.events import (
    Done,
    Error,
    Event,
    Reasoning,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)

__all__ = ["EXIT_DONE", "EXIT_ERROR", "EXIT_INTERRUPTED", "main"]

EXIT_DONE = 0
"""Exit code of a stream that ended with ``done``."""
EXIT_ERROR = 1
"""Exit code of a stream that ended with ``error``."""
EXIT_INTERRUPTED = 2
"""Exit code of an interrupted stream, a failed connection or request, or bad arguments."""

_EPILOG = """exit codes: 0 done, 1 error event, 2 interrupted / connection or request failed"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surestream tail",
        description="Print an SSE stream live, then its outcome.",
        epilog=_EPILOG,
    )
    parser.add_argument("url", help="the stream URL (an events URL, or a URL to POST to)")
    parser.add_argument("-X", "--request", dest="method", default=None, help="HTTP method")
    parser.add_argument("-d", "--data", default=None, help="JSON request body (implies POST)")
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="request header (repeatable)",
    )
    parser.add_argument("--dialect", default="auto", help="wire dialect (default: auto)")
    parser.add_argument("--no-resume", action="store_true", help="do not reconnect")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_CLIENT_IDLE_TIMEOUT,
        help=(
            f"seconds without an event before giving up (default {DEFAULT_CLIENT_IDLE_TIMEOUT:g})"
        ),
    )
    return parser


def _headers(values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"bad header {value!r}: expected 'Name: value'")
        headers[name.strip()] = rest.strip()
    return headers


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _Printer:
    """Writes events as they come: the answer inline, the rest on lines of their own."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.events = 0
        self.chars = 0
        self._inline: str | None = None
        """What the current line is being written with: "text", "reasoning", a tool call's
        id (its arguments streaming), or None at the start of a line."""

    def _to(self, inline: str | None) -> None:
        """Start a new line unless the current one continues with ``inline``."""
        if self._inline is not None and self._inline != inline:
            if self._inline.startswith("call:"):
                self.console.out(")", end="", highlight=False)
            self.console.out("")
        self._inline = inline

    def _inline_text(self, text: str, kind: str, style: str | None = None) -> None:
        self._to(kind)
        self.console.out(text, end="", style=style, highlight=False)
        if text.endswith("\n"):
            self._inline = None

    def _line(self, markup: str) -> None:
        self._to(None)
        self.console.print(markup, highlight=False)

    def show(self, event: Event) -> None:
        """Write one event."""
        self.events += 1
        if isinstance(event, Text):
            self.chars += len(event.text)
            self._inline_text(event.text, "text")
        elif isinstance(event, Reasoning):
            self._inline_text(event.text, "reasoning", "dim")
        elif isinstance(event, Status):
            self._line(f"[dim]· {escape(event.message)}[/dim]")
        elif isinstance(event, Step):
            name = f" {escape(event.name)}" if event.name else ""
            self._line(f"[dim]· step{name}[/dim]")
        elif isinstance(event, ToolCallStart):
            self._to(None)
            self.console.print(f"[cyan]⚙ {escape(event.name)}[/cyan](", end="", highlight=False)
            self._inline = f"call:{event.id}"
        elif isinstance(event, ToolCallDelta):
            if self._inline == f"call:{event.id}":
                self.console.out(event.args, end="", highlight=False)
        elif isinstance(event, ToolCall):
            if self._inline == f"call:{event.id}":
                self._to(None)
            else:
                self._line(f"[cyan]⚙ {escape(event.name)}[/cyan]({escape(_json(event.args))})")
        elif isinstance(event, ToolResult):
            if event.error is None:
                self._line(f"[cyan]↳[/cyan] {escape(event.id)}: {escape(_json(event.output))}")
            else:
                self._line(f"[red]✗[/red] {escape(event.id)}: {escape(event.error)}")

    def end(self) -> None:
        """Finish the last line."""
        self._to(None)


async def _tail(args: argparse.Namespace, console: Console) -> int:
    body: Any = None
    if args.data is not None:
        body = orjson.loads(args.data)
    method = args.method or ("POST" if args.data is not None else "GET")
    printer = _Printer(console)
    async with aconnect(
        args.url,
        method=method,
        json=body,
        headers=_headers(args.header),
        dialect=args.dialect,
        resume=not args.no_resume,
        idle_timeout=args.idle_timeout,
    ) as stream:
        async for event in stream:
            printer.show(event)
        printer.end()
        summary = f"{printer.events} events, {printer.chars} chars, {stream.attempts} connection(s)"
        outcome = stream.outcome
        if isinstance(outcome, Done):
            console.print(f"[green]── done[/green] ({escape(outcome.finish_reason)}) · {summary}")
            return EXIT_DONE
        if isinstance(outcome, Error):
            message = f": {escape(outcome.message)}" if outcome.message else ""
            console.print(f"[red]── error[/red] {escape(outcome.code)}{message} · {summary}")
            return EXIT_ERROR
        reason = stream.interruption or "no terminal event"
        last_id = stream.last_event_id
        where = "no event id" if last_id is None else f"last event id {escape(repr(last_id))}"
        console.print(f"[yellow]── interrupted[/yellow] ({escape(reason)}), {where} · {summary}")
        return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Run ``surestream tail``; returns the exit code (see the module docstring)."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return anyio.run(_tail, args, console)
    except httpx.HTTPStatusError as exc:
        status, text = exc.response.status_code, escape(exc.response.text[:500])
        errors.print(f"[red]surestream tail:[/red] HTTP {status}: {text}")
    except (httpx.HTTPError, SurestreamError, ValueError) as exc:
        errors.print(f"[red]surestream tail:[/red] {escape(str(exc) or type(exc).__name__)}")
    except KeyboardInterrupt:
        errors.print("[yellow]surestream tail: interrupted by the user[/yellow]")
    return EXIT_INTERRUPTED
