"""The failure -> verdict table: how every way a stream can end, other than its source's own
terminal event, becomes the one terminal event. Sans-IO.
"""

from __future__ import annotations

import enum

from surestream.errors import SourceFailed
from surestream.events import RETRYABLE, Done, Error, ErrorCode, FinishReason

__all__ = ["Ending", "failure_verdict", "verdict"]


class Ending(enum.Enum):
    """Every way a stream ends other than with its source's own terminal event."""

    SOURCE_ENDED = "source_ended"
    """The source ran out without a terminal event: ``done`` ``stop``."""
    SOURCE_LOST = "source_lost"
    """The source stopped and nothing ended the stream (a bug): ``error`` ``internal_error``."""
    JOURNAL_FULL = "journal_full"
    """The journal reached ``max_events``: ``done`` ``length``."""
    CANCELLED = "cancelled"
    """Someone cancelled the stream: ``done`` ``cancelled``."""
    ORPHANED = "orphaned"
    """No subscriber anywhere for ``orphan_grace``: ``done`` ``cancelled``."""
    SHUTDOWN = "shutdown"
    """The server shuts down: ``error`` ``server_shutdown`` (retryable)."""
    PRODUCER_LOST = "producer_lost"
    """The producer's lease ran out (its process died): ``error`` ``producer_lost``."""
    MAX_DURATION = "max_duration"
    """The stream ran for ``max_duration``: ``error`` ``max_duration``."""
    IDLE = "idle"
    """The source sent nothing for ``idle_timeout``: ``error`` ``idle_timeout``."""
    FIRST_EVENT = "first_event"
    """No first event within ``first_event_timeout``: ``error`` ``first_event_timeout``."""


_INTERNAL_ERROR = Error.of(ErrorCode.INTERNAL_ERROR, "internal error")
_FIXED: dict[Ending, Done | Error] = {
    Ending.SOURCE_ENDED: Done(),
    Ending.SOURCE_LOST: _INTERNAL_ERROR,
    Ending.JOURNAL_FULL: Done(FinishReason.LENGTH),
    Ending.CANCELLED: Done(FinishReason.CANCELLED),
    Ending.ORPHANED: Done(FinishReason.CANCELLED),
    Ending.SHUTDOWN: Error.of(ErrorCode.SERVER_SHUTDOWN, "the server is shutting down"),
    Ending.PRODUCER_LOST: Error.of(
        ErrorCode.PRODUCER_LOST, "the process generating this stream stopped"
    ),
}


def verdict(ending: Ending, limit: float | None = None) -> Done | Error:
    """The terminal event for ``ending``; ``limit`` (seconds) for the three time limits."""
    fixed = _FIXED.get(ending)
    if fixed is not None:
        return fixed
    if limit is None:
        raise ValueError(f"the verdict for {ending.name} needs its limit")
    if ending is Ending.MAX_DURATION:
        return Error.of(ErrorCode.MAX_DURATION, f"the stream ran for {limit:g} s")
    code = ErrorCode.IDLE_TIMEOUT if ending is Ending.IDLE else ErrorCode.FIRST_EVENT_TIMEOUT
    return Error.of(code, f"the source sent nothing for {limit:g} s")


def failure_verdict(exc: BaseException) -> Error:
    """The terminal event for a source that raised ``exc``.

    ``SourceFailed``: an ``error`` with its code and message (retryable as the code's
    documented default unless it says). Anything else: ``internal_error``, with no detail
    (the caller logs the traceback; the client never sees it).
    """
    if not isinstance(exc, SourceFailed):
        return _INTERNAL_ERROR
    retryable = exc.code in RETRYABLE if exc.retryable is None else exc.retryable
    return Error(exc.code, exc.message or exc.code.replace("_", " "), retryable)
