"""The exception tree of surestream, in one place.

Strategy: stream *outcomes* are data (``surestream.events.Done`` / ``Error``), not
exceptions. Exceptions are for misuse and for broken peers, split by whose fault it is, and
for the rest by *closed* (we ended it: asking more of it is a mistake) or *broken* (it
happened to us: retrying may help)::

    SurestreamError                   base of everything we raise
    ├── LocalProtocolError            the caller asked for something the protocol cannot say
    │                                 (also a ValueError: an ``id`` with a line break, ...)
    ├── RemoteProtocolError           the peer sent something we cannot accept
    │   ├── SSEProtocolError          an SSE byte stream broke a limit of the Decoder
    │   └── ChunkedError              an HTTP/1.1 chunked body with broken framing (client)
    ├── SourceFailed                  raised by an event source to end its stream with an
    │                                 ``error`` event of a chosen code (e.g. upstream_error)
    ├── StreamError                   raised by the client only when the caller asks for text
    │   ├── StreamFailed              the stream ended with an ``error`` event
    │   └── StreamInterrupted         broken: the connection ended without a terminal event
    ├── StreamNotFound                no journal by that id (HTTP 404); also a LookupError
    ├── StreamExpired                 the journal's retention ran out (HTTP 410); LookupError
    ├── InvalidResumePoint            a Last-Event-ID that is no seq or lies in the future
    │                                 (HTTP 400); also a ValueError
    ├── StreamExists                  ``create`` with an id already used
    ├── JournalClosed                 closed: ``append`` after the terminal event
    ├── JournalFull                   ``append`` past ``max_events``; it can still be ended
    ├── TooManySubscribers            a stream has its limit of readers, all processes (429)
    ├── StoreUnavailable              broken: the store (Redis) could not be reached (503)
    ├── HubClosed                     closed: ``Hub.start`` after ``aclose`` (shutdown, 503)
    ├── UpstreamHTTPError             the model provider refused before the first token
    ├── SettingsError                 a gateway setting has a wrong value
    ├── MissingExtra                  a layer imported without its extra (an ImportError)
    └── ApiError                      an HTTP error answer of the gateway (status, code)

The classes are defined here and re-exported where they are used (``surestream.store``,
``surestream.hub``, ``surestream.client``, ``surestream.upstream``, the gateway), so
``except surestream.errors.X`` and ``except surestream.store.X`` catch the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = [
    "ApiError",
    "ChunkedError",
    "ErrorEvent",
    "HubClosed",
    "InvalidResumePoint",
    "JournalClosed",
    "JournalFull",
    "LocalProtocolError",
    "MissingExtra",
    "RemoteProtocolError",
    "SSEProtocolError",
    "SettingsError",
    "SourceFailed",
    "StoreUnavailable",
    "StreamError",
    "StreamExists",
    "StreamExpired",
    "StreamFailed",
    "StreamInterrupted",
    "StreamNotFound",
    "SurestreamError",
    "TooManySubscribers",
    "UpstreamHTTPError",
]


class SurestreamError(Exception):
    """Base class of every exception surestream raises."""


# -- protocol errors, by whose fault ---------------------------------------------------------


class LocalProtocolError(SurestreamError, ValueError):
    """The caller asked to encode something the wire format cannot carry."""


class RemoteProtocolError(SurestreamError):
    """The peer sent bytes that break the protocol or one of our limits."""


class SSEProtocolError(RemoteProtocolError):
    """An SSE byte stream exceeded a Decoder limit; the message names the limit."""


class ChunkedError(RemoteProtocolError):
    """The peer's chunked body framing is malformed."""


# -- the producing side ------------------------------------------------------------------------


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


# -- the consuming side ------------------------------------------------------------------------


class StreamError(SurestreamError):
    """A stream did not end with ``done``."""


class ErrorEvent(Protocol):
    """What ``StreamFailed`` keeps: an ``error`` event (a ``surestream.events.Error``, which
    this bottom module cannot import)."""

    @property
    def code(self) -> str:
        """The error code (an ``ErrorCode`` value)."""
        ...

    @property
    def message(self) -> str:
        """A message safe to show."""
        ...

    @property
    def retryable(self) -> bool:
        """Whether the client may try again."""
        ...


class StreamFailed(StreamError):
    """The stream ended with an ``error`` event, kept as ``error``."""

    def __init__(self, error: ErrorEvent) -> None:
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


# -- journals, their store and the hub -------------------------------------------------------


class StreamNotFound(SurestreamError, LookupError):
    """No stream with this id exists (or it expired so long ago that no tombstone is left)."""


class StreamExpired(SurestreamError, LookupError):
    """The stream existed but its journal expired (``retention`` after its terminal event)."""


class InvalidResumePoint(SurestreamError, ValueError):
    """A resume point (``Last-Event-ID``) that is not a decimal number or lies in the future."""


class StreamExists(SurestreamError):
    """``create`` was called with an id that is already in use."""


class JournalClosed(SurestreamError):
    """The journal already has its terminal event; nothing more can be appended."""


class JournalFull(SurestreamError):
    """The journal holds ``max_events - 1`` events or ``max_bytes`` bytes; only a terminal
    event may follow."""


class TooManySubscribers(SurestreamError):
    """``join`` refused: the stream has its ``limit`` of readers across every process."""


class StoreUnavailable(SurestreamError):
    """The store (Redis) did not answer within its timeout, refused the connection, or
    answered with an error (full under ``noeviction``, a read-only replica)."""


class HubClosed(SurestreamError, RuntimeError):
    """``start`` after ``aclose``: the server is shutting down."""


# -- the gateway and its upstreams ------------------------------------------------------------


class UpstreamHTTPError(SurestreamError):
    """The upstream refused the request before the first token.

    ``status`` is the HTTP status *the gateway* should answer with (not the upstream's, which
    is ``upstream_status``, None when no response came): 429 -> 429 keeping ``retry_after``
    (seconds); 400/422 -> 400 with the upstream's message; 413 -> 413; 401/403/404 -> 502
    (our configuration is wrong, not the user's request); 408/504, connect errors and
    timeouts -> 504; other statuses -> 502. ``code`` names the failure for the JSON error
    body; ``message`` is safe to show.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after: float | None = None,
        *,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.upstream_status = upstream_status

    @property
    def stream_code(self) -> str:
        """The ``error`` event code for this refusal when it must end a stream instead (an
        ``ErrorCode`` value, spelt out: ``surestream.events`` sits above this module)."""
        if self.status == 429:
            return "rate_limited"
        if self.status == 504:
            return "upstream_timeout"
        return "upstream_error"

    def __repr__(self) -> str:
        return f"UpstreamHTTPError({self.status}, {self.code!r}, {self.message!r})"


class SettingsError(SurestreamError):
    """A setting has a wrong value; the message says which, where from, and why."""


class MissingExtra(SurestreamError, ImportError):
    """A layer was imported without the extra that installs its dependencies."""

    def __init__(self, what: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{what} needs the [{extra}] extra (no module {missing!r}): "
            f"pip install 'surestream[{extra}]'",
            name=missing,
        )
        self.extra = extra


class ApiError(SurestreamError):
    """An HTTP error answer: ``status``, a stable ``code``, a ``message`` safe to show."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
