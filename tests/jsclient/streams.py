"""``run_stream(url, **options)``: the package's ``stream()`` in Node, as JSON for a test."""

from __future__ import annotations

import json
from typing import Any

from tests.support.node import run_node

# Prints {ok: result, seen} or {name, code, ..., seen}; `seen` holds [event, meta.id] pairs
# (the client's states included) in the order onEvent got them.
STREAM = """
import { stream } from "surestream";
const [url, options] = [process.argv[2], JSON.parse(process.argv[3])];
const seen = [];
const out = await stream(url, { ...options,
  onEvent: (event, meta) => seen.push([event, meta.id ?? null]) })
  .then((ok) => ({ ok }))
  .catch((e) => ({ name: e.name, message: e.message, code: e.code ?? null,
                   status: e.status ?? null, reason: e.reason ?? null,
                   attempts: e.attempts ?? null, lastEventId: e.lastEventId ?? null,
                   text: e.text ?? null }));
console.log(JSON.stringify({ ...out, seen }));
"""


def run_stream(url: str, **options: Any) -> dict[str, Any]:
    """``stream(url, options)`` in Node: ``{ok: result}`` or the error's fields, and ``seen``."""
    result: dict[str, Any] = run_node(STREAM, url, json.dumps(options))
    return result


def kinds(result: dict[str, Any]) -> list[str]:
    """The types of the stream's events ``onEvent`` got (the client's states left out)."""
    return [event["type"] for event, _ in result["seen"] if event["type"] != "state"]


def states(result: dict[str, Any], state: str | None = None) -> list[dict[str, Any]]:
    """The client's own state events (only ``state`` ones if given)."""
    return [
        event
        for event, _ in result["seen"]
        if event["type"] == "state" and (state is None or event["state"] == state)
    ]
