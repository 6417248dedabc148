"""The exceptions of the client: raised only when the caller asks for the text of a stream.

Strategy: how a stream ended is data (``EventStream.outcome``); these turn an outcome that is
not ``done`` into an exception for callers who just want the answer. They sit in the tree of
``surestream.errors`` under ``SurestreamError``::

    StreamError              a stream did not end with ``done``
    ├── StreamFailed         it ended with an ``error`` event (``.error``)
    └── StreamInterrupted    it ended without a terminal event and could not be resumed
"""

from __future__ import annotations

from surestream.errors import SurestreamError
from surestream.events import Error

__all__ = ["StreamError", "StreamFailed", "StreamInterrupted"]


class StreamError(SurestreamError):
    """A stream did not end with ``done``."""


class StreamFailed(StreamError):
    """The stream ended with an ``error`` event, kept as ``error``."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"stream failed: {error.code}: {error.message}")
        self.error = error


class StreamInterrupted(StreamError):
    """The connection ended without a terminal event and resuming failed.

    ``last_event_id`` is the id of the last event received (None if none had one),
    ``attempts`` the number of connections made and ``reason`` why the client stopped.
    """

    def __init__(self, last_event_id: str | None, attempts: int, reason: str) -> None:
        super().__init__(
            f"stream interrupted after {attempts} attempt(s), last event id "
            f"{last_event_id!r}: {reason}"
        )
        self.last_event_id = last_event_id
        self.attempts = attempts
        self.reason = reason
