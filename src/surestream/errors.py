"""The exception tree of surestream, in one place.

Strategy: stream *outcomes* are data (``surestream.events.Done`` / ``Error``), not
exceptions. Exceptions are for misuse and for broken peers, split by whose fault it is::

    SurestreamError                   base of everything we raise
    ├── LocalProtocolError            the caller asked for something the protocol cannot say
    │                                 (also a ValueError: an ``id`` with a line break, ...)
    ├── RemoteProtocolError           the peer sent something we cannot accept
    │   └── SSEProtocolError          an SSE byte stream broke a limit of the Decoder
    ├── SourceFailed                  raised by an event source to end its stream with an
    │                                 ``error`` event of a chosen code (e.g. upstream_error)
    └── StreamError                   raised by the client only when the caller asks for text
        ├── StreamFailed              the stream ended with an ``error`` event
        └── StreamInterrupted         the connection ended without a terminal event
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "RemoteProtocolError",
    "SSEProtocolError",
    "SourceFailed",
    "SurestreamError",
]


class SurestreamError(Exception):
    """Base class of every exception surestream raises."""


class LocalProtocolError(SurestreamError, ValueError):
    """The caller asked to encode something the wire format cannot carry."""


class RemoteProtocolError(SurestreamError):
    """The peer sent bytes that break the protocol or one of our limits."""


class SSEProtocolError(RemoteProtocolError):
    """An SSE byte stream exceeded a Decoder limit; the message names the limit."""


class SourceFailed(SurestreamError):
    """Raised inside an event source to end the stream with ``error`` ``code``.

    ``message`` is shown to the client, so it must be safe (no secrets, no traceback);
    ``retryable`` None means the documented default for ``code``.
    """

    def __init__(self, code: str, message: str = "", *, retryable: bool | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.retryable = retryable
