"""pydantic-ai's ``run_stream_events`` as surestream's typed events.

``pip install 'surestream[pydantic-ai]'``. Strategy: ``PydanticAIMapper`` reads the run's
events (sans-IO). Parts stream as ``PartStartEvent`` (which already holds the first piece)
and ``PartDeltaEvent`` s; ``PartEndEvent`` repeats the whole part and is not sent again. A
model call has no event of its own: the first part after the start of the run or after a
tool's result opens one (a ``Step``). ``FunctionToolCallEvent`` is the complete call,
``FunctionToolResultEvent`` its result (a retry prompt, or an outcome pydantic-ai counts as
an error, is the tool's failure as data). ``AgentRunResultEvent`` comes last and carries the
last response's finish reason and the run's usage; a stream that ends without it did not
finish.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from surestream._extras import require

require("pydantic-ai", __name__)

from pydantic_ai import (  # noqa: E402
    AgentRunResultEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    RetryPromptPart,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
    ToolReturnPart,
)

from surestream.errors import SourceFailed  # noqa: E402
from surestream.events import (  # noqa: E402
    Done,
    ErrorCode,
    Event,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from surestream.integrations._adapter import RunTally, adapt, tool_output  # noqa: E402

__all__ = ["NO_RESULT_MESSAGE", "PydanticAIMapper", "pydantic_ai_events"]

NO_RESULT_MESSAGE = "the agent's run ended without its result"
"""The ``upstream_truncated`` message of a run whose events end before ``AgentRunResultEvent``."""

_FAILED_OUTCOMES = frozenset({"failed", "retried"})


class PydanticAIMapper:
    """pydantic-ai run events -> typed events (see the module)."""

    __slots__ = ("_calls", "_finished", "_in_call", "_name", "_tally")

    def __init__(self, name: str | None = None) -> None:
        self._name = name
        self._in_call = False
        self._calls: dict[int, str] = {}
        self._finished = False
        self._tally = RunTally()

    def feed(self, event: Any) -> Iterator[Event]:
        """The typed events of one run event."""
        if isinstance(event, PartStartEvent):
            if not self._in_call:
                self._in_call = True
                self._calls.clear()
                yield Step(self._name)
            yield from self._start(event.index, event.part)
        elif isinstance(event, PartDeltaEvent):
            yield from self._delta(event.index, event.delta)
        elif isinstance(event, FunctionToolCallEvent):
            part = event.part
            self._tally.called(part.tool_call_id)
            yield ToolCall(part.tool_call_id, part.tool_name, part.args_as_dict())
        elif isinstance(event, FunctionToolResultEvent):
            self._in_call = False
            yield self._result(event.part)
        elif isinstance(event, AgentRunResultEvent):
            self._finished = True
            result = event.result
            self._tally.finished(result.response.finish_reason)
            usage = result.usage
            self._tally.usage.add(
                usage.input_tokens, usage.output_tokens, usage.input_tokens + usage.output_tokens
            )

    def _start(self, index: int, part: Any) -> Iterator[Event]:
        if isinstance(part, TextPart) and part.content:
            yield Text(part.content)
        elif isinstance(part, ThinkingPart) and part.content:
            yield Reasoning(part.content)
        elif isinstance(part, ToolCallPart):
            self._calls[index] = part.tool_call_id
            yield ToolCallStart(part.tool_call_id, part.tool_name)
            args = part.args if isinstance(part.args, str) else part.args_as_json_str()
            if part.args and args:
                yield ToolCallDelta(part.tool_call_id, args)

    def _delta(self, index: int, delta: Any) -> Iterator[Event]:
        if isinstance(delta, TextPartDelta) and delta.content_delta:
            yield Text(delta.content_delta)
        elif isinstance(delta, ThinkingPartDelta) and delta.content_delta:
            yield Reasoning(delta.content_delta)
        elif isinstance(delta, ToolCallPartDelta) and isinstance(delta.args_delta, str):
            call_id = self._calls.get(index)
            if call_id is not None and delta.args_delta:
                yield ToolCallDelta(call_id, delta.args_delta)

    def _result(self, part: Any) -> ToolResult:
        self._tally.answered(part.tool_call_id)
        if isinstance(part, RetryPromptPart):
            error = part.content if isinstance(part.content, str) else part.model_response()
            return ToolResult(part.tool_call_id, error=error)
        if isinstance(part, ToolReturnPart) and part.outcome in _FAILED_OUTCOMES:
            return ToolResult(part.tool_call_id, error=part.model_response_str(wrap_if_error=False))
        text = part.model_response_str() if isinstance(part, ToolReturnPart) else None
        return ToolResult(part.tool_call_id, tool_output(part.content, text))

    def end(self) -> Iterator[Done]:
        """``Done`` with the last response's finish reason and the run's usage."""
        if not self._finished:
            raise SourceFailed(ErrorCode.UPSTREAM_TRUNCATED, NO_RESULT_MESSAGE)
        yield self._tally.done()


async def _entered(
    run: AbstractAsyncContextManager[AsyncIterable[Any]] | AsyncIterable[Any],
) -> AsyncIterator[Any]:
    """The events of ``run``, entering it first when it is a context manager (2.x), whose
    exit cancels the run when the stream ends early."""
    if isinstance(run, AbstractAsyncContextManager):
        async with run as events:
            async for event in events:
                yield event
        return
    iterator = aiter(run)
    try:
        async for event in iterator:
            yield event
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


async def pydantic_ai_events(
    run: AbstractAsyncContextManager[AsyncIterable[Any]] | AsyncIterable[Any],
    *,
    name: str | None = None,
    expose_errors: bool = False,
) -> AsyncGenerator[Event, None]:
    """The typed events of ``agent.run_stream_events(...)``, ending with ``Done``.

    ``run`` is what ``run_stream_events`` returns (the async context manager, not entered;
    an async iterable of the same events also works). Each model call is a ``Step`` (named
    ``name``, e.g. the agent's name); text and thinking parts and their deltas become
    ``Text`` / ``Reasoning``; a tool-call part ``ToolCallStart`` and ``ToolCallDelta`` s, then
    ``FunctionToolCallEvent`` the complete ``ToolCall``; ``FunctionToolResultEvent`` the
    ``ToolResult`` (a ``ModelRetry`` or a failed call: ``error``). ``Done`` carries the last
    response's finish reason (``tool_calls`` when a call was left unanswered, e.g. deferred
    tools) and the run's usage. An exception of the run raises
    ``SourceFailed("upstream_error")``; events that end before the run's result raise
    ``SourceFailed("upstream_truncated")``. Closing this generator cancels the run.
    """
    async for event in adapt(
        _entered(run), PydanticAIMapper(name), framework="pydantic-ai", expose_errors=expose_errors
    ):
        yield event
