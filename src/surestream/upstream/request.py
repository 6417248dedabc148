"""What an upstream is asked: ``ChatRequest`` and its ``ChatMessage``s, in the OpenAI chat shape.

Strategy: requests are plain frozen dataclasses (no pydantic; the gateway validates its bodies
and converts them). A message keeps every field the OpenAI wire gives it -- content parts,
an assistant's ``tool_calls``, a tool message's ``tool_call_id``, ``name`` -- and
``ChatMessage.to_json`` writes it back unchanged, so an OpenAI-compatible upstream receives
what the client sent. The OpenAI chat parameters beyond the few every upstream understands
(``max_tokens``, ``temperature``, ``seed``) travel in ``ChatRequest.params`` by their wire
names (``FORWARDED_PARAMS``): an OpenAI-compatible upstream sends them verbatim, the demo
model honours them or refuses the request, and nothing is silently dropped. What a client
of ``POST /v1/messages`` gave in the Anthropic Messages API's own form travels beside them
(``ANTHROPIC_PARAMS``): an Anthropic upstream sends it as given, the others never see it
(``ChatRequest.openai_params``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ANTHROPIC_MESSAGE_FIELDS",
    "ANTHROPIC_PARAMS",
    "FORWARDED_PARAMS",
    "ChatMessage",
    "ChatRequest",
]

FORWARDED_PARAMS = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "stop",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "user",
    "n",
    "max_completion_tokens",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
)
"""The OpenAI chat parameters ``ChatRequest.params`` carries, by their wire names."""

ANTHROPIC_PARAMS = ("thinking",)
"""Messages API parameters ``ChatRequest.params`` may carry as a client of ``POST
/v1/messages`` gave them (``thinking``: its exact budget, or ``disabled``), for an Anthropic
upstream only: every other upstream reads the OpenAI parameter they were also mapped to
(``reasoning_effort``) and never receives them (``ChatRequest.openai_params``)."""

ANTHROPIC_MESSAGE_FIELDS = ("thinking_blocks",)
"""Message fields for an Anthropic upstream only (``thinking_blocks``: an assistant's signed
and redacted thinking, which the Messages API takes back); ``ChatMessage.to_json`` leaves
them out."""

_MESSAGE_FIELDS = frozenset({"role", "content", "tool_calls", "tool_call_id", "name"})


def _parts(value: Any, what: str) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(p, Mapping) for p in value):
        raise ValueError(f"{what} must be a list of objects")
    return tuple(dict(p) for p in value)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation, in the OpenAI chat shape.

    ``content`` is the text, a tuple of OpenAI content parts (``{"type": "text", "text"}``,
    ``{"type": "image_url", "image_url": {"url"}}``, ...) or None (an assistant message that
    only calls tools); ``tool_calls`` are an assistant's calls (``{"id", "type": "function",
    "function": {"name", "arguments"}}``); ``tool_call_id`` names the call a ``tool`` message
    answers; ``name`` is the participant's name; ``extra`` holds the message's other wire
    fields (an assistant's ``reasoning_content`` or ``refusal`` sent back, ...) as given.
    """

    role: str
    content: str | tuple[Mapping[str, Any], ...] | None = field(hash=False)
    tool_calls: tuple[Mapping[str, Any], ...] | None = field(default=None, hash=False)
    tool_call_id: str | None = None
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def text(self) -> str:
        """The content's text: the string, or its text parts joined ("" for none)."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        texts = [p.get("text") for p in self.content if p.get("type") == "text"]
        return "".join(t for t in texts if isinstance(t, str))

    def to_json(self) -> dict[str, Any]:
        """The OpenAI wire shape: ``role``, ``content`` and the other fields that are set
        (but ``ANTHROPIC_MESSAGE_FIELDS``)."""
        content = self.content
        out: dict[str, Any] = {
            "role": self.role,
            "content": [dict(p) for p in content] if isinstance(content, tuple) else content,
        }
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls is not None:
            out["tool_calls"] = [dict(c) for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        out.update((k, v) for k, v in self.extra.items() if k not in ANTHROPIC_MESSAGE_FIELDS)
        return out

    @classmethod
    def from_json(cls, obj: ChatMessage | Mapping[str, Any]) -> ChatMessage:
        """A message from its OpenAI wire shape; ``ValueError`` naming a wrongly typed field."""
        if isinstance(obj, ChatMessage):
            return obj
        if not isinstance(obj, Mapping):
            raise ValueError(f"a message must be an object, got {type(obj).__name__}")
        role = obj.get("role")
        if not isinstance(role, str) or not role:
            raise ValueError("message role must be a non-empty string")
        content = obj.get("content")
        if content is not None and not isinstance(content, str):
            content = _parts(content, "message content (a string or a list of parts)")
        calls = obj.get("tool_calls")
        tool_calls = None if calls is None else _parts(calls, "message tool_calls")
        strings = {key: obj.get(key) for key in ("tool_call_id", "name")}
        for key, value in strings.items():
            if value is not None and not isinstance(value, str):
                raise ValueError(f"message {key} must be a string")
        extra = {key: value for key, value in obj.items() if key not in _MESSAGE_FIELDS}
        return cls(role, content, tool_calls, strings["tool_call_id"], strings["name"], extra)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion request as every upstream understands it.

    ``messages`` accepts ``ChatMessage`` objects or their OpenAI wire shapes and is stored as
    a tuple of ``ChatMessage``. ``max_tokens`` limits the answer; ``seed`` makes sampling
    repeatable where the upstream supports it; ``params`` holds the other OpenAI chat
    parameters by their wire names (see ``FORWARDED_PARAMS``; ``max_completion_tokens``, the
    newer name of the limit, is one: ``limit`` is the smaller of the two); ``metadata`` is
    ours (the gateway's) and is never sent upstream.
    """

    model: str
    messages: Sequence[ChatMessage] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    metadata: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        messages: Iterable[ChatMessage | Mapping[str, Any]] = self.messages
        object.__setattr__(self, "messages", tuple(ChatMessage.from_json(m) for m in messages))
        object.__setattr__(self, "params", dict(self.params))
        for name, value in (("max_tokens", self.max_tokens), ("max_completion_tokens", self._mct)):
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"{name} must be a positive integer")

    @property
    def _mct(self) -> Any:
        return self.params.get("max_completion_tokens")

    @property
    def limit(self) -> int | None:
        """The answer's token limit: the smaller of ``max_tokens`` and
        ``params["max_completion_tokens"]`` (None when neither is given)."""
        limits = [n for n in (self.max_tokens, self._mct) if isinstance(n, int)]
        return min(limits) if limits else None

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> ChatRequest:
        """Read an OpenAI-style request body: the fields above and ``FORWARDED_PARAMS``
        (as given); other fields are ignored, bad ones raise ``ValueError`` naming the field."""
        model = obj.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string")
        messages = obj.get("messages", [])
        if not isinstance(messages, list):
            raise ValueError("messages must be a list")
        max_tokens = obj.get("max_tokens")
        temperature = obj.get("temperature")
        if temperature is not None and not isinstance(temperature, int | float):
            raise ValueError("temperature must be a number")
        seed = obj.get("seed")
        if seed is not None and type(seed) is not int:
            raise ValueError("seed must be an integer")
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValueError("metadata must be an object")
        return cls(
            model,
            messages,
            max_tokens,
            None if temperature is None else float(temperature),
            seed,
            metadata,
            {key: obj[key] for key in FORWARDED_PARAMS if key in obj},
        )

    @property
    def openai_params(self) -> dict[str, Any]:
        """``params`` without the Anthropic-only ones (``ANTHROPIC_PARAMS``): what an
        OpenAI-compatible upstream sends."""
        return {k: v for k, v in self.params.items() if k not in ANTHROPIC_PARAMS}

    @property
    def prompt_text(self) -> str:
        """All message texts joined by newlines (for token estimates, never for logs)."""
        return "\n".join(m.text for m in self.messages)

    @property
    def tools(self) -> list[Mapping[str, Any]]:
        """The ``tools`` parameter's entries (none when not given)."""
        tools = self.params.get("tools")
        return [t for t in tools if isinstance(t, Mapping)] if isinstance(tools, list) else []
