"""The ``openai`` dialect's decoder: any OpenAI-compatible chunk stream -> typed events.

Strategy: one decoder per incoming stream; ``decode`` takes one received SSE event and
returns the typed events it carries. Tool calls arrive as fragments keyed by ``index`` and
are assembled here (``_Call``) until their ``finish_reason`` or ``[DONE]``. The mapping, and
the strict and lenient policies, are in the package docstring
(``surestream.dialects.openai``). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects.openai._wire import error_from_object, is_done_marker, parse_arguments
from surestream.errors import RemoteProtocolError
from surestream.events import (
    Data,
    Done,
    Event,
    FinishReason,
    Reasoning,
    Start,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Unknown,
)
from surestream.sse import ServerSentEvent

__all__ = ["OpenAIDecoder"]


class _Call:
    """One tool call being assembled from its fragments."""

    __slots__ = ("args", "id", "name", "started")

    def __init__(self, call_id: str) -> None:
        self.id = call_id
        self.name: str | None = None
        self.args: list[str] = []
        self.started = False


class OpenAIDecoder:
    """Reads an OpenAI-compatible chunk stream back into typed events (see the package
    docstring; ``lenient`` is the policy for model servers read as upstreams)."""

    __slots__ = ("_calls", "_finished", "_lenient", "_started", "finish_reason", "usage")

    def __init__(self, *, lenient: bool = False) -> None:
        self._lenient = lenient
        self._finished = False
        self._started = False
        self._calls: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        """The last ``finish_reason`` received, if any."""
        self.usage: Mapping[str, Any] | None = None
        """The ``usage`` object received, if any."""

    @property
    def finished(self) -> bool:
        """True once ``[DONE]`` or an error object arrived."""
        return self._finished

    @property
    def implied_done(self) -> Done | None:
        """The ``Done`` that ``[DONE]`` would give now; None before any ``finish_reason``.

        For a stream that closed without ``[DONE]``: some OpenAI-compatible servers omit it,
        and a ``finish_reason`` shows the model did finish. Whether that counts as done is the
        caller's decision.
        """
        if self.finish_reason is None:
            return None
        return Done(self.finish_reason, self.usage)

    def _bad(self, message: str) -> None:
        """A wrongly typed field: raise (strict), or return so that it is skipped (lenient)."""
        if not self._lenient:
            raise RemoteProtocolError(message)

    def decode(self, sse: ServerSentEvent) -> list[Event]:
        """Typed events carried by one received SSE event (none after the end)."""
        if self._finished:
            return []
        data = sse.data
        if is_done_marker(data):
            self._finished = True
            return [
                *self._complete_calls(),
                Done(self.finish_reason or FinishReason.STOP, self.usage),
            ]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            if sse.event == "error":
                self._finished = True
                return [error_from_object({"message": data})]
            raise RemoteProtocolError(f"openai chunk is not JSON: {data[:80]!r}") from None
        if sse.event == "error":
            self._finished = True
            return [
                error_from_object(
                    self._error_payload(obj.get("error", obj) if isinstance(obj, dict) else obj)
                )
            ]
        if not isinstance(obj, dict):
            return [Unknown("", {"data": obj})]
        err = obj.get("error")
        if err is not None:
            self._finished = True
            return [error_from_object(self._error_payload(err))]
        out: list[Event] = []
        if not self._started:
            self._started = True
            sid, model = obj.get("id"), obj.get("model")
            out.append(
                Start(
                    sid if isinstance(sid, str) else None, model if isinstance(model, str) else None
                )
            )
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = obj.get("choices")
        if choices is None:
            choices = []
        if not isinstance(choices, list):
            self._bad("openai chunk 'choices' must be a list")
            return out
        for choice in choices:
            if not isinstance(choice, dict):
                self._bad("openai chunk choice must be an object")
                continue
            if choice.get("index", 0) != 0:
                continue
            self._choice(choice, out)
        return out

    @staticmethod
    def _error_payload(err: Any) -> Mapping[str, Any]:
        return err if isinstance(err, Mapping) else {"message": str(err)}

    def _choice(self, choice: Mapping[str, Any], out: list[Event]) -> None:
        delta = choice.get("delta")
        if delta is None:
            delta = {}
        if isinstance(delta, dict):
            self._delta(delta, out)
        else:
            self._bad("openai chunk 'delta' must be an object")
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self.finish_reason = reason
            out.extend(self._complete_calls())

    def _text(self, delta: Mapping[str, Any], key: str) -> str:
        value = delta.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        self._bad(f"openai delta.{key} must be a string")
        return ""

    def _delta(self, delta: Mapping[str, Any], out: list[Event]) -> None:
        reasoning = self._text(delta, "reasoning_content") or self._text(delta, "reasoning")
        if reasoning:
            out.append(Reasoning(reasoning))
        content = self._text(delta, "content")
        if content:
            out.append(Text(content))
        fragments = delta.get("tool_calls")
        if fragments:
            if isinstance(fragments, list):
                for fragment in fragments:
                    self._fragment(fragment, out)
            else:
                self._bad("openai delta.tool_calls must be a list")
        refusal = delta.get("refusal")
        if refusal:
            out.append(Data(refusal, "refusal"))

    def _call_for(self, fragment: Mapping[str, Any]) -> _Call:
        index, call_id = fragment.get("index"), fragment.get("id")
        if type(index) is not int:
            self._bad("openai tool call fragment needs an integer 'index'")
            index = self._index_of(call_id)
        call = self._calls.get(index)
        if call is None:
            name = call_id if isinstance(call_id, str) and call_id else f"call_{index}"
            call = self._calls[index] = _Call(name)
        return call

    def _index_of(self, call_id: Any) -> int:
        """Lenient: the index of a fragment without one (its id's call, else the last call
        when it names no id, else a new call)."""
        for index, call in self._calls.items():
            if call.id == call_id:
                return index
        if not call_id and self._calls:
            return max(self._calls)
        return max(self._calls, default=-1) + 1

    def _fragment(self, fragment: Any, out: list[Event]) -> None:
        if not isinstance(fragment, Mapping):
            self._bad("openai tool call fragment must be an object")
            return
        call = self._call_for(fragment)
        function = fragment.get("function")
        if function is None:
            function = {}
        if not isinstance(function, Mapping):
            self._bad("openai tool call 'function' must be an object")
            return
        name = self._text(function, "name")
        if name and call.name is None:
            call.name = name
        pieces = self._text(function, "arguments")
        if not call.started and call.name is not None:
            call.started = True
            out.append(ToolCallStart(call.id, call.name))
            out.extend(ToolCallDelta(call.id, piece) for piece in call.args)
        if pieces:
            call.args.append(pieces)
            if call.started:
                out.append(ToolCallDelta(call.id, pieces))

    def _complete_calls(self) -> list[Event]:
        """The assembled ``ToolCall``s, in index order, once; the calls are then forgotten."""
        calls = [self._calls[i] for i in sorted(self._calls)]
        self._calls.clear()
        return [ToolCall(c.id, c.name or "", parse_arguments("".join(c.args))) for c in calls]
