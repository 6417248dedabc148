"""Request and response bodies of the gateway's HTTP API (pydantic; they make the OpenAPI doc).

Strategy: every body the gateway accepts is a strict pydantic model, so a wrong value is a
422 whose message names the field. Limits that depend on settings (message count,
``max_tokens``) are checked by the routes against ``Settings`` after parsing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema
from pydantic_core import PydanticCustomError

from surestream.upstream.request import FORWARDED_PARAMS

__all__ = [
    "AssistantMessage",
    "ChatCompletionRequest",
    "ChatMessage",
    "ChatParameters",
    "ErrorBody",
    "ErrorDetail",
    "FunctionDefinition",
    "ImagePart",
    "MessageToolCall",
    "ModelCard",
    "ModelList",
    "NamedToolChoice",
    "StreamCreated",
    "StreamOptions",
    "StreamRequest",
    "SystemMessage",
    "TextPart",
    "Tool",
    "ToolMessage",
    "UserMessage",
]

MAX_CONTENT_CHARS = 1_000_000
"""Longest single message content accepted, in characters (the body limit applies too)."""


MAX_METADATA_KEY_CHARS = 64
"""Longest ``metadata`` key, in characters."""

MAX_NAME_CHARS = 256
"""Longest name-like string (a tool call id, a function or participant name, ``user``, a
stop string), in characters."""

MAX_TOOLS = 128
"""Most ``tools`` one request may offer (OpenAI's own limit)."""


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_integral)]
"""A JSON integer, ``5.0`` included (JSON has one number type), never ``"5"`` or ``true``
(bounds go in a ``Field`` *before* the validator, or the schema loses them)."""

PositiveInteger = Annotated[int, Field(ge=1), BeforeValidator(_integral)]
"""An ``Integer`` of at least 1."""

STRICT = ConfigDict(extra="forbid", strict=True)
"""The request bodies' config: an unknown field is an error, and so is a value of the wrong
JSON type (``"5"`` for a number, ``1`` for a boolean): nothing is coerced or dropped."""


class TextPart(BaseModel):
    """A text part of a message's content (the OpenAI content-parts shape)."""

    model_config = STRICT

    type: Literal["text"]
    text: str = Field(max_length=MAX_CONTENT_CHARS)


class ImageURL(BaseModel):
    """Where an image part's image is: a URL or a ``data:`` URL."""

    model_config = STRICT

    url: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(BaseModel):
    """An image part of a user message's content."""

    model_config = STRICT

    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
"""One part of a message's content."""


class FunctionCall(BaseModel):
    """The function an assistant's tool call calls, with its arguments as JSON text
    (``parsed_arguments``: null, as the OpenAI SDK's parsed messages carry it)."""

    model_config = STRICT

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    arguments: str = Field(max_length=MAX_CONTENT_CHARS)
    parsed_arguments: None = None


class MessageToolCall(BaseModel):
    """One tool call of an earlier assistant message (``index`` as the OpenAI SDK's
    accumulated messages carry it)."""

    model_config = STRICT

    id: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    type: Literal["function"]
    function: FunctionCall
    index: Annotated[int, Field(ge=0), BeforeValidator(_integral)] | None = None


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
"""A name-like string: a participant's or function's name, a tool call id."""

Text = Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]
"""A message's text."""


class ThinkingPart(BaseModel):
    """A signed block of an Anthropic model's thinking, sent back as it came."""

    model_config = STRICT

    type: Literal["thinking"]
    thinking: Text
    signature: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)


class RedactedThinkingPart(BaseModel):
    """A block of an Anthropic model's encrypted thinking, sent back as it came."""

    model_config = STRICT

    type: Literal["redacted_thinking"]
    data: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)


ThinkingBlock = Annotated[ThinkingPart | RedactedThinkingPart, Field(discriminator="type")]
"""One block of an assistant message's ``thinking_blocks``."""


class _Message(BaseModel):
    """What every message has: its content's text, and its wire shape."""

    model_config = STRICT

    content: Any
    name: Name | None = None

    def text(self) -> str:
        """The content's text (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content or () if isinstance(p, TextPart))

    def wire(self) -> dict[str, Any]:
        """The message as the client sent it (the fields it set), for the upstream."""
        return self.model_dump(mode="json", exclude_unset=True)


class SystemMessage(_Message):
    """Instructions: ``system``, or ``developer`` as OpenAI's newer models call it."""

    role: Literal["system", "developer"]
    content: Text | list[TextPart]


class UserMessage(_Message):
    """The user's turn: text, or parts (text and images)."""

    role: Literal["user"]
    content: Text | list[ContentPart]


class AssistantMessage(_Message):
    """An earlier answer: its text (null when it only called tools), its ``tool_calls``, its
    ``refusal``, and its ``reasoning_content`` when a client sends it back; its
    ``thinking_blocks`` (LiteLLM's name; ``POST /v1/messages`` sets them): an Anthropic
    model's signed and redacted thinking, which only an Anthropic upstream receives.

    ``annotations``, ``audio``, ``function_call`` and ``parsed`` are accepted when null:
    the OpenAI SDK's own message objects carry them, so a client can append the SDK's
    message as it is. Like every field a client sets, they are sent on as given.
    """

    role: Literal["assistant"]
    content: Text | list[TextPart] | None = None
    tool_calls: list[MessageToolCall] | None = None
    reasoning_content: Text | None = None
    thinking_blocks: list[ThinkingBlock] | None = None
    refusal: Text | None = None
    annotations: None = None
    audio: None = None
    function_call: None = None
    parsed: None = None


class ToolMessage(_Message):
    """A tool's result, for the call ``tool_call_id`` names."""

    role: Literal["tool"]
    tool_call_id: Name
    content: Text | list[TextPart]


class _UnknownRole(_Message):
    """Only to report a missing or unknown ``role`` at ``role`` (it never validates)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Any = None


_ROLE_TAGS = {
    "system": "role=system",
    "developer": "role=system",
    "user": "role=user",
    "assistant": "role=assistant",
    "tool": "role=tool",
}


def _role_tag(message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
    return _ROLE_TAGS.get(role, "role=?") if isinstance(role, str) else "role=?"


ChatMessage = Annotated[
    Annotated[SystemMessage, Tag("role=system")]
    | Annotated[UserMessage, Tag("role=user")]
    | Annotated[AssistantMessage, Tag("role=assistant")]
    | Annotated[ToolMessage, Tag("role=tool")]
    | Annotated[SkipJsonSchema[_UnknownRole], Tag("role=?")],
    Discriminator(_role_tag),
]
"""One message of the conversation, in the OpenAI chat shape, by its ``role``."""


class FunctionDefinition(BaseModel):
    """A function the model may call: its name, description and JSON-schema parameters."""

    model_config = STRICT

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = Field(default=None, max_length=MAX_CONTENT_CHARS)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    """One entry of ``tools``."""

    model_config = STRICT

    type: Literal["function"]
    function: FunctionDefinition


class ToolName(BaseModel):
    """The function a named ``tool_choice`` forces."""

    model_config = STRICT

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)


class NamedToolChoice(BaseModel):
    """``tool_choice`` forcing one function."""

    model_config = STRICT

    type: Literal["function"]
    function: ToolName


class JSONSchemaFormat(BaseModel):
    """The schema a ``json_schema`` answer must follow."""

    model_config = STRICT

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = Field(default=None, max_length=MAX_CONTENT_CHARS)
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextFormat(BaseModel):
    """``response_format`` ``text``."""

    model_config = STRICT

    type: Literal["text"]


class JSONObjectFormat(BaseModel):
    """``response_format`` ``json_object``."""

    model_config = STRICT

    type: Literal["json_object"]


class JSONSchemaResponseFormat(BaseModel):
    """``response_format`` ``json_schema``."""

    model_config = STRICT

    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


ResponseFormat = Annotated[
    TextFormat | JSONObjectFormat | JSONSchemaResponseFormat, Field(discriminator="type")
]
"""OpenAI ``response_format``."""


StopString = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
"""A ``stop`` string."""

TokenId = Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
"""A ``logit_bias`` key: a token id as a decimal string."""

Bias = Annotated[int, Field(ge=-100, le=100), BeforeValidator(_integral)]
"""A ``logit_bias`` value."""

LogitBias = Annotated[dict[TokenId, Bias], Field(json_schema_extra={"additionalProperties": False})]
"""``logit_bias``: token id -> bias."""


def _only_one_choice(n: int | None) -> int | None:
    if n is not None and n != 1:
        raise PydanticCustomError("unsupported", "only n=1: the gateway streams one choice")
    return n


_NO_LP = "the gateway's streams do not carry log probabilities"


def _no_logprobs(value: Any) -> Any:
    if value is not None and value is not False:
        raise PydanticCustomError("unsupported", _NO_LP)
    return value


class ChatParameters(BaseModel):
    """What every generating route accepts: the model, the messages and the OpenAI chat
    parameters (each sent to an OpenAI-compatible upstream exactly as given, honoured or
    refused by the demo model; see the README's table)."""

    model_config = STRICT

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: PositiveInteger | None = None
    max_completion_tokens: PositiveInteger | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: Integer | None = None
    top_p: float | None = Field(default=None, ge=0, le=1)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: LogitBias | None = None
    stop: StopString | Annotated[list[StopString], Field(max_length=4)] | None = None
    user: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    n: Annotated[
        Integer | None,
        AfterValidator(_only_one_choice),
        WithJsonSchema({"anyOf": [{"const": 1}, {"type": "null"}], "description": "1 only"}),
    ] = None
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    logprobs: Annotated[
        bool | None,
        AfterValidator(_no_logprobs),
        WithJsonSchema({"anyOf": [{"const": False}, {"type": "null"}], "description": _NO_LP}),
    ] = None
    top_logprobs: Annotated[
        Integer | None,
        AfterValidator(_no_logprobs),
        WithJsonSchema({"type": "null", "description": _NO_LP}),
    ] = None

    def params(self) -> dict[str, Any]:
        """The OpenAI parameters the client set, by wire name, for the upstream."""
        return self.model_dump(
            mode="json", by_alias=True, exclude_unset=True, include=set(FORWARDED_PARAMS)
        )


class StreamRequest(ChatParameters):
    """``POST /v1/streams`` and ``POST /v1/chat/stream``: what to generate."""

    metadata: dict[Annotated[str, Field(max_length=MAX_METADATA_KEY_CHARS)], str] | None = None
    """Yours: string values under short keys (see ``max_metadata_items`` / ``_chars``)."""


class StreamCreated(BaseModel):
    """The answer to ``POST /v1/streams``."""

    id: str
    events_url: str
    cancel_url: str
    read_token: str | None = None


class StreamOptions(BaseModel):
    """OpenAI ``stream_options``."""

    model_config = STRICT

    include_usage: bool = False


class ChatCompletionRequest(ChatParameters):
    """``POST /v1/chat/completions``: the OpenAI request (a field it does not know is a 422
    naming it, never ignored)."""

    stream: bool = False
    stream_options: StreamOptions | None = None


class ErrorDetail(BaseModel):
    """What went wrong, for people and programs."""

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the gateway."""

    error: ErrorDetail


class ModelCard(BaseModel):
    """One entry of ``GET /v1/models`` (the OpenAI shape)."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "surestream"


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON of an ``ErrorBody``."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return {"error": detail}
