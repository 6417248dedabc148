"""``adk_events``: Google ADK's ``Runner.run_async`` events as surestream's typed events.

Strategy: ``AdkMapper`` reads ADK ``Event`` objects one by one (sans-IO). An ADK model call
streams ``partial`` events and then one ``partial=False`` event under the same event id that
repeats everything aggregated (``models/base_llm.py``); without streaming only that final
event comes. So per event id the mapper remembers the text and reasoning it already sent
and sends from a final event only what the partials did not (nothing, usually; everything in
``StreamingMode.NONE``). Function calls are never acted on from a fragment (ADK's own rule):
a partial call only announces itself (``ToolCallStart``), the final event carries the
``ToolCall``. An ``errorCode`` event is remembered, not ended on: ADK may retry the node
after it, and a later good event clears it; the verdict is made when the run ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterator
from typing import TYPE_CHECKING, Any

from surestream.events import Done, Event, FinishReason, Step, ToolCall, ToolCallStart, ToolResult
from surestream.integrations._adapter import (
    RunTally,
    SentText,
    adapt,
    failure,
    log,
)

if TYPE_CHECKING:
    from google.adk.events import Event as AdkEvent
    from google.genai import types

__all__ = ["CONTENT_FILTER_CODES", "AdkMapper", "adk_events"]

CONTENT_FILTER_CODES = frozenset(
    {
        "SAFETY",
        "PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
"""ADK error codes (Gemini's finish reasons) that end a run with ``Done("content_filter")``."""


def _code(value: Any) -> str | None:
    """An ADK error code (str or enum) as its plain name."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


class AdkMapper:
    """ADK ``Event`` objects -> typed events; ``end()`` gives the verdict (see the module)."""

    __slots__ = ("_current_id", "_error", "_expose_errors", "_sent", "_started_calls", "_tally")

    def __init__(self, *, expose_errors: bool = False) -> None:
        self._expose_errors = expose_errors
        self._current_id: str | None = None
        self._sent = SentText()
        self._started_calls: set[str] = set()
        self._error: tuple[str, str] | None = None
        self._tally = RunTally()

    def feed(self, event: AdkEvent) -> Iterator[Event]:
        """The typed events of one ADK event."""
        content = event.content
        parts = (content.parts if content is not None else None) or []
        if not event.partial:
            self._final(event)
        from_model = content is not None and content.role == "model"
        if parts and from_model and event.id != self._current_id:
            self._current_id = event.id
            yield Step(event.author or None)
        if event.partial:
            yield from self._partial(event.id, parts)
        else:
            yield from self._whole(event.id, parts)

    def _partial(self, event_id: str, parts: list[types.Part]) -> Iterator[Event]:
        for part in parts:
            call = part.function_call
            if part.text:
                yield self._sent.partial(event_id, part.text, reasoning=bool(part.thought))
            elif call is not None and call.id and call.id not in self._started_calls:
                self._started_calls.add(call.id)
                yield ToolCallStart(call.id, call.name or "")

    def _whole(self, event_id: str, parts: list[types.Part]) -> Iterator[Event]:
        text = "".join(p.text for p in parts if p.text and not p.thought)
        reasoning = "".join(p.text for p in parts if p.text and p.thought)
        yield from self._sent.whole(event_id, text, reasoning)
        for part in parts:
            call, response = part.function_call, part.function_response
            if call is not None:
                call_id = call.id or ""
                self._started_calls.discard(call_id)
                self._tally.called(call_id)
                yield ToolCall(call_id, call.name or "", dict(call.args or {}))
            elif response is not None:
                self._tally.answered(response.id or "")
                yield _tool_result(response.id or "", response.response)

    def _final(self, event: AdkEvent) -> None:
        """Remember what the verdict needs: the last error code, finish reason and usage."""
        error_code = _code(event.error_code)
        if error_code is not None:
            self._error = (error_code, event.error_message or "")
            return
        content = event.content
        if content is None:
            return
        self._error = None
        if content.role == "model" and event.finish_reason is not None:
            self._tally.finished(event.finish_reason)
        usage = event.usage_metadata
        if usage is not None:
            completion = [usage.candidates_token_count, usage.thoughts_token_count]
            self._tally.usage.add(
                usage.prompt_token_count,
                sum(n or 0 for n in completion) if any(n is not None for n in completion) else None,
                usage.total_token_count,
            )

    def end(self) -> Iterator[Done]:
        """The verdict of a run whose generator ended without an exception."""
        if self._error is None:
            yield self._tally.done()
            return
        code, message = self._error
        if code not in CONTENT_FILTER_CODES:
            log.error("google-adk run ended with error code %s: %s", code, message)
            raise failure("google-adk", f"{code}: {message}", expose_errors=self._expose_errors)
        yield Done(FinishReason.CONTENT_FILTER, self._tally.usage.mapping())


def _tool_result(call_id: str, response: dict[str, Any] | None) -> ToolResult:
    """ADK's convention for a tool's failure as data is a response ``{"error": "..."}``."""
    if isinstance(response, dict) and isinstance(response.get("error"), str) and response["error"]:
        return ToolResult(call_id, error=response["error"])
    return ToolResult(call_id, output=response)


async def adk_events(
    events: AsyncIterable[AdkEvent], *, expose_errors: bool = False
) -> AsyncGenerator[Event, None]:
    """The typed events of an ADK run, ending with ``Done`` (or ``SourceFailed``).

    ``events`` is ``runner.run_async(...)`` (or anything yielding ADK ``Event`` objects).
    Text parts become ``Text``, ``thought`` parts ``Reasoning``, a partial function call
    ``ToolCallStart``, the final function call ``ToolCall``, a ``functionResponse``
    ``ToolResult`` (with ``error`` when the response is ``{"error": "..."}``), and each model
    call starts with ``Step(author)``. The last ``Done`` says why the run ended:
    ``content_filter`` after a SAFETY / PROHIBITED_CONTENT / BLOCKLIST / SPII / RECITATION
    code, ``length`` after MAX_TOKENS, ``tool_calls`` when the run paused on long-running
    tools, else ``stop``; ``usage`` sums the calls' ``usage_metadata``. Any other error code
    of the last event, or an exception of the run, raises ``SourceFailed("upstream_error")``
    with the message "the agent failed" (plus the ADK error with ``expose_errors``); the
    details go to the ``surestream.integrations`` log. Closing this generator closes
    ``events``, which cancels the model call.
    """
    mapper = AdkMapper(expose_errors=expose_errors)
    async for event in adapt(events, mapper, framework="google-adk", expose_errors=expose_errors):
        yield event
