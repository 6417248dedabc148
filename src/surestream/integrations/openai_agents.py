"""The OpenAI Agents SDK's streamed run as surestream's typed events.

``pip install 'surestream[openai-agents]'``. Strategy: ``AgentsMapper`` reads
``RunResultStreaming.stream_events()`` (sans-IO). The raw Responses-API events carry the
stream: ``response.created`` opens a model call (a ``Step`` named after the current agent),
text and reasoning deltas follow, a function call announces itself in
``response.output_item.added`` (id and name) and streams its arguments keyed by
``output_index`` (item ids are placeholders over Chat Completions models). The run items
that follow repeat all of it: ``message_output_created`` / ``reasoning_item_created`` add
only what the deltas did not send, and ``tool_called`` / ``handoff_requested`` give the one
complete ``ToolCall``, ``tool_output`` / ``handoff_occured`` the ``ToolResult``. The SDK
runs the agent in a task of its own, so closing the adapter cancels the run
(``RunResultStreaming.cancel()``) before it closes the event iterator.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import Any

from surestream._extras import require

require("openai-agents", __name__)

from agents import (  # noqa: E402
    AgentUpdatedStreamEvent,
    RawResponsesStreamEvent,
    RunItemStreamEvent,
    RunResultStreaming,
    StreamEvent,
)
from agents.tool import default_tool_error_function  # noqa: E402

from surestream.events import (  # noqa: E402
    Done,
    Event,
    FinishReason,
    Step,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from surestream.integrations._adapter import (  # noqa: E402
    RunTally,
    SentText,
    adapt,
    json_or_text,
    tool_output,
)

__all__ = ["DEFAULT_TOOL_ERROR", "AgentsMapper", "openai_agents_events"]

DEFAULT_TOOL_ERROR: str = default_tool_error_function(None, Exception())  # type: ignore[arg-type]
"""What the SDK tells the model when a tool raises (its default ``failure_error_function``):
a tool output equal to it is the tool's failure, a ``ToolResult`` with this ``error``."""

_REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)
_INCOMPLETE: dict[str, str] = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


class AgentsMapper:
    """Agents SDK stream events -> typed events (see the module)."""

    __slots__ = ("_agent", "_call", "_calls_by_index", "_sent", "_tally")

    def __init__(self, agent: str | None = None) -> None:
        self._agent = agent
        self._call = 0
        self._calls_by_index: dict[int, str] = {}
        self._sent = SentText()
        self._tally = RunTally()

    def feed(self, event: StreamEvent) -> Iterator[Event]:
        """The typed events of one SDK stream event."""
        if isinstance(event, AgentUpdatedStreamEvent):
            self._agent = event.new_agent.name
        elif isinstance(event, RawResponsesStreamEvent):
            yield from self._raw(event.data)
        elif isinstance(event, RunItemStreamEvent):
            yield from self._item(
                event.name, event.item.raw_item, getattr(event.item, "output", None)
            )

    def _raw(self, data: Any) -> Iterator[Event]:
        kind = data.type
        if kind == "response.created":
            self._call += 1
            self._calls_by_index.clear()
            yield Step(self._agent)
        elif kind == "response.output_text.delta" and data.delta:
            yield self._sent.partial(self._call, data.delta)
        elif kind in _REASONING_DELTAS and data.delta:
            yield self._sent.partial(self._call, data.delta, reasoning=True)
        elif kind == "response.output_item.added" and data.item.type == "function_call":
            self._calls_by_index[data.output_index] = data.item.call_id
            yield ToolCallStart(data.item.call_id, data.item.name)
        elif kind == "response.function_call_arguments.delta" and data.delta:
            call_id = self._calls_by_index.get(data.output_index)
            if call_id is not None:
                yield ToolCallDelta(call_id, data.delta)
        elif kind == "response.completed":
            self._completed(data.response)

    def _completed(self, response: Any) -> None:
        details = response.incomplete_details
        reason = getattr(details, "reason", None) if details is not None else None
        self._tally.finished(_INCOMPLETE.get(str(reason), "stop"))
        usage = response.usage
        if usage is not None:
            self._tally.usage.add(usage.input_tokens, usage.output_tokens, usage.total_tokens)

    def _item(self, name: str, raw: Any, output: Any) -> Iterator[Event]:
        if name in ("message_output_created", "reasoning_item_created"):
            reasoning = name == "reasoning_item_created"
            parts = [*(raw.summary or []), *(raw.content or [])] if reasoning else raw.content
            whole = "".join(getattr(part, "text", "") or "" for part in parts)
            rest = self._sent.rest(self._call, whole, reasoning=reasoning)
            if rest is not None:
                yield rest
        elif name in ("tool_called", "handoff_requested") and raw.type == "function_call":
            self._tally.called(raw.call_id)
            yield ToolCall(raw.call_id, raw.name, json_or_text(raw.arguments or "{}"))
        elif name in ("tool_output", "handoff_occured") and isinstance(raw, Mapping):
            call_id = str(raw.get("call_id") or "")
            self._tally.answered(call_id)
            text = raw.get("output")
            if text == DEFAULT_TOOL_ERROR:
                yield ToolResult(call_id, error=DEFAULT_TOOL_ERROR)
            else:
                yield ToolResult(call_id, tool_output(output, text))

    def end(self) -> Iterator[Done]:
        """``Done`` with the last model call's finish reason and the run's usage."""
        yield self._tally.done()


async def _cancelling(result: RunResultStreaming) -> AsyncIterator[StreamEvent]:
    """``result.stream_events()``; leaving early cancels the run first (the SDK would wait
    for the run to finish before its iterator closes)."""
    events = result.stream_events()
    try:
        async for event in events:
            yield event
    finally:
        if not result.is_complete:
            result.cancel()
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


async def openai_agents_events(
    result: RunResultStreaming, *, expose_errors: bool = False
) -> AsyncGenerator[Event, None]:
    """The typed events of ``Runner.run_streamed(agent, input)``, ending with ``Done``.

    Each model call is a ``Step`` named after the agent that makes it; text and reasoning
    deltas become ``Text`` / ``Reasoning``; a function call ``ToolCallStart`` and
    ``ToolCallDelta`` s as its arguments stream, then the one complete ``ToolCall`` (the run
    items that repeat the streamed content are not sent again); a tool's output (or a
    handoff's) ``ToolResult``, with the tool's return value when it is JSON data. A tool that
    raised shows as the SDK's default failure message in a ``ToolResult`` ``error``.
    ``Done`` carries ``length`` / ``content_filter`` when the last response was incomplete
    for that reason, ``tool_calls`` when a call was left unanswered, and the usage of all
    calls. An exception of the run (``MaxTurnsExceeded``, a guardrail, the model's error)
    raises ``SourceFailed("upstream_error")``; closing this generator cancels the run.
    """
    mapper = AgentsMapper(result.current_agent.name)
    async for event in adapt(
        _cancelling(result), mapper, framework="openai-agents", expose_errors=expose_errors
    ):
        yield event
