"""``surestream tail URL``: print a stream live in the terminal, then its verdict.

Strategy: a thin shell over ``surestream.client.aconnect``. Text is written as it arrives,
status messages on their own dimmed lines, other events (start, data) are counted but not
shown; the last line states the outcome, the event and character counts and the number of
connections. The exit code is the verdict, so scripts can rely on it:

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
from surestream.events import Done, Error, Status, Text

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
        help=f"seconds without an event before giving up (default {DEFAULT_CLIENT_IDLE_TIMEOUT})",
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


async def _tail(args: argparse.Namespace, console: Console) -> int:
    body: Any = None
    if args.data is not None:
        body = orjson.loads(args.data)
    method = args.method or ("POST" if args.data is not None else "GET")
    counts = {"events": 0, "chars": 0}
    at_line_start = True
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
            counts["events"] += 1
            if isinstance(event, Text):
                counts["chars"] += len(event.text)
                console.out(event.text, end="", highlight=False)
                at_line_start = event.text.endswith("\n")
            elif isinstance(event, Status):
                if not at_line_start:
                    console.out("")
                console.print(f"[dim]· {escape(event.message)}[/dim]", highlight=False)
                at_line_start = True
        if not at_line_start:
            console.out("")
        summary = (
            f"{counts['events']} events, {counts['chars']} chars, {stream.attempts} connection(s)"
        )
        outcome = stream.outcome
        if isinstance(outcome, Done):
            console.print(f"[green]── done[/green] ({escape(outcome.finish_reason)}) · {summary}")
            return EXIT_DONE
        if isinstance(outcome, Error):
            console.print(
                f"[red]── error[/red] {escape(outcome.code)}: {escape(outcome.message)} · {summary}"
            )
            return EXIT_ERROR
        reason = stream.interruption or "no terminal event"
        console.print(
            f"[yellow]── interrupted[/yellow] ({escape(reason)}), last event id "
            f"{stream.last_event_id!r} · {summary}"
        )
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
