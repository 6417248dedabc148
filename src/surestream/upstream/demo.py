"""The built-in ``demo`` model: a deterministic, offline stand-in for a real LLM.

Strategy: the answer is a pure function of (last user message, seed): the prompt's key words
(longest non-stopwords, in order of appearance) fill a few sentence templates chosen by a
``random.Random`` seeded from a SHA-256 of prompt and seed, so the same prompt and seed give
the same text on every machine and Python version. The text streams one word per ``Text``
event (every word after the first carries its leading space), paced on an absolute schedule
of ``tokens_per_second`` with ``asyncio.sleep`` (0 or None: as fast as possible, yielding to
the event loop between words). ``max_tokens`` (the request's, capped by the model's) cuts
the answer with ``finish_reason`` ``length``. ``Done.usage`` counts prompt words and emitted
words.

Timestamps for load benchmarks (``stamp=True``): each ``Text`` keeps its shape but its text is
the production time instead of a word, ``" <unix seconds with 6 decimals>"`` (e.g.
``" 1712345678.123456"``), taken just before the event is handed on. A raw-socket client finds
it in the ``"text":"..."`` of the data line without a JSON parser; ``parse_stamp`` reads it
back. One event per token, as without stamps, so the stamp does not change the load.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections.abc import AsyncIterator

from surestream._closing import AsyncClosing
from surestream.events import Done, Event, FinishReason, Text
from surestream.upstream.base import ChatRequest, ModelInfo

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
            return message.content
    return request.messages[-1].content if request.messages else ""


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
    module docstring); ``name`` is the model id clients use. Any requested model name is
    served.
    """

    def __init__(
        self,
        *,
        tokens_per_second: float | None = DEFAULT_TOKENS_PER_SECOND,
        max_tokens: int | None = DEFAULT_DEMO_MAX_TOKENS,
        seed: int = 0,
        answer_tokens: int | None = None,
        stamp: bool = False,
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
        self.name = name

    def answer(self, request: ChatRequest) -> list[str]:
        """The whole answer's words (before ``max_tokens``), as ``open`` would stream them."""
        seed = self.seed if request.seed is None else request.seed
        return _compose(_last_user_text(request), seed, self.answer_tokens)

    def _limit(self, request: ChatRequest) -> int | None:
        caps = [c for c in (request.max_tokens, self.max_tokens) if c is not None]
        return min(caps) if caps else None

    async def open(self, request: ChatRequest) -> DemoStream:
        """Start an answer; the demo never refuses a request."""
        return DemoStream(self._run(request))

    async def _run(self, request: ChatRequest) -> AsyncIterator[Event]:
        words = self.answer(request)
        limit = self._limit(request)
        finish = FinishReason.STOP
        if limit is not None and len(words) > limit:
            words, finish = words[:limit], FinishReason.LENGTH
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0
        start = loop.time()
        for index, word in enumerate(words):
            if interval:
                delay = start + index * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            if self.stamp:
                yield Text(f" {time.time():.6f}")
            else:
                yield Text(word if index == 0 else " " + word)
        prompt_tokens = len(request.prompt_text.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        yield Done(str(finish), usage)

    async def models(self) -> list[ModelInfo]:
        """The one model, ``name``."""
        return [ModelInfo(self.name)]

    async def aclose(self) -> None:
        """Nothing to release."""
