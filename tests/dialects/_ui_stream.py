"""The AI SDK's rules for a UI message stream, in Python, for the vercel-ai property tests.

``ui_stream_problems(body)`` lists what the AI SDK's ``processUIMessageStream`` (ai 6,
``ui/process-ui-message-stream.ts``) would throw on -- a ``text-delta`` / ``-end`` without its
``text-start``, the same for reasoning, a ``tool-input-delta`` without its
``tool-input-start``, a ``tool-output-*`` for a call it does not know -- plus what our encoder
promises beyond that: one ``start`` first, ids never reused, every block closed and every
named call finished or left ``input-available``/``input-streaming`` only at ``finish``, no
chunk after the terminal one but ``[DONE]``, and ``[DONE]`` last. The Node tests run the
real package on real servers; this mirror lets hypothesis try thousands of event sequences.
"""

from __future__ import annotations

from typing import Any

import orjson

from tests.dialects._helpers import sse_events


def ui_chunks(body: bytes) -> list[Any]:
    """Each data payload of ``body``: parsed JSON, or the string ``[DONE]``."""
    return [s.data if s.data == "[DONE]" else orjson.loads(s.data) for s in sse_events([body])]


def ui_stream_problems(body: bytes) -> list[str]:
    """What is wrong with ``body`` as a UI message stream read on its own (empty: nothing)."""
    problems: list[str] = []
    chunks = ui_chunks(body)
    if not chunks or chunks[-1] != "[DONE]":
        problems.append("does not end with [DONE]")
    active: dict[str, set[str]] = {"text": set(), "reasoning": set()}
    opened: set[str] = set()
    partial: set[str] = set()
    tools: dict[str, bool] = {}
    """Known tool calls -> finished (a result was given)."""
    ended = False
    for index, chunk in enumerate(chunks):
        if chunk == "[DONE]":
            if index != len(chunks) - 1:
                problems.append(f"[DONE] at {index} is not last")
            continue
        kind = chunk["type"]
        where = f"{kind} at {index}"
        if ended:
            problems.append(f"{where} after the terminal chunk")
        if (kind == "start") != (index == 0):
            problems.append(f"{where}: start must come first, once")
        block, _, phase = kind.rpartition("-")
        if block in active:
            block_id = chunk["id"]
            if phase == "start":
                if block_id in opened:
                    problems.append(f"{where}: id {block_id} reused")
                opened.add(block_id)
                active[block].add(block_id)
            elif block_id not in active[block]:
                problems.append(f"{where}: {block_id} has no open {block}-start")
            elif phase == "end":
                active[block].discard(block_id)
        elif kind == "tool-input-start":
            partial.add(chunk["toolCallId"])
            tools[chunk["toolCallId"]] = False
        elif kind == "tool-input-delta":
            if chunk["toolCallId"] not in partial:
                problems.append(f"{where}: no tool-input-start for {chunk['toolCallId']}")
        elif kind == "tool-input-available":
            tools[chunk["toolCallId"]] = False
        elif kind in ("tool-output-available", "tool-output-error"):
            if chunk["toolCallId"] not in tools:
                problems.append(f"{where}: unknown tool call {chunk['toolCallId']}")
            tools[chunk["toolCallId"]] = True
        elif kind == "finish-step":
            active = {"text": set(), "reasoning": set()}
        elif kind in ("finish", "abort", "error"):
            ended = True
            if active["text"] or active["reasoning"]:
                problems.append(f"{where}: blocks still open: {active}")
            if kind == "error" and not all(tools.values()):
                problems.append(f"{where}: tool calls left unfinished: {tools}")
    if not ended:
        problems.append("no finish, abort or error")
    return problems
