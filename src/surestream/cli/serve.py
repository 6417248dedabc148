"""``surestream serve``: start the gateway with settings from flags, environment or a file.

Strategy: the flags are derived from ``Settings`` (one per field, named after it unless the
field's ``Flag`` says otherwise), parsed into the fields' names; ``load_settings`` merges and
validates them (a wrong value exits with status 2 and one clear line per problem); the app is
built and run under uvicorn on sockets bound here first, so a taken port is one line that
names it (and the flag to pick another), not uvicorn's log. Once it listens it prints where
and a ``curl -N`` line that shows a streamed answer. SIGTERM and Ctrl-C shut down gracefully.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from surestream._extras import needs
from surestream.cli._common import listen, optional_float

with needs("gateway", __name__):
    import uvicorn
    from pydantic.fields import FieldInfo
    from rich.console import Console

from surestream.gateway.settings import (
    Settings,
    SettingsError,
    ValueShape,
    load_settings,
    parse_pairs,
    setting_flag,
    value_shape,
)

__all__ = ["SHUTDOWN_GRACE", "build_parser", "curl_line", "listen", "main"]

SHUTDOWN_GRACE = 10
"""Seconds uvicorn waits for open streams to end after SIGTERM."""


def build_parser() -> argparse.ArgumentParser:
    """The ``surestream serve`` argument parser: one flag per ``Settings`` field, derived from
    the model (name, type, help and default), except the fields marked ``ENV_ONLY``."""
    p = argparse.ArgumentParser(
        prog="surestream serve",
        description="Start the surestream gateway. Flags override SURESTREAM_* environment "
        "variables, which override the --config TOML file.",
    )
    p.add_argument("--config", metavar="FILE", help="TOML file with settings")
    for name, field in Settings.model_fields.items():
        flag = setting_flag(name, field)
        if flag.name is None:
            continue
        shape = value_shape(field)
        options: dict[str, Any] = {"dest": name, "help": _help(field, shape)}
        if shape == "bool":
            options["action"] = argparse.BooleanOptionalAction
        elif shape in {"list", "map"}:
            options.update(action="append", metavar=flag.metavar)
        else:
            options.update(type=_PARSERS.get(shape, str), metavar=flag.metavar)
        p.add_argument(flag.name, **options)
    return p


_PARSERS: dict[ValueShape, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "optional float": optional_float,
}


def _help(field: FieldInfo, shape: ValueShape) -> str:
    text = " ".join((field.description or "").split()).replace("``", "").removesuffix(".")
    default = field.get_default(call_default_factory=True)
    if shape in {"list", "map"}:
        shown = ",".join(default) if default else None
        text += f" (repeatable; default {shown})" if shown else " (repeatable)"
    elif shape == "bool":
        text += f" (default {'on' if default else 'off'})"
    elif isinstance(default, float):
        text += f" (default {default:g})"
    else:
        text += f" (default {'none' if default is None else default})"
    return text.replace("%", "%%")


def _flags(ns: argparse.Namespace) -> dict[str, Any]:
    flags = {k: v for k, v in vars(ns).items() if k != "config"}
    for name, field in Settings.model_fields.items():
        if value_shape(field) == "map" and flags.get(name) is not None:
            flags[name] = parse_pairs(flags[name], setting_flag(name, field).name or name)
    return flags


def without_password(url: str) -> str:
    """``url`` with the password of its user part (``redis://:secret@host``) masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def curl_line(base_url: str) -> str:
    """A ``curl -N`` command that streams a demo answer from ``base_url``."""
    body = '{"model":"demo","messages":[{"role":"user","content":"Tell me about streams"}]}'
    return (
        f"curl -N {base_url}/v1/chat/stream -H 'Content-Type: application/json' "
        f"-H \"Authorization: Bearer $KEY\" -d '{body}'"
    )


CANNOT_LISTEN = 3
"""The exit status of ``serve`` when its address cannot be bound (nothing was started);
``make serve`` ends quietly on it, after the one line that says why."""


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno != errno.EADDRINUSE:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return (
        f"port {port} on {host} is already in use; pick another port: "
        f'make serve ARGS="--port {port + 1}" (or surestream serve --port {port + 1})'
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
        store = without_password(self._settings.store)
        self._console.print(f"  store: {store}   try it:\n  {line}", soft_wrap=True)

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
    try:
        sockets = listen(settings.host, settings.port)
    except OSError as exc:
        message = _cannot_listen(settings.host, settings.port, exc)
        err.print(f"[bold red]surestream serve:[/] {message}", highlight=False, soft_wrap=True)
        return CANNOT_LISTEN
    from surestream.gateway.app import create_app
    from surestream.gateway.connections import guarded_http

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        server_header=False,
        http=guarded_http(settings.connection_limits()),
    )
    server = _AnnouncingServer(config, settings, Console(file=sys.stdout))
    server.run(sockets=sockets)
    return 0
