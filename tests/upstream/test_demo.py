"""DemoModel: deterministic, paced, honours max_tokens, reports usage, stamps on request."""

from __future__ import annotations

import time

import anyio
import pytest

from surestream.events import Done, Event, Text
from surestream.upstream import ChatRequest, DemoModel, parse_stamp

pytestmark = pytest.mark.anyio


def ask(prompt: str, **kwargs: object) -> ChatRequest:
    return ChatRequest("demo", [{"role": "user", "content": prompt}], **kwargs)  # type: ignore[arg-type]


async def run(model: DemoModel, req: ChatRequest) -> list[Event]:
    async with await model.open(req) as opened:
        return [event async for event in opened]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Text))


async def test_same_prompt_and_seed_give_the_same_answer() -> None:
    model = DemoModel(tokens_per_second=0)
    first = await run(model, ask("How do I bake sourdough bread at home?", seed=3))
    second = await run(
        DemoModel(tokens_per_second=0), ask("How do I bake sourdough bread at home?", seed=3)
    )
    assert first == second
    assert isinstance(first[-1], Done) and first[-1].finish_reason == "stop"


async def test_seed_and_prompt_change_the_answer() -> None:
    model = DemoModel(tokens_per_second=0)
    prompt = "Explain consensus algorithms and leader election"
    answers = {text_of(await run(model, ask(prompt, seed=seed))) for seed in range(6)}
    assert len(answers) > 1
    other = text_of(await run(model, ask("Tell me about tidal energy", seed=0)))
    assert other not in answers


async def test_model_seed_is_used_when_the_request_has_none() -> None:
    prompt = "What makes volcanoes erupt?"
    a = text_of(await run(DemoModel(tokens_per_second=0, seed=1), ask(prompt)))
    b = text_of(await run(DemoModel(tokens_per_second=0, seed=1), ask(prompt)))
    c = text_of(await run(DemoModel(tokens_per_second=0), ask(prompt, seed=1)))
    assert a == b == c


async def test_answer_is_english_sentences_about_the_prompt_word_by_word() -> None:
    events = await run(DemoModel(tokens_per_second=0), ask("How do I bake sourdough bread?"))
    texts = [e.text for e in events if isinstance(e, Text)]
    assert "sourdough" in "".join(texts)
    assert texts[0] == texts[0].strip() and all(t.startswith(" ") for t in texts[1:])
    assert all(len(t.split()) == 1 for t in texts)
    assert "".join(texts).rstrip()[-1] in ".!"
    assert 20 <= len(texts) <= 100


async def test_usage_counts_prompt_words_and_emitted_words() -> None:
    req = ChatRequest(
        "demo",
        [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "why is the sky blue"},
        ],
    )
    events = await run(DemoModel(tokens_per_second=0), req)
    done = events[-1]
    assert isinstance(done, Done)
    completion = sum(isinstance(e, Text) for e in events)
    assert done.usage == {
        "prompt_tokens": 7,
        "completion_tokens": completion,
        "total_tokens": 7 + completion,
    }


@pytest.mark.parametrize(("model_cap", "request_cap"), [(5, None), (None, 5), (50, 5), (5, 50)])
async def test_max_tokens_cuts_with_finish_reason_length(
    model_cap: int | None, request_cap: int | None
) -> None:
    model = DemoModel(tokens_per_second=0, max_tokens=model_cap)
    events = await run(model, ask("Describe the water cycle", max_tokens=request_cap))
    assert sum(isinstance(e, Text) for e in events) == 5
    done = events[-1]
    assert isinstance(done, Done)
    assert done.finish_reason == "length"
    assert done.usage is not None and done.usage["completion_tokens"] == 5


async def test_answer_tokens_forces_the_length_and_is_not_a_cut() -> None:
    events = await run(DemoModel(tokens_per_second=0, answer_tokens=300), ask("Benchmarks"))
    assert sum(isinstance(e, Text) for e in events) == 300
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


async def test_tokens_per_second_paces_the_words() -> None:
    model = DemoModel(tokens_per_second=20, answer_tokens=6)
    started = time.monotonic()
    events = await run(model, ask("pace"))
    elapsed = time.monotonic() - started
    assert sum(isinstance(e, Text) for e in events) == 6
    assert elapsed >= 5 / 20


async def test_stamps_are_production_times() -> None:
    before = time.time()
    events = await run(DemoModel(tokens_per_second=0, stamp=True, answer_tokens=20), ask("x"))
    after = time.time()
    stamps = [parse_stamp(e.text) for e in events if isinstance(e, Text)]
    assert len(stamps) == 20
    assert all(s is not None and before <= s <= after for s in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    assert parse_stamp(" hello") is None


async def test_aclose_stops_the_answer_early() -> None:
    opened = await DemoModel(tokens_per_second=0).open(ask("Stop early"))
    iterator = aiter(opened)
    assert isinstance(await anext(iterator), Text)
    await opened.aclose()
    await opened.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)


async def test_cancelled_consumer_stops_a_paced_answer() -> None:
    seen: list[Event] = []
    with anyio.CancelScope() as scope:
        async with await DemoModel(tokens_per_second=1).open(ask("Slow answer")) as opened:
            async for event in opened:
                seen.append(event)
                scope.cancel()
    assert scope.cancelled_caught
    assert len(seen) == 1 and isinstance(seen[0], Text)


async def test_models_and_validation() -> None:
    assert [m.id for m in await DemoModel(name="demo-fast").models()] == ["demo-fast"]
    with pytest.raises(ValueError, match="tokens_per_second"):
        DemoModel(tokens_per_second=-1)
    with pytest.raises(ValueError, match="max_tokens"):
        DemoModel(max_tokens=0)
