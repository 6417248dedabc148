"""``surestream check URL``: the command line of the SSE doctor.

Strategy: parse curl-like arguments, call ``ainspect`` once, print the report (rich, or one
JSON document with ``--json``) and return the report's exit code: 0 when nothing is a
problem, 1 when something is, 2 when the endpoint could not be reached or did not answer
with an SSE stream. Wrong arguments exit 2 as well (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from surestream._extras import needs

with needs("check", __name__):
    import anyio
    from rich.console import Console

from surestream.check.doctor import ainspect
from surestream.check.record import DEFAULT_CHECK_TIMEOUT
from surestream.check.render import render
from surestream.check.report import Report

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``surestream check``."""
    p = argparse.ArgumentParser(
        prog="surestream check",
        description="Connect to an SSE endpoint, record the whole stream with timings and "
        "report what clients will trip over, with a fix for each problem.",
        epilog="exit codes: 0 nothing is a problem, 1 something is, 2 could not connect or "
        "the response is not SSE",
    )
    p.add_argument("url", help="the SSE endpoint")
    p.add_argument("-X", "--request", dest="method", help="HTTP method (default GET, POST with -d)")
    p.add_argument("-d", "--data", dest="body", help="request body (@FILE reads a file)")
    p.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="request header, repeatable",
    )
    p.add_argument(
        "--expect-event",
        action="append",
        default=[],
        metavar="NAME",
        help="an event name the client listens for (addEventListener), repeatable",
    )
    p.add_argument(
        "--expect-field",
        action="append",
        default=[],
        metavar="KEY",
        help="a JSON key (dotted path) the client reads to detect the end, repeatable",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CHECK_TIMEOUT,
        metavar="S",
        help=f"overall bound per connection in seconds (default {DEFAULT_CHECK_TIMEOUT:g})",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="also cut the stream mid-way and check that Last-Event-ID resumes it",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.add_argument("-k", "--insecure", action="store_true", help="skip TLS certificate checks")
    return p


def _headers(raw: Sequence[str], p: argparse.ArgumentParser) -> list[tuple[str, str]]:
    out = []
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            p.error(f"header must look like 'Name: value', got {item!r}")
        out.append((name.strip(), value.strip()))
    return out


def _body(raw: str | None) -> bytes | None:
    if raw is None:
        return None
    if raw.startswith("@"):
        with open(raw[1:], "rb") as f:
            return f.read()
    return raw.encode()


def main(argv: Sequence[str]) -> int:
    """Run ``surestream check``; returns the exit code."""
    p = parser()
    args = p.parse_args(list(argv))
    headers = _headers(args.headers, p)
    body = _body(args.body)

    async def run() -> Report:
        return await ainspect(
            args.url,
            method=args.method,
            headers=headers,
            body=body,
            expect_events=args.expect_event,
            expect_fields=args.expect_field,
            timeout=args.timeout,
            resume=args.resume,
            verify=not args.insecure,
        )

    report = anyio.run(run)
    if args.json:
        sys.stdout.write(report.dumps() + "\n")
    else:
        render(report, Console())
    return report.exit_code
