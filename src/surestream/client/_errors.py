"""The exceptions of the client: raised only when the caller asks for the text of a stream.

Strategy: how a stream ended is data (``EventStream.outcome``); these turn an outcome that is
not ``done`` into an exception for callers who just want the answer. They sit in the tree of
``surestream.errors`` under ``SurestreamError``::

    StreamError              a stream did not end with ``done``
    ├── StreamFailed         it ended with an ``error`` event (``.error``)
    └── StreamInterrupted    it ended without a terminal event and could not be resumed
"""

from __future__ import annotations

from surestream.errors import StreamError, StreamFailed, StreamInterrupted

__all__ = ["StreamError", "StreamFailed", "StreamInterrupted"]
