"""The Anthropic Messages API request (``POST /v1/messages``) as a gateway chat request.

Strategy: ``MessagesRequest`` is the body the official Anthropic SDKs send
(``messages.create`` / ``messages.stream``), strict at the top (a field the gateway does not
take is an error naming it), lenient inside content blocks and tools (the SDKs' own response
blocks, sent back in a later turn, carry fields such as ``citations``; ``cache_control``
hints are taken and have no effect). ``MessagesRequest.chat_parameters`` turns it into the
``ChatParameters`` every generating route takes, so every rule of the gateway (limits,
routing, forwarded parameters) holds here too:

- ``system`` -> a first ``system`` message (its text blocks joined);
- a user message's ``text`` and ``image`` blocks -> its content (text, or content parts with
  ``image_url``: a ``data:`` URL for base64 sources); its ``tool_result`` blocks -> ``tool``
  messages before it (``content`` text; ``is_error`` prefixes ``error: ``);
- an assistant message's ``text`` -> its content, ``tool_use`` -> its ``tool_calls`` (the
  ``input`` as JSON text), ``thinking`` -> ``reasoning_content`` (its text, for any
  upstream) and the signed ``thinking`` and ``redacted_thinking`` blocks, in order, ->
  ``thinking_blocks``, which only an Anthropic upstream sends back (a thinking block without
  a signature cannot go back to Anthropic: it is not among them);
- ``max_tokens``, ``temperature``, ``top_p`` as they are; ``stop_sequences`` -> ``stop``;
  ``metadata.user_id`` -> ``user``; ``tools`` -> functions (``input_schema`` is the
  ``parameters``); ``tool_choice`` ``auto`` / ``any`` / ``tool`` / ``none`` -> ``auto`` /
  ``required`` / the named function / ``none``, ``disable_parallel_tool_use`` ->
  ``parallel_tool_calls: false``;
- ``thinking`` travels as given (``MessagesRequest.anthropic_params``, for an Anthropic
  upstream, which sends it on: the exact ``budget_tokens``, ``disabled`` stays disabled) and,
  for every other upstream, ``enabled`` -> ``reasoning_effort`` by its budget
  (``THINKING_EFFORTS``); there ``disabled`` and ``adaptive`` ask for nothing (the model
  decides).

``top_k``, server tools and the API's other parameters have no equivalent upstream and are
refused, never dropped. Sans-IO: pydantic models and plain functions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from surestream.gateway.models import (
    MAX_CONTENT_CHARS,
    MAX_NAME_CHARS,
    MAX_TOOLS,
    STRICT,
    ChatParameters,
    PositiveInteger,
)

__all__ = [
    "THINKING_EFFORTS",
    "AnthropicErrorBody",
    "AnthropicErrorDetail",
    "AnthropicMessage",
    "AnthropicUsage",
    "MessagesRequest",
]

THINKING_EFFORTS = ((4096, "low"), (16384, "medium"))
"""``thinking.budget_tokens`` below each bound -> that ``reasoning_effort``; above them all
``high``."""

_LENIENT = ConfigDict(extra="ignore", strict=True)

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Content = Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]


class TextBlock(BaseModel):
    """``{"type": "text", "text"}``."""

    model_config = _LENIENT

    type: Literal["text"]
    text: Content


class Base64Source(BaseModel):
    """An image's bytes, base64-encoded."""

    model_config = _LENIENT

    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: Content


class URLSource(BaseModel):
    """An image at a URL."""

    model_config = _LENIENT

    type: Literal["url"]
    url: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS)]


class ImageBlock(BaseModel):
    """``{"type": "image", "source"}`` (user messages)."""

    model_config = _LENIENT

    type: Literal["image"]
    source: Annotated[Base64Source | URLSource, Field(discriminator="type")]


def _json_text(value: dict[str, Any]) -> dict[str, Any]:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise PydanticCustomError(
            "json", "not JSON a model can take: {reason}", {"reason": str(exc)}
        ) from None
    return value


class ToolUseBlock(BaseModel):
    """A call of an earlier assistant message."""

    model_config = _LENIENT

    type: Literal["tool_use"]
    id: Name
    name: Name
    input: Annotated[dict[str, Any], AfterValidator(_json_text)]


class ToolResultBlock(BaseModel):
    """A tool's result, in a user message, for the call ``tool_use_id`` names."""

    model_config = _LENIENT

    type: Literal["tool_result"]
    tool_use_id: Name
    content: Content | list[TextBlock] | None = None
    is_error: bool | None = None

    def text(self) -> str:
        """The result as the text a ``tool`` message carries."""
        content = self.content or ""
        text = content if isinstance(content, str) else "".join(b.text for b in content)
        return f"error: {text}" if self.is_error else text


class ThinkingBlock(BaseModel):
    """An earlier answer's thinking (sent on as ``reasoning_content``, and with its
    ``signature`` as one of ``thinking_blocks``)."""

    model_config = _LENIENT

    type: Literal["thinking"]
    thinking: Content
    signature: str | None = None


class RedactedThinkingBlock(BaseModel):
    """An earlier answer's encrypted thinking (sent on as one of ``thinking_blocks``)."""

    model_config = _LENIENT

    type: Literal["redacted_thinking"]
    data: str


UserBlock = Annotated[TextBlock | ImageBlock | ToolResultBlock, Field(discriminator="type")]
AssistantBlock = Annotated[
    TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock, Field(discriminator="type")
]


class UserMessage(BaseModel):
    """The user's turn: text, images and tool results."""

    model_config = STRICT

    role: Literal["user"]
    content: Content | list[UserBlock]


class AssistantMessage(BaseModel):
    """An earlier answer (or a prefill): text, tool calls and thinking."""

    model_config = STRICT

    role: Literal["assistant"]
    content: Content | list[AssistantBlock]


class Tool(BaseModel):
    """A client tool: its name, description and input JSON schema."""

    model_config = _LENIENT

    type: Literal["custom"] | None = None
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: Content | None = None
    input_schema: dict[str, Any]


class ToolChoice(BaseModel):
    """``tool_choice``: ``auto``, ``any``, ``tool`` (with its ``name``) or ``none``."""

    model_config = STRICT

    type: Literal["auto", "any", "tool", "none"]
    name: Name | None = None
    disable_parallel_tool_use: bool | None = None

    @model_validator(mode="after")
    def _named(self) -> ToolChoice:
        if (self.type == "tool") != (self.name is not None):
            raise PydanticCustomError("tool_name", "name is required with type tool, and only then")
        return self


class Thinking(BaseModel):
    """``thinking``: ``enabled`` with a ``budget_tokens``, ``disabled`` or ``adaptive``."""

    model_config = STRICT

    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[int, Field(ge=1024)] | None = None
    display: Literal["summarized", "omitted"] | None = None

    @model_validator(mode="after")
    def _budget(self) -> Thinking:
        if (self.type == "enabled") != (self.budget_tokens is not None):
            message = "budget_tokens is required with type enabled, and only then"
            raise PydanticCustomError("thinking_budget", message)
        return self


class Metadata(BaseModel):
    """``metadata``: the end user's opaque id."""

    model_config = STRICT

    user_id: Annotated[str, Field(max_length=MAX_NAME_CHARS)] | None = None


class MessagesRequest(BaseModel):
    """``POST /v1/messages``: the Anthropic Messages API request."""

    model_config = STRICT

    model: str = Field(min_length=1, max_length=200)
    messages: list[Annotated[UserMessage | AssistantMessage, Field(discriminator="role")]] = Field(
        min_length=1
    )
    max_tokens: PositiveInteger
    system: Content | list[TextBlock] | None = None
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop_sequences: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]],
            Field(max_length=4),
        ]
        | None
    ) = None
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    metadata: Metadata | None = None

    def chat_parameters(self) -> ChatParameters:
        """The gateway's chat request for this one (see the module docstring); a
        ``ValidationError`` when the translation breaks one of its rules."""
        messages: list[dict[str, Any]] = []
        if self.system:
            system = self.system
            text = system if isinstance(system, str) else "".join(b.text for b in system)
            messages.append({"role": "system", "content": text})
        for message in self.messages:
            if isinstance(message, UserMessage):
                messages.extend(_user(message.content))
            else:
                messages.append(_assistant(message.content))
        fields: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
        }
        for name in ("temperature", "top_p"):
            if getattr(self, name) is not None:
                fields[name] = getattr(self, name)
        if self.stop_sequences:
            fields["stop"] = list(self.stop_sequences)
        if self.metadata is not None and self.metadata.user_id is not None:
            fields["user"] = self.metadata.user_id
        if self.tools is not None:
            fields["tools"] = [_function(tool) for tool in self.tools]
        if self.tool_choice is not None:
            fields.update(_tool_choice(self.tool_choice))
        effort = _effort(self.thinking)
        if effort is not None:
            fields["reasoning_effort"] = effort
        return ChatParameters.model_validate(fields)

    def anthropic_params(self) -> dict[str, Any]:
        """The parameters an Anthropic upstream takes as given
        (``surestream.upstream.request.ANTHROPIC_PARAMS``): ``thinking`` when set."""
        if self.thinking is None:
            return {}
        return {"thinking": self.thinking.model_dump(exclude_none=True)}


def _user(content: str | list[TextBlock | ImageBlock | ToolResultBlock]) -> list[dict[str, Any]]:
    """The ``tool`` messages of a user turn's results, then its text and images."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": block.tool_use_id, "content": block.text()}
        for block in content
        if isinstance(block, ToolResultBlock)
    ]
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            source = block.source
            url = (
                source.url
                if isinstance(source, URLSource)
                else f"data:{source.media_type};base64,{source.data}"
            )
            parts.append({"type": "image_url", "image_url": {"url": url}})
    if parts:
        if all(part["type"] == "text" for part in parts):
            out.append({"role": "user", "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _assistant(
    content: str | list[TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock],
) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    text = "".join(b.text for b in content if isinstance(b, TextBlock))
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": orjson.dumps(b.input).decode()},
        }
        for b in content
        if isinstance(b, ToolUseBlock)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    thinking = "".join(b.thinking for b in content if isinstance(b, ThinkingBlock))
    if thinking:
        message["reasoning_content"] = thinking
    signed = [
        b.model_dump(exclude_none=True)
        for b in content
        if isinstance(b, RedactedThinkingBlock) or (isinstance(b, ThinkingBlock) and b.signature)
    ]
    if signed:
        message["thinking_blocks"] = signed
    return message


def _function(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description is not None:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if choice.type == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name or ""}}
    else:
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel_tool_use:
        out["parallel_tool_calls"] = False
    return out


def _effort(thinking: Thinking | None) -> str | None:
    if thinking is None or thinking.type != "enabled":
        return None
    budget = thinking.budget_tokens or 0
    for bound, effort in THINKING_EFFORTS:
        if budget < bound:
            return effort
    return "high"


class AnthropicErrorDetail(BaseModel):
    """What went wrong: the API's error ``type``, a message, and our ``code``."""

    type: str
    message: str
    code: str | None = None


class AnthropicErrorBody(BaseModel):
    """Every 4xx/5xx answer of ``POST /v1/messages`` (the Messages API's error shape)."""

    type: Literal["error"] = "error"
    error: AnthropicErrorDetail


class AnthropicUsage(BaseModel):
    """A message's token counts."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class AnthropicMessage(BaseModel):
    """The answer of ``POST /v1/messages`` with ``stream: false``: the assistant's message,
    its content blocks (``thinking``, ``text``, ``tool_use``) and why it stopped."""

    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[dict[str, Any]]
    stop_reason: str | None
    stop_sequence: str | None = None
    usage: AnthropicUsage
