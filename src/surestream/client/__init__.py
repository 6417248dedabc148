"""The Python client: typed events, a guaranteed outcome, automatic resume.

``aconnect(url, ...)`` (async) and ``connect(url, ...)`` (sync) open a stream; iterate it for
typed events (``surestream.events``) up to and including the terminal one, read ``outcome``
(or ``interruption``), or ask for ``text()``, the answer, which raises ``StreamFailed`` or
``StreamInterrupted`` when the stream did not end with ``done``; ``reasoning`` and
``tool_calls`` hold the rest of what the model said. Whatever a server sends, a stream ends
with ``done``, ``error`` or an interruption that says why; ``Limits`` bound what it may cost.
See ``surestream.client._stream`` for the resume rules.
"""

from surestream._extras import needs

with needs("client", __name__):
    from surestream.client._connect import (
        DEFAULT_CLIENT_IDLE_TIMEOUT,
        DEFAULT_HTTP_TIMEOUT,
        aconnect,
    )
    from surestream.client._errors import StreamError, StreamFailed, StreamInterrupted
    from surestream.client._limits import (
        DEFAULT_CLIENT_MAX_BYTES,
        DEFAULT_CLIENT_MAX_EVENTS,
        DEFAULT_MAX_EVENT_SIZE,
        DEFAULT_MAX_RECONNECTS,
        Limits,
    )
    from surestream.client._resume import (
        DEFAULT_MAX_RETRIES,
        DEFAULT_MAX_RETRY_DELAY,
        DEFAULT_MIN_RETRY_DELAY,
        DEFAULT_RETRY_DELAY,
        Backoff,
    )
    from surestream.client._stream import EventStream
    from surestream.client._sync import SyncEventStream, connect
    from surestream.client._transport import StreamingTransport

__all__ = [
    "DEFAULT_CLIENT_IDLE_TIMEOUT",
    "DEFAULT_CLIENT_MAX_BYTES",
    "DEFAULT_CLIENT_MAX_EVENTS",
    "DEFAULT_HTTP_TIMEOUT",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_RECONNECTS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_DELAY",
    "DEFAULT_MIN_RETRY_DELAY",
    "DEFAULT_RETRY_DELAY",
    "Backoff",
    "EventStream",
    "Limits",
    "StreamError",
    "StreamFailed",
    "StreamInterrupted",
    "StreamingTransport",
    "SyncEventStream",
    "aconnect",
    "connect",
]
