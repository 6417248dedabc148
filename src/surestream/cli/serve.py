"""``surestream serve``: start the gateway with settings from flags, environment or a file.

Strategy: parse flags into the names of ``Settings`` fields, let ``load_settings`` merge and
validate them (a wrong value exits with status 2 and one clear line per problem), build the
app and run it under uvicorn. Once the socket is bound it prints where it listens and a
``curl -N`` line that shows a streamed answer. SIGTERM and Ctrl-C shut down gracefully.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import uvicorn
from rich.console import Console

from surestream.gateway.settings import Settings, SettingsError, load_settings, parse_pairs

__all__ = ["build_parser", "main"]

SHUTDOWN_GRACE = 10
"""Seconds uvicorn waits for open streams to end after SIGTERM."""


def build_parser() -> argparse.ArgumentParser:
    """The ``surestream serve`` argument parser; every flag maps to a ``Settings`` field."""
    p = argparse.ArgumentParser(
        prog="surestream serve",
        description="Start the surestream gateway. Flags override SURESTREAM_* environment "
        "variables, which override the --config TOML file.",
    )
    p.add_argument("--config", metavar="FILE", help="TOML file with settings")
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000; 0: any free)")
    p.add_argument("--store", help="'memory' (default) or redis://HOST:PORT/DB")
    p.add_argument("--redis-prefix", metavar="PREFIX", help="prefix of every Redis key")
    p.add_argument(
        "--upstream",
        action="append",
        metavar="NAME=URL",
        help="an OpenAI-compatible upstream (repeatable)",
    )
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME=UPSTREAM[:MODEL]",
        help="route model NAME to an upstream (repeatable)",
    )
    p.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="require this bearer key (repeatable; prefer SURESTREAM_API_KEYS)",
    )
    p.add_argument("--cors-origin", action="append", metavar="ORIGIN", help="allow this origin")
    p.add_argument(
        "--cors-allow-header",
        action="append",
        metavar="HEADER",
        help="allow only these request headers from allowed origins (default: any asked for)",
    )
    p.add_argument("--no-demo", action="store_true", help="do not offer the demo model")
    p.add_argument("--demo-tokens-per-second", type=float, metavar="N")
    p.add_argument("--heartbeat", type=float, metavar="S")
    p.add_argument("--idle-timeout", type=_optional_float, metavar="S|none")
    p.add_argument("--orphan-grace", type=float, metavar="S")
    p.add_argument("--lease-ttl", type=float, metavar="S")
    p.add_argument("--retention", type=float, metavar="S")
    p.add_argument("--read-token-ttl", type=float, metavar="S")
    p.add_argument("--upstream-connect-timeout", type=float, metavar="S")
    p.add_argument("--upstream-first-token-timeout", type=_optional_float, metavar="S|none")
    p.add_argument("--upstream-idle-timeout", type=_optional_float, metavar="S|none")
    for limit in (
        "max-body-bytes",
        "max-messages",
        "max-tokens-limit",
        "max-streams",
        "max-streams-per-key",
        "max-subscribers",
        "max-events-per-stream",
        "max-metadata-items",
        "max-metadata-chars",
    ):
        p.add_argument(f"--{limit}", type=int, metavar="N")
    p.add_argument("--log-level")
    return p


def _optional_float(text: str) -> float | None:
    return None if text.lower() in {"none", "never", "off"} else float(text)


def _flags(ns: argparse.Namespace) -> dict[str, Any]:
    flags = {k: v for k, v in vars(ns).items() if k not in {"config", "no_demo"}}
    flags["upstreams"] = parse_pairs(ns.upstream, "--upstream") if ns.upstream else None
    flags["models"] = parse_pairs(ns.model, "--model") if ns.model else None
    flags["api_keys"] = flags.pop("api_key")
    flags["cors_origins"] = flags.pop("cors_origin")
    flags["cors_allow_headers"] = flags.pop("cors_allow_header")
    flags.pop("upstream")
    flags.pop("model")
    if ns.no_demo:
        flags["demo"] = False
    return flags


def curl_line(base_url: str) -> str:
    """A ``curl -N`` command that streams a demo answer from ``base_url``."""
    body = '{"model":"demo","messages":[{"role":"user","content":"Tell me about streams"}]}'
    return (
        f"curl -N {base_url}/v1/chat/stream -H 'Content-Type: application/json' "
        f"-H \"Authorization: Bearer $KEY\" -d '{body}'"
    )


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, settings: Settings, console: Console) -> None:
        super().__init__(config)
        self._settings = settings
        self._console = console

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        port = self._settings.port
        for server in self.servers:
            for sock in server.sockets:
                port = sock.getsockname()[1]
        base = f"http://{self._settings.host}:{port}"
        line = curl_line(base)
        if not self._settings.api_keys:
            line = line.replace(' -H "Authorization: Bearer $KEY"', "")
        self._console.print(f"[bold green]surestream[/] gateway listening on [bold]{base}[/]")
        self._console.print(f"  chat page: {base}/   models: {', '.join(self._models())}")
        self._console.print(f"  store: {self._settings.store}   try it:\n  {line}", soft_wrap=True)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Shut down gracefully; a requested shutdown exits with status 0, not the signal."""
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    def _models(self) -> list[str]:
        return sorted(self._settings.model_routes())


def main(argv: Sequence[str]) -> int:
    """Run ``surestream serve``; returns the process exit code."""
    ns = build_parser().parse_args(list(argv))
    err = Console(stderr=True)
    try:
        settings = load_settings(flags=_flags(ns), config_file=ns.config)
    except SettingsError as exc:
        err.print(f"[bold red]surestream serve:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    from surestream.gateway.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        server_header=False,
    )
    server = _AnnouncingServer(config, settings, Console(file=sys.stdout))
    server.run()
    return 0
