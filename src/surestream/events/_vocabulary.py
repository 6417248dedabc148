"""The event classes of ``surestream.events`` and the closed lists that go with them:
``FinishReason`` and its spellings across model APIs, ``ErrorCode`` and ``RETRYABLE``, the
``Event`` union, ``EVENT_TYPES``, ``TYPE_NAMES``, ``TERMINAL_TYPES``. Sans-IO."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias


class FinishReason(enum.StrEnum):
    """Why a ``done`` stream ended."""

    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    TOOL_CALLS = "tool_calls"
    CANCELLED = "cancelled"


class ErrorCode(enum.StrEnum):
    """The closed list of ``error`` codes; ``RETRYABLE`` says which ones a client may retry."""

    UPSTREAM_ERROR = "upstream_error"
    """The model provider failed (HTTP error, or an error object inside its stream)."""
    UPSTREAM_TIMEOUT = "upstream_timeout"
    """The model provider did not answer or went silent past its timeout."""
    UPSTREAM_TRUNCATED = "upstream_truncated"
    """The provider's stream ended without its own end marker."""
    IDLE_TIMEOUT = "idle_timeout"
    """The source produced nothing for ``idle_timeout`` seconds."""
    FIRST_EVENT_TIMEOUT = "first_event_timeout"
    """The source produced no first event within ``first_event_timeout`` seconds."""
    MAX_DURATION = "max_duration"
    """The stream ran longer than its ``max_duration``."""
    SERVER_SHUTDOWN = "server_shutdown"
    """The server is shutting down; resume elsewhere."""
    PRODUCER_LOST = "producer_lost"
    """The process generating a journaled stream died."""
    STORE_UNAVAILABLE = "store_unavailable"
    """The journal store (Redis) could not be reached."""
    INTERNAL_ERROR = "internal_error"
    """An unexpected failure in the server; details are in the server log only."""
    RATE_LIMITED = "rate_limited"
    """Too many requests or streams; retry later."""


FINISH_REASON_SPELLINGS: Mapping[str, FinishReason] = {
    **dict.fromkeys(("stop", "end_turn", "stop_sequence", "eos"), FinishReason.STOP),
    **dict.fromkeys(("length", "max_tokens", "model_length"), FinishReason.LENGTH),
    **dict.fromkeys(
        ("tool_calls", "function_call", "tool_use", "tool_call"), FinishReason.TOOL_CALLS
    ),
    **dict.fromkeys(
        (
            "content_filter",
            "refusal",
            "safety",
            "prohibited_content",
            "blocklist",
            "spii",
            "recitation",
            "image_safety",
            "image_prohibited_content",
            "image_recitation",
        ),
        FinishReason.CONTENT_FILTER,
    ),
}
"""How model APIs spell a finish reason (lower case) -> ours: OpenAI's values and its legacy
``function_call``, Anthropic's stop reasons, Gemini's (``MAX_TOKENS``, its content filters),
pydantic-ai's ``tool_call`` and what local servers send. ``cancelled`` is not among them:
ours means that a client cancelled."""


def finish_reason_of(raw: object) -> FinishReason | None:
    """A model API's finish reason (any case, or an enum of one) as ours; None for a value
    that is not in ``FINISH_REASON_SPELLINGS``."""
    value = getattr(raw, "value", raw)
    if not isinstance(value, str):
        return None
    return FINISH_REASON_SPELLINGS.get(value.strip().lower())


RETRYABLE: frozenset[str] = frozenset(
    {
        ErrorCode.UPSTREAM_TIMEOUT,
        ErrorCode.SERVER_SHUTDOWN,
        ErrorCode.PRODUCER_LOST,
        ErrorCode.STORE_UNAVAILABLE,
        ErrorCode.RATE_LIMITED,
    }
)
"""The codes after which a client may try again (resume or re-request); the rest are final."""


@dataclass(frozen=True, slots=True)
class Start:
    """The first event of a stream: its id and the model that answers."""

    stream: str | None = None
    model: str | None = None
    type: ClassVar[str] = "start"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        out: dict[str, Any] = {"type": "start"}
        if self.stream is not None:
            out["stream"] = self.stream
        if self.model is not None:
            out["model"] = self.model
        return out


@dataclass(frozen=True, slots=True)
class Text:
    """A piece of the answer's text, to append to what came before."""

    text: str
    type: ClassVar[str] = "text"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        return {"type": "text", "text": self.text}


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning ("thinking") text to append, shown apart from the answer.

    Two optional fields (protocol 1.2) are opaque provider data, never shown, carried so a
    client can send the reasoning back in its next turn, as Anthropic requires of thinking
    before a tool result: ``signature`` signs the reasoning block this piece ends (the next
    reasoning starts a new block); ``redacted`` is a block of reasoning the provider
    encrypted (``text`` is empty). The native JSON has them only when set."""

    text: str
    signature: str | None = None
    redacted: str | None = None
    type: ClassVar[str] = "reasoning"

    @property
    def opaque(self) -> bool:
        """No text to show: only a ``signature`` or ``redacted`` reasoning."""
        return not self.text and (self.signature is not None or self.redacted is not None)

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        out: dict[str, Any] = {"type": "reasoning", "text": self.text}
        if self.signature is not None:
            out["signature"] = self.signature
        if self.redacted is not None:
            out["redacted"] = self.redacted
        return out


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """A tool call begins: its id and the tool's name; ``ToolCallDelta`` fragments may follow."""

    id: str
    name: str
    type: ClassVar[str] = "tool_call_start"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        return {"type": "tool_call_start", "id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a started tool call's arguments, as JSON text (not parseable alone)."""

    id: str
    args: str
    type: ClassVar[str] = "tool_call_delta"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        return {"type": "tool_call_delta", "id": self.id, "args": self.args}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call with its parsed JSON ``args``; may come without a start or deltas."""

    id: str
    name: str
    args: Any = field(default=None, hash=False)
    type: ClassVar[str] = "tool_call"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        return {"type": "tool_call", "id": self.id, "name": self.name, "args": self.args}


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's outcome: its JSON ``output``, or an ``error`` message (not the stream's failure)."""

    id: str
    output: Any = field(default=None, hash=False)
    error: str | None = None
    type: ClassVar[str] = "tool_result"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape: ``output``, or ``error`` (with ``output`` only if any)."""
        if self.error is None:
            return {"type": "tool_result", "id": self.id, "output": self.output}
        out: dict[str, Any] = {"type": "tool_result", "id": self.id, "error": self.error}
        if self.output is not None:
            out["output"] = self.output
        return out


@dataclass(frozen=True, slots=True)
class Step:
    """A new model call or agent step begins; ``name`` says whose (an agent, a node)."""

    name: str | None = None
    type: ClassVar[str] = "step"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        if self.name is None:
            return {"type": "step"}
        return {"type": "step", "name": self.name}


@dataclass(frozen=True, slots=True)
class Status:
    """A progress note for people ("searching"), not part of the answer."""

    message: str
    type: ClassVar[str] = "status"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        return {"type": "status", "message": self.message}


@dataclass(frozen=True, slots=True)
class Data:
    """An application-specific JSON payload (citations, tool results, ...)."""

    data: Any = field(hash=False)
    name: str | None = None
    type: ClassVar[str] = "data"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        out: dict[str, Any] = {"type": "data", "data": self.data}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Done:
    """Terminal: the stream finished. ``usage`` carries token counts when known."""

    finish_reason: str = FinishReason.STOP
    usage: Mapping[str, Any] | None = field(default=None, hash=False)
    type: ClassVar[str] = "done"

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        out: dict[str, Any] = {
            "type": "done",
            "done": True,
            "finish_reason": str(self.finish_reason),
        }
        if self.usage is not None:
            out["usage"] = dict(self.usage)
        return out


@dataclass(frozen=True, slots=True)
class Error:
    """Terminal: the stream failed; ``code`` is an ``ErrorCode``, ``message`` is safe to show."""

    code: str
    message: str = ""
    retryable: bool = False
    type: ClassVar[str] = "error"

    @classmethod
    def of(cls, code: ErrorCode, message: str = "") -> Error:
        """An error with the documented retryability of ``code``."""
        return cls(str(code), message or code.value.replace("_", " "), code in RETRYABLE)

    @property
    def known_code(self) -> ErrorCode | None:
        """``code`` as an ``ErrorCode``, or None for a code this version does not know."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """The native JSON shape."""
        return {
            "type": "error",
            "error": {
                "code": str(self.code),
                "message": self.message,
                "retryable": self.retryable,
            },
        }


@dataclass(frozen=True, slots=True)
class Unknown:
    """A payload whose ``type`` this version does not know; clients skip it."""

    type: str
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The payload as received."""
        return dict(self.payload)


Event: TypeAlias = (
    Start
    | Text
    | Reasoning
    | ToolCallStart
    | ToolCallDelta
    | ToolCall
    | ToolResult
    | Step
    | Status
    | Data
    | Done
    | Error
    | Unknown
)

EVENT_TYPES = (
    Start,
    Text,
    Reasoning,
    ToolCallStart,
    ToolCallDelta,
    ToolCall,
    ToolResult,
    Step,
    Status,
    Data,
    Done,
    Error,
    Unknown,
)
"""Every class of ``Event``, for ``isinstance`` checks."""

TYPE_NAMES: frozenset[str] = frozenset(
    {
        Start.type,
        Text.type,
        Reasoning.type,
        ToolCallStart.type,
        ToolCallDelta.type,
        ToolCall.type,
        ToolResult.type,
        Step.type,
        Status.type,
        Data.type,
        Done.type,
        Error.type,
    }
)
"""The native ``type`` of every event class of ``EVENT_TYPES`` but ``Unknown``."""


TERMINAL_TYPES: tuple[type[Done], type[Error]] = (Done, Error)
"""The classes of the last event of every stream (a tuple: ``isinstance`` with it costs half
what it costs with ``Done | Error``, which builds a union on every call)."""


def is_terminal(event: object) -> bool:
    """True for ``Done`` and ``Error``: the last event of every stream."""
    return isinstance(event, TERMINAL_TYPES)
