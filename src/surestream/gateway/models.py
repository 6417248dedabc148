"""Request and response bodies of the gateway's HTTP API (pydantic; they make the OpenAPI doc).

Strategy: every body the gateway accepts is a strict pydantic model, so a wrong value is a
422 whose message names the field. Limits that depend on settings (message count,
``max_tokens``) are checked by the routes against ``Settings`` after parsing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "ErrorBody",
    "ErrorDetail",
    "ModelCard",
    "ModelList",
    "StreamCreated",
    "StreamOptions",
    "StreamRequest",
    "TextPart",
]

MAX_CONTENT_CHARS = 1_000_000
"""Longest single message content accepted, in characters (the body limit applies too)."""


MAX_METADATA_KEY_CHARS = 64
"""Longest ``metadata`` key, in characters."""


class TextPart(BaseModel):
    """One text part of a message's content (the OpenAI content-parts shape)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str = Field(max_length=MAX_CONTENT_CHARS)


class ChatMessage(BaseModel):
    """One message of the conversation: its text, or a list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)] | list[TextPart]

    def text(self) -> str:
        """The content as one string (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)

    def wire(self) -> dict[str, str]:
        """``{"role", "content"}`` with the content as one string."""
        return {"role": self.role, "content": self.text()}


class StreamRequest(BaseModel):
    """``POST /v1/streams`` and ``POST /v1/chat/stream``: what to generate."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None
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

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``: the OpenAI request; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None


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
