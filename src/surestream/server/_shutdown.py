"""Server shutdown: every open stream ends with ``error`` ``server_shutdown``, then closes.

Strategy: uvicorn does not tell a streaming response that the server is stopping. On SIGTERM
it sets ``Server.should_exit``, stops accepting, and then waits for open responses to finish
(forever, unless ``--timeout-graceful-shutdown`` is set, after which it cancels them without a
word to the client). So each event loop that serves streams runs one watcher task, alive only
while streams are open, that looks every ``SHUTDOWN_POLL_INTERVAL`` seconds at the
``should_exit`` flag of the uvicorn ``Server`` whose ``handle_exit`` is the installed SIGTERM
handler (uvicorn installs it with ``signal.signal`` in the main thread, workers included). When
it is set, every stream on that loop is told to finish with ``server_shutdown`` (retryable), and
so is every stream opened on that loop afterwards. Nothing is patched and no flag is
process-global, so a second server in the same process starts clean.

Other servers (hypercorn, granian, a uvicorn run in a thread) call ``request_shutdown()`` from
their own shutdown hook, before they wait for open connections.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import weakref
from typing import Protocol

__all__ = ["SHUTDOWN_POLL_INTERVAL", "request_shutdown"]

SHUTDOWN_POLL_INTERVAL = 0.1
"""Seconds between two looks at uvicorn's ``should_exit`` while streams are open (uvicorn's own
main loop looks every 0.1 s too)."""


class ShutdownListener(Protocol):
    """What the watcher tells about a shutdown: one open stream."""

    def on_shutdown(self) -> None:
        """The server is stopping: end the stream with ``server_shutdown``."""
        ...


class _LoopStreams:
    """The open streams of one event loop and the watcher task looking out for them."""

    __slots__ = ("__weakref__", "closing", "streams", "watcher")

    def __init__(self) -> None:
        self.streams: set[ShutdownListener] = set()
        self.watcher: asyncio.Task[None] | None = None
        self.closing = False

    def close_all(self) -> None:
        self.closing = True
        for stream in list(self.streams):
            stream.on_shutdown()


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopStreams] = (
    weakref.WeakKeyDictionary()
)


def _state(loop: asyncio.AbstractEventLoop) -> _LoopStreams:
    state = _loops.get(loop)
    if state is None:
        state = _loops[loop] = _LoopStreams()
    return state


def _uvicorn_is_exiting() -> bool:
    module = sys.modules.get("uvicorn.server")
    if module is None:
        return False
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return isinstance(server, module.Server) and server.should_exit


async def _watch(state: _LoopStreams) -> None:
    try:
        while state.streams and not state.closing:
            if _uvicorn_is_exiting():
                state.close_all()
                return
            await asyncio.sleep(SHUTDOWN_POLL_INTERVAL)
    finally:
        state.watcher = None


def register(stream: ShutdownListener) -> None:
    """Watch out for a shutdown on behalf of ``stream`` (an open response on the running loop).

    If the loop is already shutting down, ``stream.on_shutdown()`` is called at once.
    """
    loop = asyncio.get_running_loop()
    state = _state(loop)
    state.streams.add(stream)
    if state.closing:
        stream.on_shutdown()
    elif state.watcher is None:
        state.watcher = loop.create_task(_watch(state), name="surestream shutdown watcher")


def unregister(stream: ShutdownListener) -> None:
    """``stream`` has ended; the watcher stops by itself once no stream is left."""
    state = _loops.get(asyncio.get_running_loop())
    if state is not None:
        state.streams.discard(stream)


def request_shutdown(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """End every open ``EventStreamResponse`` on ``loop`` with ``error`` ``server_shutdown``.

    Streams opened on that loop afterwards end the same way at once. ``loop`` defaults to the
    running loop; from another thread, pass the server's loop (the call is then thread-safe).
    Under uvicorn this happens by itself on SIGTERM; call it from the shutdown hook of other
    servers.
    """
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    target = loop or running
    if target is None:
        raise RuntimeError("request_shutdown() needs a running event loop or a loop argument")
    if target is running:
        _state(target).close_all()
    else:
        target.call_soon_threadsafe(lambda: _state(target).close_all())
