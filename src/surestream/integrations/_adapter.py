"""What every framework adapter shares: the driver loop, failures, usage and the extra check.

Strategy: a framework's stream is read by ``adapt`` through a *mapper*, a plain object with
no I/O whose ``feed(item)`` returns the typed events an item of the framework's stream
stands for and whose ``end()`` returns the events that close it, the last one its ``Done``
(or raises ``SourceFailed``).
``adapt`` owns the rest, once for every framework: it turns an exception of the framework
into ``SourceFailed("upstream_error")`` with a safe message and logs the details, and it
closes the framework's generator in every case, so a cancelled or closed adapter cancels
the model call inside it. Mappers share two pieces of bookkeeping: ``SentText`` (what a
model call already streamed, so its final aggregate adds only the rest) and ``RunTally``
(finish reason, usage and unanswered tool calls, for the closing ``Done``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import orjson

from surestream.errors import SourceFailed
from surestream.events import (
    Done,
    ErrorCode,
    Event,
    FinishReason,
    Reasoning,
    Text,
    finish_reason_of,
)

__all__ = [
    "FAILED_MESSAGE",
    "Mapper",
    "RunTally",
    "SentText",
    "UsageTotals",
    "adapt",
    "failure",
    "json_or_text",
    "tool_output",
]

log = logging.getLogger("surestream.integrations")

FAILED_MESSAGE = "the agent failed"
"""The message a client gets when a framework raises and ``expose_errors`` is off."""

T_contra = TypeVar("T_contra", contravariant=True)


class Mapper(Protocol[T_contra]):
    """Turns one framework's stream items into typed events (sans-IO)."""

    def feed(self, item: T_contra) -> Iterable[Event]:
        """The events ``item`` stands for (often none)."""
        ...

    def end(self) -> Iterable[Event]:
        """Once the stream ended without an exception: what is left to send, then the
        closing ``Done`` (or ``SourceFailed`` when what was seen means the run failed)."""
        ...


def failure(framework: str, detail: str, *, expose_errors: bool) -> SourceFailed:
    """``SourceFailed("upstream_error")``: ``detail`` only with ``expose_errors``."""
    message = f"{FAILED_MESSAGE}: {detail}" if expose_errors else FAILED_MESSAGE
    return SourceFailed(ErrorCode.UPSTREAM_ERROR, message)


async def adapt(
    source: AsyncIterable[T_contra],
    mapper: Mapper[T_contra],
    *,
    framework: str,
    expose_errors: bool,
) -> AsyncGenerator[Event, None]:
    """The events of ``source`` through ``mapper``, then those of ``mapper.end()``.

    An exception of ``source`` is logged (with its traceback, to the
    ``surestream.integrations`` logger) and raised as ``SourceFailed("upstream_error")``.
    ``source`` is closed (``aclose``) whatever happens, also when this generator is
    cancelled or closed early.
    """
    iterator = aiter(source)
    try:
        async for item in iterator:
            for event in mapper.feed(item):
                yield event
    except SourceFailed:
        raise
    except Exception as exc:
        log.exception("%s run failed; the stream ends with upstream_error", framework)
        raise failure(
            framework, f"{type(exc).__name__}: {exc}", expose_errors=expose_errors
        ) from None
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
    for event in mapper.end():
        yield event


class UsageTotals:
    """Token counts summed over the model calls of one run, in OpenAI's names."""

    __slots__ = ("_totals",)

    def __init__(self) -> None:
        self._totals: dict[str, int] = {}

    def add(self, prompt: int | None, completion: int | None, total: int | None = None) -> None:
        """Add one model call's counts (None: unknown)."""
        for key, value in (
            ("prompt_tokens", prompt),
            ("completion_tokens", completion),
            ("total_tokens", total),
        ):
            if isinstance(value, int):
                self._totals[key] = self._totals.get(key, 0) + value

    def mapping(self) -> Mapping[str, Any] | None:
        """The totals for ``Done.usage``, or None when no call reported any."""
        return dict(self._totals) if self._totals else None


class SentText:
    """Per model call (any hashable key), the text and reasoning streamed so far."""

    __slots__ = ("_sent",)

    def __init__(self) -> None:
        self._sent: dict[tuple[Any, bool], str] = {}

    def partial(self, key: Any, text: str, *, reasoning: bool = False) -> Text | Reasoning:
        """Record a streamed piece and return its event."""
        slot = (key, reasoning)
        self._sent[slot] = self._sent.get(slot, "") + text
        return Reasoning(text) if reasoning else Text(text)

    def rest(self, key: Any, whole: str, *, reasoning: bool = False) -> Text | Reasoning | None:
        """The final aggregate of one kind of a call: only what its pieces did not send (all
        of it when none were streamed), None when nothing is left; that kind is forgotten."""
        sent = self._sent.pop((key, reasoning), "")
        rest = whole[len(sent) :] if whole.startswith(sent) else ("" if sent else whole)
        if not rest:
            return None
        return Reasoning(rest) if reasoning else Text(rest)

    def whole(self, key: Any, text: str, reasoning: str = "") -> Iterator[Text | Reasoning]:
        """``rest`` of a call's whole reasoning, then of its whole text."""
        for event in (self.rest(key, reasoning, reasoning=True), self.rest(key, text)):
            if event is not None:
                yield event


class RunTally:
    """What the closing ``Done`` of a run needs: the last model call's finish reason, the
    usage of all calls, and the tool calls no result answered (then the run waits for them:
    ``tool_calls``)."""

    __slots__ = ("_finish", "_pending", "usage")

    def __init__(self) -> None:
        self._finish: str = FinishReason.STOP
        self._pending: set[str] = set()
        self.usage = UsageTotals()

    def called(self, call_id: str) -> None:
        """A complete tool call was sent."""
        self._pending.add(call_id)

    def answered(self, call_id: str) -> None:
        """A tool result was sent."""
        self._pending.discard(call_id)

    def finished(self, raw_reason: object) -> None:
        """A model call ended with this (provider-spelled) reason."""
        reason = finish_reason_of(raw_reason)
        self._finish = FinishReason.STOP if reason in (None, FinishReason.TOOL_CALLS) else reason

    def done(self) -> Done:
        """The closing ``Done``."""
        reason = FinishReason.TOOL_CALLS if self._pending else self._finish
        return Done(reason, self.usage.mapping())


def json_or_text(value: Any) -> Any:
    """A tool's output: JSON text parsed, anything else as it is."""
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value if isinstance(value, str) else value.decode(errors="replace")
    return value


def tool_output(value: Any, text: Any) -> Any:
    """A tool's output for ``ToolResult``: its own return ``value`` when that is plain JSON
    data, else its ``text`` form (parsed when it is JSON)."""
    return value if _plain_json(value) else json_or_text(text)


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False
