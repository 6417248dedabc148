"""The fake upstream's Anthropic wire: a ``Scenario`` as a Messages API answer.

Strategy: pure functions from (request body, scenario) to the bytes of the answer, no I/O;
``surestream.testing.fake_upstream`` plays them with the same fault points as its OpenAI
wire. A stream is ``message_start`` and a ``ping`` (the head), one piece per counted chunk
of the scenario (a thinking word, a text word, a tool call's start, a piece of its
arguments: a block's ``content_block_start`` travels with its first piece and its
``content_block_stop`` with its last, so a cut inside a block leaves it open), then
``message_delta`` with the stop reason and the output tokens (``finish``) and
``message_stop`` (``done``). ``error_after`` sends ``event: error`` with ``error_type``.
A thinking block is signed (``signature_of`` its text, in a ``signature_delta`` before its
stop); ``unsigned_thinking`` is the API's check of the thinking sent back in a later turn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from surestream.dialects._anthropic_wire import (
    CONTENT_BLOCK_DELTA,
    CONTENT_BLOCK_START,
    CONTENT_BLOCK_STOP,
    ERROR,
    MESSAGE_DELTA,
    MESSAGE_START,
    MESSAGE_STOP,
    PING,
    STOP_REASON_OF,
)
from surestream.sse import frame
from surestream.testing.scenario import Scenario

__all__ = [
    "PING_EVENT",
    "error_body",
    "error_event",
    "message",
    "signature_of",
    "stream_parts",
    "unsigned_thinking",
]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""The Messages API's error type for an HTTP status (any other: ``api_error``)."""


def _event(kind: str, payload: Mapping[str, Any] | None = None) -> bytes:
    return frame(orjson.dumps({"type": kind, **(payload or {})}), event=kind.encode())


PING_EVENT = _event(PING)
"""``event: ping``: what the Messages API sends to keep a connection alive."""


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of a refusal with ``status``."""
    error = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
    return {"type": "error", "error": error}


def error_event(error_type: str, message: str) -> bytes:
    """An in-stream ``event: error``."""
    return _event(ERROR, {"error": {"type": error_type, "message": message}})


def signature_of(thinking: str) -> str:
    """The fake's signature of a thinking block's text (a real one is opaque too)."""
    return "fake-sig-" + hashlib.sha256(thinking.encode()).hexdigest()[:16]


def _thinking_problem(where: str, block: Mapping[str, Any]) -> str | None:
    signature = block.get("signature")
    if not isinstance(signature, str) or not signature:
        return f"{where}.signature: Field required"
    if signature != signature_of(str(block.get("thinking", ""))):
        return f"{where}: Invalid `signature` in `thinking` block"
    return None


def unsigned_thinking(body: Mapping[str, Any]) -> str | None:
    """What the Messages API would refuse in the thinking sent back in ``body``: a thinking
    block without its own signature, or (``thinking`` enabled) an assistant turn with a
    ``tool_use`` not led by its thinking; None when it would take it."""
    thinking = body.get("thinking")
    enabled = isinstance(thinking, Mapping) and thinking.get("type") == "enabled"
    for number, turn in enumerate(body.get("messages") or ()):
        content = turn.get("content") if isinstance(turn, Mapping) else None
        if turn.get("role") != "assistant" or not isinstance(content, list):
            continue
        kinds = [b.get("type") for b in content if isinstance(b, Mapping)]
        if enabled and "tool_use" in kinds and kinds[0] not in ("thinking", "redacted_thinking"):
            return (
                f"messages.{number}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                f"but found `{kinds[0]}`. When `thinking` is enabled, a final `assistant` "
                "message must start with a thinking block."
            )
        for index, block in enumerate(content):
            if isinstance(block, Mapping) and block.get("type") == "thinking":
                problem = _thinking_problem(f"messages.{number}.content.{index}", block)
                if problem is not None:
                    return problem
    return None


def _stop_reason(s: Scenario) -> str:
    reason = s.finish_reason_sent()
    return STOP_REASON_OF.get(reason, reason)


def _usage(body: Mapping[str, Any], s: Scenario) -> dict[str, int]:
    prompt = s.usage_of(body)["prompt_tokens"]
    system = body.get("system")
    prompt += len(system.split()) if isinstance(system, str) else 0
    return {
        "input_tokens": prompt,
        "cache_creation_input_tokens": s.cache_creation,
        "cache_read_input_tokens": s.cache_read,
        "output_tokens": s.usage_of(body)["completion_tokens"],
    }


def _calls(s: Scenario) -> list[tuple[str, str, str]]:
    """(id, name, arguments JSON text) of each tool call."""
    return [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in s.calls()]


def message(index: int, body: Mapping[str, Any], s: Scenario) -> dict[str, Any]:
    """The whole (non-streaming) ``message`` answer."""
    content: list[dict[str, Any]] = []
    if s.reasoning:
        thinking = {"type": "thinking", "thinking": s.reasoning}
        content.append({**thinking, "signature": signature_of(s.reasoning)})
    if s.words():
        content.append({"type": "text", "text": "".join(s.words())})
    for call_id, name, arguments in _calls(s):
        try:
            arguments_value = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            arguments_value = {}
        content.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments_value})
    return {
        "id": f"msg_fake{index}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": content,
        "stop_reason": _stop_reason(s),
        "stop_sequence": None,
        "usage": _usage(body, s),
    }


def _block(
    index: int,
    start: dict[str, Any],
    deltas: list[dict[str, Any]],
    *,
    closing: tuple[dict[str, Any], ...] = (),
    own_start: bool = False,
) -> list[bytes]:
    """One content block as pieces: the start with the first delta (or on its own), the
    ``closing`` deltas and the stop with the last."""

    def delta(d: dict[str, Any]) -> bytes:
        return _event(CONTENT_BLOCK_DELTA, {"index": index, "delta": d})

    opening = _event(CONTENT_BLOCK_START, {"index": index, "content_block": start})
    pieces = [delta(d) for d in deltas]
    if own_start or not pieces:
        pieces.insert(0, b"")
    pieces[0] = opening + pieces[0]
    pieces[-1] += b"".join(map(delta, closing)) + _event(CONTENT_BLOCK_STOP, {"index": index})
    return pieces


def stream_parts(
    index: int, body: Mapping[str, Any], s: Scenario
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(head, pieces, tail) of a streamed answer (see the module docstring)."""
    whole = message(index, body, s)
    usage = whole["usage"]
    start = {**whole, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    head = [_event(MESSAGE_START, {"message": start}), PING_EVENT]
    pieces: list[bytes] = []
    if s.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": w} for w in s.reasoning_words()]
        signature = {"type": "signature_delta", "signature": signature_of(s.reasoning)}
        thinking = {"type": "thinking", "thinking": "", "signature": ""}
        pieces += _block(0, thinking, deltas, closing=(signature,))
    blocks = 1 if s.reasoning else 0
    if s.words():
        deltas = [{"type": "text_delta", "text": w} for w in s.words()]
        pieces += _block(blocks, {"type": "text", "text": ""}, deltas)
        blocks += 1
    step = max(s.args_piece, 1)
    for number, (call_id, name, arguments) in enumerate(_calls(s), start=blocks):
        tool_use = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": arguments[i : i + step]}
            for i in range(0, len(arguments), step)
        ]
        pieces += _block(number, tool_use, deltas, own_start=True)
    tail = []
    if s.finish:
        stop = {"stop_reason": _stop_reason(s), "stop_sequence": None}
        output = {"output_tokens": usage["output_tokens"]}
        tail.append(_event(MESSAGE_DELTA, {"delta": stop, "usage": output}))
    if s.done:
        tail.append(_event(MESSAGE_STOP))
    return head, pieces, tail
