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

from surestream.events import (
    Done,
    Event,
    FinishReason,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallStart,
    ToolResult,
)
from surestream.integrations._adapter import UsageTotals, adapt, failure, log

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
"""ADK / Gemini codes that end a stream with ``Done("content_filter")``, not an error."""


_FINISH: dict[str, str] = {
    "MAX_TOKENS": FinishReason.LENGTH,
    **{code: FinishReason.CONTENT_FILTER for code in CONTENT_FILTER_CODES},
}


def _code(value: Any) -> str | None:
    """An ADK error code or finish reason (str or enum) as its plain name."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


class AdkMapper:
    """ADK ``Event`` objects -> typed events; ``end()`` gives the verdict (see the module)."""

    __slots__ = (
        "_current_id",
        "_error",
        "_expose_errors",
        "_finish",
        "_pending_long_running",
        "_sent_reasoning",
        "_sent_text",
        "_started_calls",
        "_usage",
    )

    def __init__(self, *, expose_errors: bool = False) -> None:
        self._expose_errors = expose_errors
        self._current_id: str | None = None
        self._sent_text: dict[str, str] = {}
        self._sent_reasoning: dict[str, str] = {}
        self._started_calls: set[str] = set()
        self._pending_long_running: set[str] = set()
        self._error: tuple[str, str] | None = None
        self._finish: str = FinishReason.STOP
        self._usage = UsageTotals()

    def feed(self, event: AdkEvent) -> Iterator[Event]:
        """The typed events of one ADK event."""
        content = event.content
        parts = (content.parts if content is not None else None) or []
        if not event.partial:
            self._final(event)
        if (
            parts
            and content is not None
            and content.role == "model"
            and event.id != self._current_id
        ):
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
                sent = self._sent_reasoning if part.thought else self._sent_text
                sent[event_id] = sent.get(event_id, "") + part.text
                yield Reasoning(part.text) if part.thought else Text(part.text)
            elif call is not None and call.id and call.id not in self._started_calls:
                self._started_calls.add(call.id)
                yield ToolCallStart(call.id, call.name or "")

    def _whole(self, event_id: str, parts: list[types.Part]) -> Iterator[Event]:
        whole_text = "".join(p.text for p in parts if p.text and not p.thought)
        whole_reasoning = "".join(p.text for p in parts if p.text and p.thought)
        reasoning = _unsent(whole_reasoning, self._sent_reasoning.pop(event_id, ""))
        if reasoning:
            yield Reasoning(reasoning)
        text = _unsent(whole_text, self._sent_text.pop(event_id, ""))
        if text:
            yield Text(text)
        for part in parts:
            call, response = part.function_call, part.function_response
            if call is not None:
                call_id = call.id or ""
                self._started_calls.discard(call_id)
                yield ToolCall(call_id, call.name or "", dict(call.args or {}))
            elif response is not None:
                self._pending_long_running.discard(response.id or "")
                yield _tool_result(response.id or "", response.response)

    def _final(self, event: AdkEvent) -> None:
        """Remember what the verdict needs: errors, finish reason, usage, paused tools."""
        error_code = _code(event.error_code)
        if error_code is not None:
            self._error = (error_code, event.error_message or "")
            return
        content = event.content
        if content is None and not event.long_running_tool_ids:
            return
        self._error = None
        if event.long_running_tool_ids:
            self._pending_long_running.update(event.long_running_tool_ids)
        reason = _code(event.finish_reason)
        if content is not None and content.role == "model" and reason is not None:
            self._finish = _FINISH.get(reason, FinishReason.STOP)
        usage = event.usage_metadata
        if usage is not None:
            self._usage.add(
                usage.prompt_token_count,
                (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
                if usage.candidates_token_count is not None
                or usage.thoughts_token_count is not None
                else None,
                usage.total_token_count,
            )

    def end(self) -> Done:
        """The verdict of a run whose generator ended without an exception."""
        usage = self._usage.mapping()
        if self._error is not None:
            code, message = self._error
            if code in CONTENT_FILTER_CODES:
                return Done(FinishReason.CONTENT_FILTER, usage)
            log.error("google-adk run ended with error code %s: %s", code, message)
            raise failure("google-adk", f"{code}: {message}", expose_errors=self._expose_errors)
        if self._pending_long_running:
            return Done(FinishReason.TOOL_CALLS, usage)
        return Done(self._finish, usage)


def _unsent(whole: str, sent: str) -> str:
    """What of a final event's ``whole`` text the partials did not send already."""
    if whole.startswith(sent):
        return whole[len(sent) :]
    return "" if sent else whole


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
