"""The built-in ``demo`` model: a deterministic, offline stand-in for a real LLM.

Strategy: the answer is a pure function of (last user message, seed): the prompt's key words
(longest non-stopwords, in order of appearance) fill a few sentence templates chosen by a
``random.Random`` seeded from a SHA-256 of prompt and seed, so the same prompt and seed give
the same text on every machine and Python version. The text streams one word per ``Text``
event (every word after the first carries its leading space), paced on an absolute schedule
of ``tokens_per_second`` with ``asyncio.sleep`` (0 or None: as fast as possible, yielding to
the event loop between words). ``max_tokens`` (the request's, capped by the model's) cuts
the answer with ``finish_reason`` ``length``. ``Done.usage`` counts prompt words and emitted
words (reasoning words also in ``completion_tokens_details.reasoning_tokens``).

The OpenAI parameters of the request (``ChatRequest.params``), honoured or refused with a
422 ``UpstreamHTTPError`` before any token (``surestream.upstream._demo_agent``):

- ``tools``: unless ``tool_choice`` is ``"none"`` or the conversation ends with tool results,
  the demo reasons briefly, then calls the first tool (or the one ``tool_choice`` names) with
  arguments built from its JSON schema (``ToolCallStart``, the arguments' JSON text in
  ``ToolCallDelta`` pieces, ``ToolCall``), and ends with ``finish_reason`` ``tool_calls``.
  After ``tool`` messages it answers in text with their results. A ``tool_choice`` naming
  no given tool, or ``"required"`` without tools, is refused; ``parallel_tool_calls`` is
  met trivially (one call).
- ``reasoning_effort``: ``none``/``minimal`` no reasoning, ``low`` one sentence, ``medium``
  two, ``high``/``xhigh`` three; without it the demo reasons before a tool call, and before
  a text answer only when the model's ``reasoning`` setting is on.
- ``response_format``: ``json_object`` answers ``{"answer": <text>}``, ``json_schema`` a
  value built from the schema; ``stop`` cuts the answer before the first stop string.
- content parts: text parts are read; any other part (``image_url``) is refused.
- sampling (``temperature``, ``top_p``, ``frequency_penalty``, ``presence_penalty``,
  ``logit_bias``) and ``user``: accepted, no effect: the demo is deterministic by design
  (``seed`` picks among its answers).

Timestamps for load benchmarks (``stamp=True``): each ``Text`` keeps its shape but its text is
the production time instead of a word, ``" <unix seconds with 6 decimals>"`` (e.g.
``" 1712345678.123456"``), taken just before the event is handed on. A raw-socket client finds
it in the ``"text":"..."`` of the data line without a JSON parser; ``parse_stamp`` reads it
back. One event per token, as without stamps, so the stamp does not change the load.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from surestream._closing import AsyncClosing
from surestream.events import (
    Done,
    Event,
    FinishReason,
    Reasoning,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)
from surestream.upstream._demo_agent import (
    REASONING_EFFORTS,
    ToolPlan,
    example_of,
    plan,
    refusal,
    tool_answer,
)
from surestream.upstream.base import ChatRequest, ModelInfo, UpstreamHTTPError

__all__ = [
    "DEFAULT_DEMO_MAX_TOKENS",
    "DEFAULT_TOKENS_PER_SECOND",
    "DemoModel",
    "DemoStream",
    "parse_stamp",
]

DEFAULT_TOKENS_PER_SECOND = 20.0
"""Words per second the demo streams at: readable in the chat page."""

DEFAULT_DEMO_MAX_TOKENS = 4096
"""The demo's own cap on any answer, in words (a request's ``max_tokens`` can only lower it)."""

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'+#-]*[A-Za-z0-9+#]|[A-Za-z]")

_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just let me more most my myself no nor not now of off on once only or other
    our ours out over own please same she should so some such tell than that the their theirs
    them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself explain give
    show know want need like make way thing things get got really much many also say said
    write hello hi hey thanks thank"""

_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_OPENINGS = (
    "Good question about {a}.",
    "Let me walk you through {a}.",
    "Here is a short answer about {a}.",
    "Thanks for asking about {a}.",
    "Happy to help with {a}.",
)

_BODY = (
    "In short, {a} is easiest to understand when you look at how it connects to {b}.",
    "A useful way to think about {a} is as a series of small, concrete steps.",
    "Most people start with {b}, then come back to {a} once the basics feel familiar.",
    "The details of {b} matter less than getting the overall shape of {a} right.",
    "If you try one thing today, sketch how {a} and {c} fit together on paper.",
    "It often helps to compare {a} with {c} and note where they differ.",
    "Start small, check each step, and keep notes on what surprised you about {b}.",
    "Examples beat definitions: pick a simple case of {b} and follow it from end to end.",
    "A common mistake is to treat {c} as an afterthought, when it shapes {a} from the start.",
    "Once {a} makes sense, {b} usually follows with very little extra effort.",
)

_CLOSINGS = (
    "I hope that helps, and feel free to ask a follow-up about {c}.",
    "Let me know if you would like more detail on {b}.",
    "That is the gist of it; ask again if {a} still feels unclear.",
    "Happy exploring, and good luck with {a}!",
)


def _keywords(prompt: str, count: int = 3) -> list[str]:
    seen: dict[str, int] = {}
    for index, match in enumerate(_WORD.finditer(prompt)):
        word = match.group(0)
        low = word.lower()
        if low in _STOPWORDS or len(low) < 3 or low in seen:
            continue
        seen[low] = index
    ranked = sorted(seen, key=lambda w: (-len(w), seen[w]))[:count]
    ranked.sort(key=lambda w: seen[w])
    return ranked


def _rng(prompt: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _compose(prompt: str, seed: int, answer_tokens: int | None) -> list[str]:
    keys = _keywords(prompt)
    fallback = ["your question", "the basics", "the next step"]
    slots = [*keys, *fallback[len(keys) :]][:3]
    a, b, c = slots
    rng = _rng(prompt, seed)
    body = list(_BODY)
    rng.shuffle(body)
    sentences = [rng.choice(_OPENINGS), *body[: rng.randint(2, 4)], rng.choice(_CLOSINGS)]
    words = " ".join(s.format(a=a, b=b, c=c) for s in sentences).split()
    if answer_tokens is not None:
        cycle = 0
        while len(words) < answer_tokens:
            words.extend(body[cycle % len(body)].format(a=a, b=b, c=c).split())
            cycle += 1
        words = words[:answer_tokens]
    return words


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text
    return request.messages[-1].text if request.messages else ""


def _pieces(text: str) -> list[str]:
    """``text`` as stream pieces: the first word bare, each later one with its space."""
    parts = text.split(" ")
    return [parts[0], *(" " + p for p in parts[1:])] if text else []


def _formatted(request: ChatRequest, text: str, words: list[str]) -> str:
    """The answer in the request's ``response_format`` (``json_object``: ``{"answer"}``;
    ``json_schema``: a value of the schema)."""
    form = request.params.get("response_format")
    kind = form.get("type") if isinstance(form, Mapping) else None
    if kind == "json_object":
        return json.dumps({"answer": text}, ensure_ascii=False)
    if kind == "json_schema":
        spec = form.get("json_schema") if isinstance(form, Mapping) else None
        schema = spec.get("schema", {}) if isinstance(spec, Mapping) else {}
        return json.dumps(example_of(schema, list(words) or ["example"]), ensure_ascii=False)
    return text


def _cut_at_stop(text: str, stop: Any) -> str:
    """``text`` up to the first of the ``stop`` strings (one or a list), which is left out."""
    marks = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    found = [text.find(m) for m in marks if isinstance(m, str) and m]
    ends = [i for i in found if i >= 0]
    return text[: min(ends)] if ends else text


def _thoughts(request: ChatRequest, tool: ToolPlan | None, keys: list[str], default: bool) -> str:
    """The reasoning before the answer: as many sentences as ``reasoning_effort`` asks, else
    two before a tool call, one when the model's ``reasoning`` is on, none otherwise."""
    effort = request.params.get("reasoning_effort")
    if isinstance(effort, str) and effort in REASONING_EFFORTS:
        count = REASONING_EFFORTS[effort]
    else:
        count = 2 if tool is not None else int(default)
    a, b, c = [*keys, "the question", "the basics", "the next step"][:3]
    if tool is not None:
        sentences = [f"The user asks about {a}.", f"I should call {tool.name} to find out."]
    elif request.messages and request.messages[-1].role == "tool":
        sentences = ["The tool has answered.", "I will sum up what it returned."]
    else:
        sentences = [f"The user asks about {a}."]
    sentences += [
        f"A short overview that links {a} with {b} should help.",
        f"I will keep it concrete and mention {c}.",
    ]
    return " ".join(sentences[:count])


def parse_stamp(text: str) -> float | None:
    """The production time in a ``stamp=True`` token's text, or None if it holds none."""
    try:
        return float(text)
    except ValueError:
        return None


class DemoStream(AsyncClosing):
    """One demo answer in flight; iterate it once, ``aclose()`` to stop it early."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self._events = events
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events

    async def aclose(self) -> None:
        """Stop generating (idempotent)."""
        if not self._closed:
            self._closed = True
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()


class DemoModel:
    """The built-in ``demo`` upstream: a plausible, deterministic answer, word by word.

    ``tokens_per_second`` paces the words (0 or None: no pacing); ``max_tokens`` caps every
    answer (None: no cap of the model's own); ``seed`` is used when the request has none;
    ``answer_tokens`` forces every answer to exactly that many words (for benchmarks) instead
    of its natural 30-80; ``stamp`` replaces each word with its production time (see the
    module docstring); ``reasoning`` makes it reason briefly before every text answer;
    ``name`` is the model id clients use. Any requested model name is served.
    """

    def __init__(
        self,
        *,
        tokens_per_second: float | None = DEFAULT_TOKENS_PER_SECOND,
        max_tokens: int | None = DEFAULT_DEMO_MAX_TOKENS,
        seed: int = 0,
        answer_tokens: int | None = None,
        stamp: bool = False,
        reasoning: bool = False,
        name: str = "demo",
    ) -> None:
        if tokens_per_second is not None and tokens_per_second < 0:
            raise ValueError("tokens_per_second must be >= 0 (0 or None: as fast as possible)")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError("max_tokens must be >= 1 or None")
        if answer_tokens is not None and answer_tokens < 1:
            raise ValueError("answer_tokens must be >= 1 or None")
        self.tokens_per_second = tokens_per_second or None
        self.max_tokens = max_tokens
        self.seed = seed
        self.answer_tokens = answer_tokens
        self.stamp = stamp
        self.reasoning = reasoning
        self.name = name

    def answer(self, request: ChatRequest) -> list[str]:
        """The whole answer's words (before ``max_tokens``), as ``open`` would stream them."""
        seed = self.seed if request.seed is None else request.seed
        return _compose(_last_user_text(request), seed, self.answer_tokens)

    def _limit(self, request: ChatRequest) -> int | None:
        caps = [c for c in (request.limit, self.max_tokens) if c is not None]
        return min(caps) if caps else None

    async def open(self, request: ChatRequest) -> DemoStream:
        """Start an answer; ``UpstreamHTTPError`` (422) for what the demo cannot honour."""
        refused = refusal(request)
        if refused is not None:
            field, why = refused
            raise UpstreamHTTPError(422, "unsupported_by_model", f"{field}: {why}")
        return DemoStream(self._run(request))

    def _steps(self, request: ChatRequest) -> tuple[list[Event], list[str], str, int]:
        """Every event before the text, the text's pieces (made ``Text`` one by one as they
        stream: a stamped answer never makes them), the finish_reason, and the reasoning
        words."""
        seed = self.seed if request.seed is None else request.seed
        prompt = _last_user_text(request)
        keys = _keywords(prompt)
        tool = plan(request, keys, seed)
        thoughts = _pieces(_thoughts(request, tool, keys, self.reasoning))
        steps: list[Event] = [Reasoning(piece) for piece in thoughts]
        if tool is not None:
            steps.append(ToolCallStart(tool.id, tool.name))
            steps += [ToolCallDelta(tool.id, piece) for piece in _pieces(tool.arguments)]
            steps.append(ToolCall(tool.id, tool.name, tool.args))
            return steps, [], FinishReason.TOOL_CALLS, len(thoughts)
        answer = tool_answer(request)
        if answer is None:
            answer = " ".join(_compose(prompt, seed, self.answer_tokens))
        answer = _cut_at_stop(_formatted(request, answer, keys), request.params.get("stop"))
        pieces = _pieces(answer)
        finish = FinishReason.STOP
        limit = self._limit(request)
        if limit is not None and len(pieces) > limit:
            pieces, finish = pieces[:limit], FinishReason.LENGTH
        return steps, pieces, finish, len(thoughts)

    async def _run(self, request: ChatRequest) -> AsyncIterator[Event]:
        steps, pieces, finish, thinking = self._steps(request)
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0
        start = loop.time()
        tokens = 0
        for index, step in enumerate([*steps, *pieces]):
            if interval:
                delay = start + index * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            if isinstance(step, str):
                tokens += 1
                yield Text(f" {time.time():.6f}" if self.stamp else step)
            else:
                tokens += not isinstance(step, ToolCallStart | ToolCall)
                yield step
        prompt_tokens = len(request.prompt_text.split())
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": prompt_tokens + tokens,
        }
        if thinking:
            usage["completion_tokens_details"] = {"reasoning_tokens": thinking}
        yield Done(str(finish), usage)

    async def models(self) -> list[ModelInfo]:
        """The one model, ``name``."""
        return [ModelInfo(self.name)]

    async def aclose(self) -> None:
        """Nothing to release."""
