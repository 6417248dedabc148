"""Our ``ChatRequest`` (the OpenAI chat shape) as an Anthropic Messages API request body.

Strategy: a pure function, ``messages_body``, with no I/O; what the Messages API cannot
carry raises ``UpstreamHTTPError(422, "unsupported_by_model")`` naming the field, as the
demo model does, before any request is sent (nothing is dropped silently). The mapping:

- ``system`` and ``developer`` messages -> the top-level ``system`` text (joined by blank
  lines, wherever they stood); ``user`` -> ``user``; ``assistant`` -> ``assistant`` with its
  text and each of its ``tool_calls`` as a ``tool_use`` block (``input``: the parsed
  arguments, which must be a JSON object); ``tool`` -> a ``user`` message with a
  ``tool_result`` block for its ``tool_call_id``. Consecutive messages of one role are
  merged into one (the Messages API alternates roles; its tool results must follow the
  calls in one message). An assistant's ``thinking_blocks`` (its signed ``thinking`` and
  ``redacted_thinking`` blocks, as ``POST /v1/messages`` received them) lead its content, as
  they came, where the API put them; its ``reasoning_content`` is not sent (the API takes
  thinking back only with its signature).
- content parts: ``text`` -> ``text``; ``image_url`` -> ``image`` (a ``data:`` URL as a
  ``base64`` source, any other URL as a ``url`` source); any other part is refused.
- ``max_tokens`` / ``max_completion_tokens`` -> ``max_tokens`` (the API requires one: the
  upstream's ``default_max_tokens`` when the client gave none); ``temperature``, ``top_p``
  -> the same; ``stop`` -> ``stop_sequences``; ``user`` -> ``metadata.user_id``.
- ``tools`` (``function`` tools) -> ``{name, description, input_schema}``; ``tool_choice``
  ``auto`` / ``none`` / ``required`` / a named function -> ``auto`` / ``none`` / ``any`` /
  ``tool``; ``parallel_tool_calls: false`` -> ``disable_parallel_tool_use``.
- a thinking budget: ``params["thinking"]`` (the Messages API's own object, as a client of
  ``POST /v1/messages`` gave it: ``surestream.upstream.request.ANTHROPIC_PARAMS``) as given, or
  ``reasoning_effort`` -> ``thinking.budget_tokens`` by ``THINKING_BUDGETS`` (``none`` and
  ``minimal``: no thinking). ``max_tokens`` counts the thinking too: without a client limit
  it is the budget plus ``default_max_tokens``; a client limit at or below the budget lowers
  the budget to fit, and one that leaves less than the API's minimum budget is refused, as
  is a forced tool (``required`` or a named one) with a thinking budget (the API's rule).
- refused: ``seed``, ``frequency_penalty``, ``presence_penalty``, ``logit_bias``, a
  ``response_format`` other than ``text``, ``n`` other than 1, ``logprobs``/``top_logprobs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from surestream.errors import UpstreamHTTPError
from surestream.upstream.request import ChatMessage, ChatRequest

__all__ = [
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "MIN_THINKING_BUDGET",
    "THINKING_BUDGETS",
    "messages_body",
]

DEFAULT_ANTHROPIC_MAX_TOKENS = 4096
"""``max_tokens`` sent when the client gave no limit (the Messages API requires one)."""

MIN_THINKING_BUDGET = 1024
"""The smallest ``thinking.budget_tokens`` the Messages API accepts."""

THINKING_BUDGETS: Mapping[str, int] = {
    "low": 1024,
    "medium": 4096,
    "high": 16384,
    "xhigh": 32768,
}
"""``reasoning_effort`` -> ``thinking.budget_tokens`` (``none`` and ``minimal``: no thinking)."""

_SYSTEM_ROLES = ("system", "developer")
_TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "any"}


def _refuse(field: str, why: str) -> UpstreamHTTPError:
    return UpstreamHTTPError(422, "unsupported_by_model", f"{field}: {why}")


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media_type = head[len("data:") :].removesuffix(";base64")
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _blocks(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    """The message's content as Anthropic content blocks."""
    if message.content is None:
        return []
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(message.content):
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url" and isinstance(part.get("image_url"), Mapping):
            blocks.append({"type": "image", "source": _image(str(part["image_url"].get("url")))})
        else:
            raise _refuse(f"{where}.content.{index}", f"a {kind!r} part has no Anthropic form")
    return blocks


def _tool_use(call: Mapping[str, Any], where: str) -> dict[str, Any]:
    function = call.get("function")
    function = function if isinstance(function, Mapping) else {}
    arguments = function.get("arguments") or "{}"
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise _refuse(f"{where}.function.arguments", "must be a JSON object for Anthropic")
    return {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": value}


def _thinking_blocks(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    given = message.extra.get("thinking_blocks") or []
    if not isinstance(given, list) or not all(
        isinstance(b, Mapping) and b.get("type") in ("thinking", "redacted_thinking") for b in given
    ):
        raise _refuse(f"{where}.thinking_blocks", "must be thinking or redacted_thinking blocks")
    return [dict(b) for b in given]


def _turn(message: ChatMessage, where: str) -> tuple[str, list[dict[str, Any]]]:
    """(Anthropic role, content blocks) of one non-system message."""
    if message.role == "tool":
        content: Any = message.content if isinstance(message.content, str) else None
        if content is None:
            content = _blocks(message, where)
        result = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}
        return "user", [result]
    if message.role == "assistant":
        blocks = [*_thinking_blocks(message, where), *_blocks(message, where)]
        for index, call in enumerate(message.tool_calls or ()):
            blocks.append(_tool_use(call, f"{where}.tool_calls.{index}"))
        return "assistant", blocks
    if message.role == "user":
        return "user", _blocks(message, where)
    raise _refuse(f"{where}.role", f"{message.role!r} has no Anthropic form")


def _conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(system text, Anthropic messages) with consecutive turns of one role merged."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role in _SYSTEM_ROLES:
            system.append(message.text)
            continue
        role, blocks = _turn(message, f"messages.{index}")
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            turn["content"] = blocks[0]["text"]
    return "\n\n".join(part for part in system if part), turns


def _tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for index, tool in enumerate(tools):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, Mapping):
            raise _refuse(f"tools.{index}", "only function tools have an Anthropic form")
        entry: dict[str, Any] = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if isinstance(choice, str):
        out: dict[str, Any] = {"type": _TOOL_CHOICES.get(choice, "auto")}
    elif isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        out = {"type": "tool", "name": choice["function"].get("name")}
    elif parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _refuse_unsupported(params: Mapping[str, Any], seed: int | None) -> None:
    if seed is not None:
        raise _refuse("seed", "the Messages API has no seed")
    for name in ("frequency_penalty", "presence_penalty", "logit_bias"):
        if params.get(name) is not None:
            raise _refuse(name, "the Messages API has no such parameter")
    response_format = params.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") != "text":
        raise _refuse("response_format", "the Messages API has no response format")
    if params.get("n") not in (None, 1):
        raise _refuse("n", "one answer per request")
    if params.get("logprobs") or params.get("top_logprobs") is not None:
        raise _refuse("logprobs", "the Messages API has no log probabilities")


def _thinking(request: ChatRequest, default_max_tokens: int) -> tuple[int, Any]:
    """(max_tokens, the ``thinking`` object or None)."""
    limit, given = request.limit, request.params.get("thinking")
    if isinstance(given, Mapping):
        budget = given.get("budget_tokens")
        room = budget if isinstance(budget, int) else 0
        return limit or room + default_max_tokens, dict(given)
    budget = THINKING_BUDGETS.get(str(request.params.get("reasoning_effort")))
    if budget is None:
        return limit or default_max_tokens, None
    if limit is None:
        return budget + default_max_tokens, {"type": "enabled", "budget_tokens": budget}
    if limit <= MIN_THINKING_BUDGET:
        raise _refuse(
            "reasoning_effort",
            f"an Anthropic model thinks with at least {MIN_THINKING_BUDGET} tokens, "
            f"which max_tokens {limit} leaves no room for",
        )
    return limit, {"type": "enabled", "budget_tokens": min(budget, limit - 1)}


def messages_body(
    request: ChatRequest, model: str, *, default_max_tokens: int = DEFAULT_ANTHROPIC_MAX_TOKENS
) -> dict[str, Any]:
    """The streaming Messages API body for ``request`` sent to ``model`` (see the module
    docstring); ``UpstreamHTTPError`` 422 naming what has no Anthropic form."""
    params = request.params
    _refuse_unsupported(params, request.seed)
    system, messages = _conversation(request.messages)
    max_tokens, thinking = _thinking(request, default_max_tokens)
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system:
        body["system"] = system
    if thinking is not None:
        body["thinking"] = thinking
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if params.get("top_p") is not None:
        body["top_p"] = params["top_p"]
    stop = params.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if request.tools:
        body["tools"] = _tools(request.tools)
    choice = _tool_choice(params.get("tool_choice"), params.get("parallel_tool_calls"))
    if choice is not None:
        body["tool_choice"] = choice
    if (
        choice
        and choice["type"] in ("any", "tool")
        and thinking
        and thinking.get("type") == "enabled"
    ):
        raise _refuse("tool_choice", "a model that thinks takes only auto or none on Anthropic")
    if isinstance(params.get("user"), str):
        body["metadata"] = {"user_id": params["user"]}
    body["stream"] = True
    return body
