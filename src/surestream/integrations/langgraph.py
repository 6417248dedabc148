"""LangGraph / LangChain streams as surestream's typed events.

``pip install 'surestream[langgraph]'``. Strategy: two mappers over the two streams people
serve, sans-IO like every mapper.

- ``EventsMapper`` reads ``astream_events(version="v2")``: ``on_chat_model_start`` opens a
  model call (a ``Step`` named after the graph node), its ``on_chat_model_stream`` chunks
  carry text, reasoning and tool-call fragments, and ``on_chat_model_end`` repeats the whole
  message: from it only what the chunks did not send is taken (everything, for a model that
  does not stream), plus the complete ``ToolCall`` s, the finish reason and the usage.
  Tool-call fragments are keyed by the model run and the fragment's ``index``: only the first
  fragment of a call carries its id and name. ``on_tool_end`` gives the ``ToolResult``
  (``status="error"``: the tool's failure as data); ``on_tool_error`` a ``ToolResult`` with an
  error before the run raises.
- ``MessagesMapper`` reads ``astream(stream_mode="messages")``: ``(message, metadata)``
  pairs, where the chunks of one model call share a message id. Nothing repeats them, so the
  mapper adds the chunks up itself and sends the complete ``ToolCall`` s when the call ends
  (its ``chunk_position="last"`` chunk, a tool message, or the end of the stream).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterator, Mapping
from typing import Any

from surestream._extras import require

require("langgraph", __name__)

from langchain_core.messages import (  # noqa: E402
    AIMessage,
    AIMessageChunk,
    ToolMessage,
)
from langchain_core.runnables.schema import StreamEvent  # noqa: E402

from surestream.events import (  # noqa: E402
    Done,
    Event,
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
)

__all__ = ["EventsMapper", "MessagesMapper", "langgraph_events", "langgraph_messages"]

TOOL_FAILED = "the tool failed"
"""The ``ToolResult`` error for a tool that raised (its exception goes to the log only)."""


class _Calls:
    """What both mappers share: streamed pieces of model calls and the run's tally."""

    __slots__ = ("_fragments", "_sent", "tally")

    def __init__(self) -> None:
        self._sent = SentText()
        self._fragments: dict[tuple[str, int], str] = {}
        self.tally = RunTally()

    def chunk(self, key: str, chunk: AIMessageChunk) -> Iterator[Event]:
        """The text, reasoning and tool-call fragments of one streamed chunk."""
        for block in chunk.content_blocks:
            if block["type"] == "text" and block["text"]:
                yield self._sent.partial(key, block["text"])
            elif block["type"] == "reasoning" and block.get("reasoning"):
                yield self._sent.partial(key, block.get("reasoning", ""), reasoning=True)
            elif block["type"] == "tool_call_chunk":
                index = block.get("index")
                slot = (key, index if isinstance(index, int) else 0)
                call_id, args = block.get("id"), block.get("args")
                if call_id and slot not in self._fragments:
                    self._fragments[slot] = call_id
                    yield ToolCallStart(call_id, block.get("name") or "")
                started = self._fragments.get(slot)
                if started is not None and args:
                    yield ToolCallDelta(started, args)

    def message(self, key: str, message: AIMessage) -> Iterator[Event]:
        """A model call's whole message: what was not streamed, then its complete calls."""
        text: list[str] = []
        reasoning: list[str] = []
        for block in message.content_blocks:
            if block["type"] == "text":
                text.append(block["text"])
            elif block["type"] == "reasoning":
                reasoning.append(block.get("reasoning", ""))
        yield from self._sent.whole(key, "".join(text), "".join(reasoning))
        for call in message.tool_calls:
            call_id = call.get("id") or ""
            self.tally.called(call_id)
            yield ToolCall(call_id, call["name"], call["args"])
        for slot in [slot for slot in self._fragments if slot[0] == key]:
            del self._fragments[slot]
        self.tally.finished(message.response_metadata.get("finish_reason"))
        usage = message.usage_metadata
        if usage is not None:
            self.tally.usage.add(
                usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens")
            )

    def tool_message(self, message: ToolMessage) -> ToolResult:
        """A tool's result; ``status="error"`` is the tool's failure reported as data."""
        self.tally.answered(message.tool_call_id)
        if message.status == "error":
            return ToolResult(message.tool_call_id, error=str(message.content))
        return ToolResult(message.tool_call_id, json_or_text(message.content))


def _node(metadata: Mapping[str, Any] | None, default: str | None = None) -> str | None:
    node = (metadata or {}).get("langgraph_node")
    return str(node) if node else default


class EventsMapper:
    """``astream_events(version="v2")`` events -> typed events (see the module)."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls = _Calls()

    def feed(self, event: StreamEvent) -> Iterator[Event]:
        """The typed events of one LangChain stream event."""
        kind, data, run = event["event"], event.get("data", {}), event["run_id"]
        if kind == "on_chat_model_start":
            yield Step(_node(event.get("metadata"), event.get("name")))
        elif kind == "on_chat_model_stream":
            chunk = data.get("chunk")
            if isinstance(chunk, AIMessageChunk):
                yield from self._calls.chunk(run, chunk)
        elif kind == "on_chat_model_end":
            output = data.get("output")
            if isinstance(output, AIMessage):
                yield from self._calls.message(run, output)
        elif kind == "on_tool_end":
            output = data.get("output")
            if isinstance(output, ToolMessage):
                yield self._calls.tool_message(output)
        elif kind == "on_tool_error":
            call_id = data.get("tool_call_id")
            if isinstance(call_id, str):
                self._calls.tally.answered(call_id)
                yield ToolResult(call_id, error=TOOL_FAILED)

    def end(self) -> Iterator[Done]:
        """``Done`` with the last model call's finish reason and the run's usage."""
        yield self._calls.tally.done()


class MessagesMapper:
    """``astream(stream_mode="messages")`` items -> typed events (see the module)."""

    __slots__ = ("_calls", "_current", "_whole")

    def __init__(self) -> None:
        self._calls = _Calls()
        self._current: str | None = None
        self._whole: AIMessageChunk | None = None

    def feed(self, item: Any) -> Iterator[Event]:
        """The typed events of one ``(message, metadata)`` pair (or a v2 ``messages`` part)."""
        if isinstance(item, Mapping):
            item = item.get("data")
        if not isinstance(item, tuple) or len(item) != 2:
            return
        message, metadata = item
        if isinstance(message, AIMessageChunk):
            yield from self._chunk(message, metadata)
        elif isinstance(message, AIMessage):
            yield from self._close()
            yield Step(_node(metadata))
            yield from self._calls.message(message.id or "", message)
        elif isinstance(message, ToolMessage):
            yield from self._close()
            yield self._calls.tool_message(message)

    def _chunk(self, chunk: AIMessageChunk, metadata: Mapping[str, Any]) -> Iterator[Event]:
        key = chunk.id or ""
        if key != self._current:
            yield from self._close()
            self._current = key
            yield Step(_node(metadata))
        self._whole = chunk if self._whole is None else self._whole + chunk
        yield from self._calls.chunk(key, chunk)
        if chunk.chunk_position == "last":
            yield from self._close()

    def _close(self) -> Iterator[Event]:
        whole, key = self._whole, self._current
        self._whole = None
        if whole is not None and key is not None:
            yield from self._calls.message(key, AIMessage(**whole.model_dump(exclude={"type"})))

    def end(self) -> Iterator[Event]:
        """The complete tool calls of a model call the stream left open, then ``Done``."""
        yield from self._close()
        yield self._calls.tally.done()


async def langgraph_events(
    events: AsyncIterable[StreamEvent], *, expose_errors: bool = False
) -> AsyncGenerator[Event, None]:
    """The typed events of ``graph.astream_events(..., version="v2")``, ending with ``Done``.

    Works for any LangChain runnable (a LangGraph graph, ``create_agent``, a chat model).
    Each chat model run is a ``Step`` (named after its graph node); its streamed text,
    reasoning and tool-call fragments become ``Text``, ``Reasoning``, ``ToolCallStart`` /
    ``ToolCallDelta``, and its end the complete ``ToolCall`` s (the repeated content is not
    sent again). A tool's ``ToolMessage`` becomes ``ToolResult`` (with ``error`` when its status
    is ``"error"``), a tool that raises a ``ToolResult`` with the error "the tool failed".
    ``Done`` carries the last model call's finish reason (``tool_calls`` when a call was left
    unanswered, e.g. at an interrupt) and the usage of all calls. An exception of the run
    raises ``SourceFailed("upstream_error")`` (see ``surestream.integrations``); closing this
    generator closes ``events``, which cancels the model call.
    """
    async for event in adapt(
        events, EventsMapper(), framework="langgraph", expose_errors=expose_errors
    ):
        yield event


async def langgraph_messages(
    stream: AsyncIterable[Any], *, expose_errors: bool = False
) -> AsyncGenerator[Event, None]:
    """The typed events of ``graph.astream(..., stream_mode="messages")``, ending with ``Done``.

    The same events as ``langgraph_events`` from the ``(message, metadata)`` pairs (or the
    ``version="v2"`` parts) of the messages stream mode: a ``Step`` per model call, streamed
    pieces as they come, the complete ``ToolCall`` s when the call ends, ``ToolResult`` from the
    tool messages.
    """
    async for event in adapt(
        stream, MessagesMapper(), framework="langgraph", expose_errors=expose_errors
    ):
        yield event
