"""The official ``openai`` Python SDK, pointed at the gateway as a user would point it.

``base_url=<gateway>/v1`` and the gateway's API key: streamed (with
``stream_options.include_usage``) and whole completions, from the demo model and from the
fake upstream behind the gateway; an upstream refusal surfaces as the SDK's own error type.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from tests.support.gateways import RunningGateway, fake_settings, run_gateway
from tests.support.servers import RunningFake

pytestmark = pytest.mark.anyio

KEY = "sk-gateway-test-key-0001"
MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "Tell me about streams"}
]


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with run_gateway(fake_settings(running_fake, api_keys=[KEY])) as running:
        yield running


def _client(gw: RunningGateway, key: str = KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


async def _streamed(client: openai.AsyncOpenAI, model: str) -> tuple[str, list[str], object]:
    stream = await client.chat.completions.create(
        model=model,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        seed=7,
    )
    parts: list[str] = []
    reasons: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    return "".join(parts), reasons, usage


async def test_sdk_streams_the_demo_model_with_usage(gw: RunningGateway) -> None:
    async with _client(gw) as client:
        text, reasons, usage = await _streamed(client, "demo")
        whole = await client.chat.completions.create(model="demo", messages=MESSAGES, seed=7)
    assert reasons == ["stop"]
    assert isinstance(usage, openai.types.CompletionUsage)
    assert usage.completion_tokens == len(text.split()) > 3
    assert usage.prompt_tokens > 0
    assert whole.choices[0].message.content == text
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None and whole.usage.completion_tokens == usage.completion_tokens
    assert whole.object == "chat.completion" and whole.model == "demo"


async def test_sdk_streams_the_fake_upstream_through_the_gateway(
    gw: RunningGateway, fake: RunningFake
) -> None:
    async with _client(gw) as client:
        text, reasons, usage = await _streamed(client, "fake")
        whole = await client.chat.completions.create(model="fake", messages=MESSAGES)
    expected = "Hello from the fake upstream. It streams a few words, one per chunk."
    assert text == expected and reasons == ["stop"]
    assert isinstance(usage, openai.types.CompletionUsage)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 13, 17)
    assert whole.choices[0].message.content == expected
    assert whole.usage is not None and whole.usage.total_tokens == 17


async def test_sdk_without_include_usage_gets_no_usage_chunk(gw: RunningGateway) -> None:
    async with _client(gw) as client:
        stream = await client.chat.completions.create(model="demo", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_sdk_lists_models(gw: RunningGateway) -> None:
    async with _client(gw) as client:
        models = [m.id async for m in client.models.list()]
    assert models == ["demo", "fake"]


async def test_sdk_errors_are_the_sdks_own_types(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue("status=429,retry_after=2")
    async with _client(gw) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="fake", messages=MESSAGES, stream=True)
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="nope", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "2"
    async with _client(gw, key="sk-wrong") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="demo", messages=MESSAGES)


async def test_sdk_sees_a_mid_stream_failure_as_an_error(
    gw: RunningGateway, fake: RunningFake
) -> None:
    fake.fake.enqueue("error_after=2,error_message=boom")
    async with _client(gw) as client:
        stream = await client.chat.completions.create(model="fake", messages=MESSAGES, stream=True)
        texts: list[str] = []
        with pytest.raises(openai.APIError, match="boom"):
            async for chunk in stream:
                texts.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(texts) == "Hello from"


def test_sync_sdk_streams_too(gw: RunningGateway) -> None:
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="demo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert chunks[-1].usage is not None
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
