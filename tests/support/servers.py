"""Real servers on 127.0.0.1 for tests: uvicorn in a thread, uvicorn or redis in a process.

Every helper waits for the server's own "ready" signal (an event, or the line the server
prints) rather than sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from surestream.testing import FakeUpstream

START_TIMEOUT = 90.0
"""Seconds a server process has to say it is ready: a gateway the fault campaign restarts
under ``nice`` on two loaded cores took over 30 s to import and start."""


UVICORN_READY = "Uvicorn running on"
"""What a uvicorn process prints once it listens. Not "Application startup complete": uvicorn
prints that after the lifespan startup and before it binds the port, so a client quick
enough is refused."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SHUTDOWN_POLL = 0.005
"""Seconds between two looks at the open connections and tasks of a stopping in-thread server
(uvicorn's own shutdown sleeps 0.1 s first and then looks every 0.1 s)."""


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that says when it is ready and stops without uvicorn's fixed waits.

    Stopping one cost uvicorn's 0.1 s main-loop tick plus a fixed 0.1 s sleep and 0.1 s polls
    in its shutdown: seconds over a test run that starts hundreds of servers. ``stop()`` wakes
    the main loop at once and the shutdown does what uvicorn's does (stop accepting, shut
    every connection down, wait for connections and tasks to finish within
    ``timeout_graceful_shutdown``, then the lifespan shutdown) looking every ``SHUTDOWN_POLL``.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        await super().startup(sockets)
        self.ready.set()

    def stop(self) -> None:
        """Ask the server to exit (from any thread) and wake its main loop now."""
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(self._wake.set)

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                # uvicorn has no event for "its connections and tasks have finished"
                while self.server_state.connections or self.server_state.tasks:  # noqa: ASYNC110
                    await asyncio.sleep(SHUTDOWN_POLL)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()


@dataclass
class ServerThread:
    """A uvicorn server running ``app`` in a background thread."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread


@contextlib.contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[ServerThread]:
    """Run ``app`` under a real uvicorn on a free loopback port for the ``with`` block."""
    port = free_port()
    config.setdefault("log_level", "warning")
    config.setdefault("lifespan", "on")
    server = _ReadyServer(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    if not server.ready.wait(20):
        server.stop()
        raise RuntimeError("uvicorn did not start within 20 s")
    try:
        yield ServerThread(f"http://127.0.0.1:{port}", port, server, thread)
    finally:
        server.stop()
        thread.join(15)


@dataclass
class ServerProcess:
    """A server running in a child process; ``output`` collects what it printed."""

    url: str
    port: int
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    """The thread that fills ``output``; it ends when the process's output does."""

    def stop(self, sig: int | None = None, timeout: float = 20) -> int:
        """Send ``sig`` (SIGTERM by default) and wait for the exit code, and for ``output``
        to hold everything the process printed."""
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        if self.reader is not None:
            self.reader.join(5)
        return code


def _start(
    argv: Sequence[str], ready_text: str, env: dict[str, str] | None, port: int, url: str
) -> ServerProcess:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )
    handle = ServerProcess(url, port, proc)
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            handle.output.append(line)
            if ready_text in line:
                ready.set()
        ready.set()

    handle.reader = threading.Thread(target=pump, daemon=True)
    handle.reader.start()
    if not ready.wait(START_TIMEOUT) or proc.poll() is not None:
        handle.stop()
        raise RuntimeError(
            f"{argv[0]} did not start within {START_TIMEOUT:g} s:\n{''.join(handle.output)}"
        )
    return handle


@contextlib.contextmanager
def uvicorn_process(
    app: str, *, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[ServerProcess]:
    """Run ``python -m uvicorn app`` (an import string) in a child process."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    handle = _start([*argv, *args], UVICORN_READY, env, port, "")
    handle.url = f"http://127.0.0.1:{port}"
    try:
        yield handle
    finally:
        handle.stop()


@contextlib.contextmanager
def command_process(
    argv: Sequence[str], *, port: int, ready_text: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Run any server command that listens on ``port`` and prints ``ready_text`` when ready."""
    handle = _start(argv, ready_text, env, port, f"http://127.0.0.1:{port}")
    try:
        yield handle
    finally:
        handle.stop()


@dataclass
class RunningFake:
    """A ``FakeUpstream`` served in this process, and where it listens."""

    fake: FakeUpstream
    url: str

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return f"{self.url}/v1"


def serve_argv(port: int, *flags: str) -> list[str]:
    """The command line of ``surestream serve --port port *flags`` in this interpreter."""
    return [sys.executable, "-m", "surestream.cli", "serve", "--port", str(port), *flags]


@contextlib.contextmanager
def gateway_process(*flags: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``surestream serve`` on a free port in a child process, from the moment it listens."""
    port = free_port()
    with command_process(
        serve_argv(port, *flags), port=port, ready_text="listening on", env=env
    ) as process:
        yield process


def redis_server_binary() -> str:
    """The redis-server path; ``make test`` installs Debian's package when it is missing."""
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server not found: run `make test` (it installs redis-server)")
    return path


@contextlib.contextmanager
def redis_process(
    port: int | None = None, *, append_only_dir: str | None = None
) -> Iterator[ServerProcess]:
    """A throwaway redis-server on loopback: no persistence, or with ``append_only_dir`` an
    append-only file there (fsync on every write), so a restart keeps every key."""
    port = port or free_port()
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ]
    if append_only_dir is None:
        argv += ["--appendonly", "no"]
    else:
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--dir", append_only_dir]
    handle = _start(argv, "Ready to accept connections", None, port, f"redis://127.0.0.1:{port}")
    try:
        yield handle
    finally:
        handle.stop()
