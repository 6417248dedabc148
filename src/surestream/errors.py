"""The exception tree of surestream, in one place.

Strategy: stream *outcomes* are data (``surestream.events.Done`` / ``Error``), not
exceptions. Exceptions are for misuse and for broken peers, split by whose fault it is::

    SurestreamError                   base of everything we raise
    ├── LocalProtocolError            the caller asked for something the protocol cannot say
    │                                 (also a ValueError: an ``id`` with a line break, ...)
    ├── RemoteProtocolError           the peer sent something we cannot accept
    │   └── SSEProtocolError          an SSE byte stream broke a limit of the Decoder
    └── StreamError                   raised by the client only when the caller asks for text
        ├── StreamFailed              the stream ended with an ``error`` event
        └── StreamInterrupted         the connection ended without a terminal event
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "RemoteProtocolError",
    "SSEProtocolError",
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
