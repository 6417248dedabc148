"""What a stream said, gathered as its events pass: the answer text, the reasoning, tool calls.

Strategy: ``Answer.add(event)`` sees every event the client delivers, in order, and keeps
only what a caller asks for after the end: ``text`` (``Text`` only: reasoning, status and
tool traffic are never part of the answer), ``reasoning`` (``Reasoning`` joined) and
``tool_calls``. A tool call arrives either complete (``ToolCall``), or as ``ToolCallStart``
and ``ToolCallDelta`` fragments of its arguments' JSON text, usually followed by the
complete ``ToolCall`` (which then wins). Calls are listed in the order their id first
appeared. A call that only ever had a start and fragments is assembled by ``complete()``
once the stream ended with ``done``: its arguments are the fragments parsed as the openai
dialect parses them (``{}`` when there were none; the text itself when it is not JSON, so
nothing is lost). Sans-IO.
"""

from __future__ import annotations

from surestream.dialects.openai import parse_arguments
from surestream.events import Event, Reasoning, Text, ToolCall, ToolCallDelta, ToolCallStart

__all__ = ["Answer"]


class _PartialCall:
    """A call known from its start and fragments only (so far)."""

    __slots__ = ("fragments", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.fragments: list[str] = []


class Answer:
    """The text, reasoning and tool calls of one stream, gathered event by event."""

    __slots__ = ("_calls", "_reasoning", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        """The ``Text`` pieces so far (the driver appends to it directly: the hot path)."""
        self._reasoning: list[str] = []
        self._calls: dict[str, ToolCall | _PartialCall] = {}

    def add(self, event: Event) -> bool:
        """Take one event into account; False when it only repeats what came before (a call
        started or completed again: a resumed vercel-ai stream names its calls again), which
        is then not delivered."""
        if type(event) is Text:
            self.texts.append(event.text)
        elif isinstance(event, Reasoning):
            self._reasoning.append(event.text)
        elif isinstance(event, ToolCallStart):
            if event.id in self._calls:
                return False
            self._calls[event.id] = _PartialCall(event.name)
        elif isinstance(event, ToolCallDelta):
            call = self._calls.get(event.id)
            if call is None:
                call = self._calls[event.id] = _PartialCall("")
            if isinstance(call, _PartialCall):
                call.fragments.append(event.args)
        elif isinstance(event, ToolCall):
            if isinstance(self._calls.get(event.id), ToolCall):
                return False
            self._calls[event.id] = event
        return True

    @property
    def text(self) -> str:
        """The answer: every ``Text`` joined."""
        return "".join(self.texts)

    @property
    def reasoning(self) -> str:
        """Every ``Reasoning`` joined (``""`` when the model showed none)."""
        return "".join(self._reasoning)

    def tool_calls(self, *, complete: bool) -> list[ToolCall]:
        """The tool calls, in order of first sight: those that arrived whole, and with
        ``complete`` (the stream ended with ``done``) those assembled from their fragments."""
        out: list[ToolCall] = []
        for call_id, call in self._calls.items():
            if isinstance(call, ToolCall):
                out.append(call)
            elif complete:
                out.append(ToolCall(call_id, call.name, parse_arguments("".join(call.fragments))))
        return out
