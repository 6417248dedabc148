"""The demo model's reading of a request beyond its text: what it refuses, which tool it
calls with which arguments, how it answers a tool's result, and the shape of its answer.

Strategy: pure functions of the ``ChatRequest`` (and the prompt's key words), so the demo
stays deterministic. ``refusal`` names the first thing the demo cannot honour (a non-text
content part, a ``tool_choice`` naming no given tool); ``plan`` decides between a tool call
(``tools`` given, ``tool_choice`` not ``"none"``, and the conversation does not end with a
tool's result) and a text answer; ``example_of`` builds a JSON value from a JSON schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surestream.upstream.request import ChatMessage, ChatRequest

__all__ = ["REASONING_EFFORTS", "ToolPlan", "example_of", "plan", "refusal", "tool_answer"]

REASONING_EFFORTS = {"none": 0, "minimal": 0, "low": 1, "medium": 2, "high": 3, "xhigh": 3}
"""``reasoning_effort`` -> sentences of reasoning the demo writes before its answer."""

_MAX_SCHEMA_DEPTH = 8
_RESULT_CHARS = 200


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """One call the demo makes: its id, the tool's name, and the arguments."""

    id: str
    name: str
    args: Any

    @property
    def arguments(self) -> str:
        """The arguments as JSON text with a space after each separator (words to stream)."""
        return json.dumps(self.args, ensure_ascii=False)


def _function(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    function = tool.get("function")
    return function if isinstance(function, Mapping) else {}


def _named_choice(request: ChatRequest) -> str | None:
    choice = request.params.get("tool_choice")
    if isinstance(choice, Mapping):
        name = _function(choice).get("name")
        return name if isinstance(name, str) else None
    return None


def refusal(request: ChatRequest) -> tuple[str, str] | None:
    """``(field, why)`` for the first part of ``request`` the demo cannot honour, or None."""
    for index, message in enumerate(request.messages):
        if isinstance(message.content, tuple):
            for number, part in enumerate(message.content):
                if part.get("type") != "text":
                    kind = part.get("type")
                    return (
                        f"messages.{index}.content.{number}",
                        f"the demo model reads text only, not {kind!r} parts",
                    )
    names = [_function(t).get("name") for t in request.tools]
    wanted = _named_choice(request)
    if wanted is not None and wanted not in names:
        return "tool_choice", f"tool_choice names {wanted!r}, which is not among the tools"
    if request.params.get("tool_choice") == "required" and not names:
        return "tool_choice", "tool_choice is 'required' but no tools were given"
    return None


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for key in ref[2:].split("/"):
            target = target.get(key) if isinstance(target, Mapping) else None
        return target if isinstance(target, Mapping) else {}
    return schema


def example_of(schema: Any, words: list[str], root: Any = None, depth: int = 0) -> Any:
    """A JSON value that fits ``schema``: its ``const``, ``default`` or first ``enum``
    value, else one made from the type (strings are taken from ``words`` in turn; objects get
    their required properties, or all of them when none is required; a schema without a type
    is an object at the top, else a string)."""
    root = schema if root is None else root
    schema = _resolve(schema, root if isinstance(root, Mapping) else {})
    if not isinstance(schema, Mapping) or depth > _MAX_SCHEMA_DEPTH:
        return {} if depth == 0 else None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return example_of(options[0], words, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and ("properties" in schema or depth == 0)):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        names = [n for n in required if n in properties] if isinstance(required, list) else []
        return {
            name: example_of(properties[name], words, root, depth + 1)
            for name in (names or list(properties))
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), words, root, depth + 1)]
    if kind in ("integer", "number"):
        low = schema.get("minimum")
        return low if isinstance(low, int | float) else 1
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    word = words.pop(0) if words else "example"
    words.append(word)
    return word


def _call_id(request: ChatRequest, seed: int) -> str:
    transcript = json.dumps([m.to_json() for m in request.messages], sort_keys=True)
    digest = hashlib.sha256(f"{seed}\x00{transcript}".encode()).hexdigest()
    return "call_" + digest[:24]


def plan(request: ChatRequest, words: list[str], seed: int) -> ToolPlan | None:
    """The tool call the demo answers ``request`` with, or None for a text answer."""
    tools = request.tools
    choice = request.params.get("tool_choice")
    last = request.messages[-1] if request.messages else None
    if not tools or choice == "none" or (last is not None and last.role == "tool"):
        return None
    wanted = _named_choice(request)
    tool = next((t for t in tools if _function(t).get("name") == wanted), tools[0])
    function = _function(tool)
    name = function.get("name")
    args = example_of(function.get("parameters", {}), list(words) or ["example"])
    return ToolPlan(_call_id(request, seed), name if isinstance(name, str) else "", args)


def _calls_by_id(messages: tuple[ChatMessage, ...]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in messages:
        for call in message.tool_calls or ():
            function = call.get("function")
            name = function.get("name") if isinstance(function, Mapping) else None
            if isinstance(call.get("id"), str) and isinstance(name, str):
                names[call["id"]] = name
    return names


def _result_text(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, Mapping) and value:
        pairs = [f"{key} {json.dumps(item, ensure_ascii=False)}" for key, item in value.items()]
        text = ", ".join(pairs)
    text = " ".join(text.split())
    if len(text) > _RESULT_CHARS:
        text = text[: _RESULT_CHARS - 3].rstrip() + "..."
    return text or "nothing"


def tool_answer(request: ChatRequest) -> str | None:
    """The text answer to a conversation that ends with tools' results, or None."""
    messages = tuple(request.messages)
    results: list[ChatMessage] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.insert(0, message)
    if not results:
        return None
    names = _calls_by_id(messages)
    sentences = [
        f"The {names.get(r.tool_call_id or '', 'tool')} tool returned {_result_text(r.text)}."
        for r in results
    ]
    return " ".join([*sentences, "That is what I found; ask if you need more detail."])
