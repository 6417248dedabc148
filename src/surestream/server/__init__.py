"""The server side: ``EventStreamResponse``, a Starlette response whose streams end with a verdict.

Heartbeats, idle / first-event / duration limits, client disconnects, slow clients and server
shutdown are all handled per response; see ``EventStreamResponse`` for the guarantees,
``request_shutdown`` for servers other than uvicorn, and ``DetachStreams`` to stream outside
the framework's request stack. Needs an asyncio event loop.
"""

from __future__ import annotations

from surestream._extras import needs

with needs("server", __name__):
    from surestream.server._detach import DETACH_SCOPE_KEY, DetachStreams
    from surestream.server._limits import RETRY_AFTER
    from surestream.server._response import (
        DEFAULT_CLOSE_TIMEOUT,
        DEFAULT_HEARTBEAT,
        DEFAULT_IDLE_TIMEOUT,
        DEFAULT_MAX_BUFFER,
        DEFAULT_RETRY,
        DEFAULT_SEND_TIMEOUT,
        HEARTBEAT,
        EventStreamResponse,
        OnClose,
        SourceItem,
    )
    from surestream.server._shutdown import SHUTDOWN_POLL_INTERVAL, request_shutdown

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_RETRY",
    "DEFAULT_SEND_TIMEOUT",
    "DETACH_SCOPE_KEY",
    "HEARTBEAT",
    "RETRY_AFTER",
    "SHUTDOWN_POLL_INTERVAL",
    "DetachStreams",
    "EventStreamResponse",
    "OnClose",
    "SourceItem",
    "request_shutdown",
]
