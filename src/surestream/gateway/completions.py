"""The non-streaming answers: ``POST /v1/chat/completions`` (the OpenAI ``chat.completion``)
and ``POST /v1/messages`` (the Anthropic ``message``).

Strategy: the whole answer is generated through ``Gateway.run_to_end`` (the same limits,
``idle_timeout`` and metrics as a stream) and returned as one JSON object in the API's shape.
A failure after the first token cannot become an ``error`` event here, so it becomes an HTTP
error: 504 for the timeouts, 502 otherwise. The OpenAI message carries everything the model
said: ``content`` (null when the model only called tools), ``tool_calls`` with each call's
arguments as JSON text, and ``reasoning_content`` when it reasoned (the field the streamed
chunks use); the Anthropic one its content blocks (``whole_message`` of the anthropic
dialect: ``thinking``, ``text``, ``tool_use``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from surestream.dialects.anthropic import message_id, whole_message
from surestream.dialects.openai import arguments_text
from surestream.errors import SourceFailed
from surestream.events import Done, ErrorCode, Event, FinishReason, Reasoning, Text, ToolCall
from surestream.gateway.errors import ApiError, retry_later
from surestream.gateway.service import Gateway
from surestream.upstream import ChatRequest, Upstream

__all__ = ["anthropic_message", "completion"]

_TIMEOUTS = {ErrorCode.UPSTREAM_TIMEOUT, ErrorCode.IDLE_TIMEOUT}


async def _answer(
    gateway: Gateway, owner: str, upstream: Upstream, request: ChatRequest
) -> tuple[list[Event], Done]:
    """The whole answer's events and its ``Done``; ``ApiError`` when it fails."""
    try:
        events, done = await gateway.run_to_end(owner, upstream, request)
    except SourceFailed as exc:
        status = 504 if exc.code in _TIMEOUTS else 502
        raise ApiError(status, str(exc.code), exc.message or str(exc.code)) from None
    if done.finish_reason == FinishReason.CANCELLED:
        raise retry_later(503, "unavailable", "the answer was cancelled")
    return events, done


async def anthropic_message(
    gateway: Gateway, owner: str, upstream: Upstream, request: ChatRequest
) -> dict[str, Any]:
    """The Anthropic ``message`` object for ``request``; ``ApiError`` when it fails."""
    events, done = await _answer(gateway, owner, upstream, request)
    name = message_id(secrets.token_hex(12))
    return whole_message(events, done, message_id=name, model=request.model)


async def completion(
    gateway: Gateway, owner: str, upstream: Upstream, request: ChatRequest
) -> dict[str, Any]:
    """The ``chat.completion`` object for ``request``; ``ApiError`` when it fails."""
    events, done = await _answer(gateway, owner, upstream, request)
    reason = str(done.finish_reason)
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {"index": 0, "message": _message(events), "finish_reason": reason, "logprobs": None}
        ],
        "usage": dict(done.usage) if done.usage else None,
    }


def _message(events: list[Event]) -> dict[str, Any]:
    text = "".join([e.text for e in events if type(e) is Text])
    calls = [e for e in events if isinstance(e, ToolCall)]
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_text(call.args)},
            }
            for call in calls
        ]
    reasoning = "".join([e.text for e in events if isinstance(e, Reasoning)])
    if reasoning:
        message["reasoning_content"] = reasoning
    return message
