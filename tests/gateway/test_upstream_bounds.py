"""What an upstream can make the gateway hold, and pass on, is bounded.

A stream's journal holds at most ``max_journal_bytes`` (then ``finish_reason: length``, on
both stores); a non-streaming answer at most ``max_answer_bytes`` (then 502
``answer_too_large``).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from tests.support.gateways import FAKE_CHAT, error_of, fake_settings, read_native, run_gateway
from tests.support.servers import RunningFake, ServerProcess

from surestream.events import Done, Text

pytestmark = pytest.mark.anyio

WORD = "w" * 49
FLOOD = "fake:text=" + quote_plus(" ".join([WORD] * 400))
"""A model name that makes the fake answer 400 words of 50 bytes (about 20 KB)."""


@pytest.fixture(params=["memory", "redis"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    redis: ServerProcess = request.getfixturevalue("redis_server")
    return {"store": f"{redis.url}/0", "redis_prefix": f"t{secrets.token_hex(4)}:"}


async def test_journal_byte_limit_ends_the_stream_with_length(
    fake: RunningFake, store_settings: dict[str, Any]
) -> None:
    settings = fake_settings(fake, max_journal_bytes=2000, **store_settings)
    fake.fake.enqueue(FLOOD.removeprefix("fake:"))
    with run_gateway(settings) as gateway:
        async with (
            httpx.AsyncClient(base_url=gateway.url) as client,
            client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
        ):
            got = [event for _, event in await read_native(response)]
    assert got[-1] == Done("length")
    text = "".join(event.text for event in got if isinstance(event, Text))
    assert 1000 < len(text) <= 2000
    assert text == " ".join([WORD] * 400)[: len(text)]


async def test_non_streaming_answer_over_the_limit_is_a_clear_error(fake: RunningFake) -> None:
    settings = fake_settings(fake, max_answer_bytes=2000)
    fake.fake.enqueue(FLOOD.removeprefix("fake:"), FLOOD.removeprefix("fake:"))
    with run_gateway(settings) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            whole = await client.post("/v1/chat/completions", json=FAKE_CHAT)
            streamed = await client.post("/v1/chat/completions", json={**FAKE_CHAT, "stream": True})
    assert whole.status_code == 502, whole.text
    assert error_of(whole) == {
        "code": "answer_too_large",
        "message": "the answer exceeds max_answer_bytes (2000 bytes); ask for it with stream: true",
    }
    assert streamed.status_code == 200
    assert streamed.text.rstrip().endswith("data: [DONE]")


def deep_usage_chunk(levels: int) -> str:
    usage = '{"prompt_tokens":3,"completion_tokens":2,"nest":' + '{"a":' * levels + "1"
    usage += "}" * levels + "}"
    return f'data: {{"id":"x","object":"chat.completion.chunk","choices":[],"usage":{usage}}}\n\n'


async def test_deep_usage_never_costs_a_finished_answer(
    fake: RunningFake, store_settings: dict[str, Any]
) -> None:
    settings = fake_settings(fake, **store_settings)
    fake.fake.enqueue(
        "usage=none,inject_after=2,inject=" + quote_plus(deep_usage_chunk(300)),
    )
    with run_gateway(settings) as gateway:
        async with (
            httpx.AsyncClient(base_url=gateway.url) as client,
            client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
        ):
            got = [event for _, event in await read_native(response)]
    assert got[-1] == Done("stop", {"prompt_tokens": 3, "completion_tokens": 2})


async def test_unknown_finish_reasons_become_stop_and_keep_metric_labels_bounded(
    fake: RunningFake,
) -> None:
    reasons = ["x" * 5000, "cancelled", *(f"made-up-{n}" for n in range(20))]
    fake.fake.enqueue(*(f"finish_reason={quote_plus(reason)}" for reason in reasons))
    with run_gateway(fake_settings(fake)) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            ends = []
            for _ in reasons:
                async with client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response:
                    ends.append((await read_native(response))[-1][1])
            metrics = (await client.get("/metrics")).text
    assert ends == [Done("stop", ends[0].usage)] * len(reasons)  # type: ignore[union-attr]
    outcomes = [
        line for line in metrics.splitlines() if line.startswith("surestream_stream_outcomes")
    ]
    assert "made-up" not in metrics and "xxxx" not in metrics
    assert any('code="stop"' in line for line in outcomes), outcomes
