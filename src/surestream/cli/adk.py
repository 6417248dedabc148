"""``surestream adk AGENTS_DIR``: serve a Google ADK agents directory with surestream's streams.

Strategy: build ``surestream.integrations.adk.create_app`` from the flags (ADK's own spellings
for ADK's options, as ``adk api_server`` takes them), bind the port first (a taken port is one
line, exit 1), then run it under uvicorn and print where it listens. Needs the ``[adk]``
extra.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from surestream._extras import require

require("adk", "surestream adk")

import uvicorn  # noqa: E402

from surestream.cli._common import listen, optional_float  # noqa: E402
from surestream.hub import DEFAULT_ORPHAN_GRACE  # noqa: E402
from surestream.server import DEFAULT_HEARTBEAT, DEFAULT_IDLE_TIMEOUT  # noqa: E402
from surestream.store import Store  # noqa: E402

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``surestream adk`` argument parser."""
    p = argparse.ArgumentParser(
        prog="surestream adk",
        description="Serve an ADK agents directory like `adk api_server`, plus "
        "/surestream/run_sse: streams that end with done or error, heartbeats, an idle "
        "timeout, resume with Last-Event-ID, and the native, openai and vercel-ai dialects.",
    )
    p.add_argument("agents_dir", metavar="AGENTS_DIR", help="the directory of agents (or one)")
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument("--session_service_uri", help="as for adk api_server (e.g. memory://)")
    p.add_argument("--artifact_service_uri", help="as for adk api_server")
    p.add_argument("--memory_service_uri", help="as for adk api_server")
    p.add_argument(
        "--no_use_local_storage",
        dest="use_local_storage",
        action="store_false",
        help="do not keep sessions and artifacts under AGENTS_DIR",
    )
    p.add_argument("--allow_origins", action="append", metavar="ORIGIN", help="CORS origin")
    p.add_argument("--auto_create_session", action="store_true", help="create unknown sessions")
    p.add_argument("--store", default="memory", help="'memory' (default) or redis://HOST:PORT/DB")
    p.add_argument("--heartbeat", type=optional_float, default=DEFAULT_HEARTBEAT, metavar="S")
    p.add_argument(
        "--idle-timeout", type=optional_float, default=DEFAULT_IDLE_TIMEOUT, metavar="S|none"
    )
    p.add_argument("--orphan-grace", type=float, default=DEFAULT_ORPHAN_GRACE, metavar="S")
    p.add_argument(
        "--expose-errors", action="store_true", help="put the agent's error text in the stream"
    )
    p.add_argument("--log-level", default="info")
    return p


class _AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                print(f"surestream adk listening on http://{host}:{port}", flush=True)
                print(f"  POST http://{host}:{port}/surestream/run_sse", flush=True)


def main(argv: Sequence[str]) -> int:
    """Run ``surestream adk``; returns the exit code."""
    ns = build_parser().parse_args(list(argv))
    if not Path(ns.agents_dir).is_dir():
        print(f"surestream adk: {ns.agents_dir!r} is not a directory", file=sys.stderr)
        return 2
    try:
        sockets = listen(ns.host, ns.port)
    except OSError as exc:
        print(f"surestream adk: cannot listen on {ns.host}:{ns.port}: {exc}", file=sys.stderr)
        return 1
    from surestream.integrations.adk import create_app

    store: Store | None = None
    if ns.store != "memory":
        from surestream.store.redis import RedisStore

        store = RedisStore(ns.store)
    app = create_app(
        ns.agents_dir,
        session_service_uri=ns.session_service_uri,
        artifact_service_uri=ns.artifact_service_uri,
        memory_service_uri=ns.memory_service_uri,
        use_local_storage=ns.use_local_storage,
        allow_origins=ns.allow_origins,
        bind_host=ns.host,
        auto_create_session=ns.auto_create_session,
        store=store,
        orphan_grace=ns.orphan_grace,
        heartbeat=ns.heartbeat,
        idle_timeout=ns.idle_timeout,
        expose_errors=ns.expose_errors,
    )
    config = uvicorn.Config(app, host=ns.host, port=ns.port, log_level=ns.log_level)
    _AnnouncingServer(config).run(sockets=sockets)
    return 0
