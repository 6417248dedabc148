"""What every upstream (a source of model tokens) provides, and the errors it raises.

Strategy: generation is two-phased so that the gateway can tell "the request was refused"
from "the answer broke off":

1. ``opened = await upstream.open(request)`` sends the request and waits for the upstream's
   verdict on it. A refusal *before the first token* raises ``UpstreamHTTPError`` carrying
   the HTTP status the gateway should answer with (``retry_after`` kept for 429), so the
   create call fails with a plain JSON error and no stream is ever made.
2. ``async for event in opened`` yields ``Text`` (and ``Status`` / ``Data`` if the upstream
   has any) and, last, exactly one ``Done(finish_reason, usage)``. A failure after this point
   raises ``SourceFailed(code, safe message)`` with ``code`` one of ``upstream_error``,
   ``upstream_timeout``, ``upstream_truncated``: the stream then ends with that ``error``.
3. ``await opened.aclose()`` releases the upstream request (closing its HTTP connection when
   it is still streaming); it is idempotent and safe at any moment, e.g. when our own stream
   is cancelled. ``OpenedStream`` is also an async context manager that does this.

Requests (``ChatRequest``, ``ChatMessage``) live in ``surestream.upstream.request`` and are
re-exported here. Messages shown to users (``UpstreamHTTPError.message``, ``SourceFailed``)
are made by ``safe_message``: one line, bounded, never a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from surestream.errors import SourceFailed, UpstreamHTTPError
from surestream.events import Done, Event
from surestream.upstream.request import ChatMessage, ChatRequest

__all__ = [
    "DEFAULT_MESSAGE_LIMIT",
    "ChatMessage",
    "ChatRequest",
    "ModelInfo",
    "OpenedStream",
    "Upstream",
    "UpstreamHTTPError",
    "generate",
    "safe_message",
]

DEFAULT_MESSAGE_LIMIT = 300
"""Longest message (in characters) taken from an upstream into a user-visible error."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model an upstream serves, by the name clients use (``/v1/models`` entries)."""

    id: str
    owned_by: str = "surestream"

    def to_json(self) -> dict[str, Any]:
        """The OpenAI ``model`` object."""
        return {"id": self.id, "object": "model", "created": 0, "owned_by": self.owned_by}


@runtime_checkable
class OpenedStream(Protocol):
    """An accepted upstream request: iterate it for events, ``aclose()`` to release it."""

    def __aiter__(self) -> AsyncIterator[Event]:
        """The events: ``Text`` / ``Status`` / ``Data``, then one ``Done``; failures raise
        ``SourceFailed``."""
        ...

    async def aclose(self) -> None:
        """Release the upstream request (idempotent)."""
        ...

    async def __aenter__(self) -> OpenedStream:
        """Return self."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """``aclose()``."""
        ...


@runtime_checkable
class Upstream(Protocol):
    """Where tokens come from: the built-in ``DemoModel`` or an HTTP model server."""

    async def open(self, request: ChatRequest) -> OpenedStream:
        """Send ``request``; raise ``UpstreamHTTPError`` if it is refused before any token."""
        ...

    async def models(self) -> list[ModelInfo]:
        """The models this upstream serves, by the names clients use."""
        ...

    async def aclose(self) -> None:
        """Release what the upstream owns (its HTTP client); idempotent."""
        ...


async def generate(upstream: Upstream, request: ChatRequest) -> AsyncIterator[Event]:
    """Open, stream and always close: an event source for a stream that already exists.

    A refusal before the first token becomes ``SourceFailed`` with
    ``UpstreamHTTPError.stream_code`` (for callers that have already answered 200).
    """
    try:
        opened = await upstream.open(request)
    except UpstreamHTTPError as exc:
        raise SourceFailed(exc.stream_code, exc.message) from None
    async with opened:
        async for event in opened:
            yield event
            if isinstance(event, Done):
                return


def safe_message(
    text: object, *, limit: int = DEFAULT_MESSAGE_LIMIT, secrets: Iterable[str | None] = ()
) -> str:
    """``text`` made fit for a user: first line only, ``secrets`` masked, at most ``limit``
    characters (a traceback or a multi-line dump never gets through)."""
    raw = text if isinstance(text, str) else "" if text is None else str(text)
    line = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    for secret in secrets:
        if secret:
            line = line.replace(secret, "***")
    if len(line) > limit:
        line = line[: max(limit - 3, 0)].rstrip() + "..."
    return line
