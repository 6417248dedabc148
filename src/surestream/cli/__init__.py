"""The ``surestream`` command: ``serve``, ``check URL``, ``tail URL``, ``adk AGENTS_DIR``;
``--version``.

Each subcommand lives in its own module of this package (``serve``, ``check``, ``tail``,
``adk``) and is imported only when used, so ``surestream tail`` does not load the gateway, and
a subcommand whose extra is not installed exits with status 2 and the ``pip install`` line to
run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from surestream import __version__
from surestream._extras import MissingExtra

__all__ = ["main"]

_COMMANDS = {
    "serve": ("surestream.cli.serve", "start the gateway (demo model by default)"),
    "check": ("surestream.cli.check", "diagnose any SSE endpoint"),
    "tail": ("surestream.cli.tail", "print a stream live in the terminal"),
    "adk": ("surestream.cli.adk", "serve a Google ADK agents directory (the [adk] extra)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``surestream`` exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"surestream {__version__}")
        return 0
    if not args or args[0] in {"-h", "--help"} or args[0] not in _COMMANDS:
        parser = argparse.ArgumentParser(prog="surestream")
        parser.add_argument("-V", "--version", action="version", version=__version__)
        sub = parser.add_subparsers(dest="command", required=True)
        for name, (_, help_text) in _COMMANDS.items():
            sub.add_parser(name, help=help_text, add_help=False)
        parser.parse_args(args or ["--help"])
        return 2
    try:
        module = importlib.import_module(_COMMANDS[args[0]][0])
    except MissingExtra as exc:
        print(f"surestream {args[0]}: {exc}", file=sys.stderr)
        return 2
    code: int = module.main(args[1:])
    return code
