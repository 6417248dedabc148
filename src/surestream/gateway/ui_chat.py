"""The AI SDK's chat request (``useChat`` / ``DefaultChatTransport``) as a gateway request.

Strategy: ``DefaultChatTransport`` POSTs ``{id, messages, trigger, messageId, ...body}``
where ``messages`` are UI messages (``{id, role, parts}``) and ``body`` holds what the app
passes in the transport's ``body`` option (``model``, ``temperature``, ``tools``, ...).
``UIChatRequest.stream_request`` turns it into the ``StreamRequest`` that ``POST
/v1/chat/stream`` takes, so every rule of that route (limits, forwarded parameters, 422 for
an unknown field) holds here too. UI parts become OpenAI-shaped messages:

- ``text`` parts are the message's text (joined, in order);
- ``file`` parts become ``image_url`` content parts; only images are accepted (any other
  ``mediaType`` is a 422 naming it);
- a tool part (``tool-<name>`` or ``dynamic-tool``) of an assistant message with an outcome
  becomes one of its ``tool_calls`` and the ``role: "tool"`` message that answers it (the
  ``output``, or ``error: <errorText>``); a call still waiting for its outcome is not sent,
  since a model refuses a call without its answer. Text after a tool call starts a new
  assistant message, so the order the model sees is the order the user saw;
- ``reasoning``, ``step-start``, ``source-*`` and ``data-*`` parts are display-only and are
  not sent back to the model (what the AI SDK's ``convertToModelMessages`` does too); a part
  of any other type is a 422.

``max_messages`` counts the messages the model gets: an answered tool call counts two.

Every answer is one model call, so the gateway begins it with a ``Step`` (the AI SDK's
``start-step``); an answer to tool outputs continues the client's last assistant message,
whose id its stream names (``continued_message_id``), so the client's
``lastAssistantMessageIsCompleteWithToolCalls`` sees the last step only and stops.

Sans-IO: pydantic models and plain functions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

import orjson
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from surestream.gateway.models import StreamRequest

__all__ = [
    "UIChatRequest",
    "UIMessage",
    "chat_link_name",
    "message_link_name",
    "to_chat_messages",
]

_UI_FIELDS = frozenset({"id", "messages", "trigger", "messageId"})
_TOOL_STATES = Literal[
    "input-streaming",
    "input-available",
    "approval-requested",
    "approval-responded",
    "output-available",
    "output-error",
    "output-denied",
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UITextPart(_Part):
    """``text`` (and ``reasoning``, which is not sent back to the model)."""

    type: Literal["text", "reasoning"]
    text: str


class UIFilePart(_Part):
    """``file``: an image, sent to the model as an ``image_url`` content part."""

    type: Literal["file"]
    mediaType: str = Field(pattern=r"^image/")
    url: str


class UIToolPart(_Part):
    """``tool-<name>`` / ``dynamic-tool``: a tool call, with its output once there is one."""

    type: str = Field(pattern=r"^(tool-.+|dynamic-tool)$")
    toolCallId: str = Field(min_length=1)
    toolName: str | None = Field(default=None, min_length=1)
    state: _TOOL_STATES
    input: Any = None
    output: Any = None
    errorText: str | None = None


class UIDisplayPart(_Part):
    """Parts that only the UI shows: steps, sources, ``data-*``."""

    type: str = Field(pattern=r"^(step-start|source-url|source-document|data-.+)$")


def _part_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if not isinstance(kind, str):  # {"type": {}} is a 422 of the display part, not a 500
        return "display"
    if kind in {"text", "reasoning", "file"}:
        return "file" if kind == "file" else "text"
    if kind.startswith("tool-") or kind == "dynamic-tool":
        return "tool"
    return "display"


UIPart: TypeAlias = Annotated[
    Annotated[UITextPart, Tag("text")]
    | Annotated[UIFilePart, Tag("file")]
    | Annotated[UIToolPart, Tag("tool")]
    | Annotated[UIDisplayPart, Tag("display")],
    Discriminator(_part_kind),
]
"""One part of a UI message, as far as the gateway reads it (chosen by its ``type``)."""


class UIMessage(BaseModel):
    """One UI message of the AI SDK: ``{id, role, parts}`` (``metadata`` is the app's)."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart] = Field(default_factory=list, max_length=10_000)


class UIChatRequest(StreamRequest):
    """``POST /v1/ui/chat``: the body ``DefaultChatTransport`` sends.

    ``id`` is the chat's id and ``messages`` are UI messages; the fields of the transport's
    ``body`` option are ``StreamRequest`` fields (``model`` defaults to the gateway's first
    model), so every parameter ``POST /v1/chat/stream`` takes is taken here, and an unknown
    one is a 422 naming it.
    """

    id: str = Field(min_length=1, max_length=200)
    # The UI shapes replace the chat ones; ``stream_request`` converts them back.
    messages: list[UIMessage] = Field(min_length=1)  # type: ignore[assignment]
    model: str | None = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    trigger: Literal["submit-message", "regenerate-message"] | None = None
    messageId: str | None = None

    def continued_message_id(self) -> str | None:
        """The id of the assistant message this request continues, or None.

        When the last message is the assistant's (its tool calls now have their outputs), the
        answer adds to that message, so its stream names it as the AI SDK's own server does
        (``getResponseUIMessageId``); otherwise the answer is a new message, named by its
        stream.
        """
        last = self.messages[-1]
        return last.id if last.role == "assistant" and last.id else None

    def stream_request(self, default_model: str) -> StreamRequest:
        """The ``StreamRequest`` this chat request asks for."""
        fields = self.model_dump(exclude=set(_UI_FIELDS | {"model"}), exclude_unset=True)
        fields["model"] = self.model or default_model
        fields["messages"] = to_chat_messages(self.messages)
        return StreamRequest.model_validate(fields)


def chat_link_name(owner: str, chat_id: str) -> str:
    """The store link of ``chat_id``'s latest stream, private to ``owner``."""
    return f"ui-chat:{len(owner)}:{owner}:{chat_id}"


def message_link_name(stream_id: str) -> str:
    """The store link of the UI message a stream continues (see ``continued_message_id``)."""
    return f"ui-message:{stream_id}"


def _tool_call(part: UIToolPart) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The ``tool_calls`` entry of a tool part and the ``tool`` message answering it; None
    while it has no outcome yet (a model must not see a call without its answer)."""
    if part.state == "output-available":
        output = part.output
        content = output if isinstance(output, str) else orjson.dumps(output).decode()
    elif part.state in {"output-error", "output-denied"}:
        content = f"error: {part.errorText or part.state.replace('-', ' ')}"
    else:
        return None
    name = part.toolName if part.type == "dynamic-tool" else part.type[len("tool-") :]
    arguments = orjson.dumps(part.input if part.input is not None else {}).decode()
    function = {"name": name or "tool", "arguments": arguments}
    call = {"id": part.toolCallId, "type": "function", "function": function}
    return call, {"role": "tool", "tool_call_id": part.toolCallId, "content": content}


def _assistant(parts: list[UIPart]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []

    def flush() -> None:
        if text or calls:
            message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
            if calls:
                message["tool_calls"] = list(calls)
            out.append(message)
            out.extend(results)
        text.clear()
        calls.clear()
        results.clear()

    for part in parts:
        if isinstance(part, UITextPart) and part.type == "text":
            if calls:
                flush()
            text.append(part.text)
        elif isinstance(part, UIToolPart):
            answered = _tool_call(part)
            if answered is not None:
                calls.append(answered[0])
                results.append(answered[1])
        elif isinstance(part, UIDisplayPart) and part.type == "step-start":
            flush()
    flush()
    return out


def _user(role: str, parts: list[UIPart]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, UITextPart) and part.type == "text":
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, UIFilePart):
            content.append({"type": "image_url", "image_url": {"url": part.url}})
    if all(c["type"] == "text" for c in content):
        return {"role": role, "content": "".join(c["text"] for c in content)}
    return {"role": role, "content": content}


def to_chat_messages(messages: list[UIMessage]) -> list[dict[str, Any]]:
    """OpenAI-shaped chat messages for UI ``messages`` (see the module docstring)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant":
            out.extend(_assistant(message.parts))
        else:
            out.append(_user(message.role, message.parts))
    return out
