"""The Python client (``surestream.client``) against the real gateway under uvicorn.

Completed, failed, interrupted-then-resumed (cut by a TCP proxy between client and gateway),
interrupted-and-not-resumable (the journal expired), idle with heartbeats only, and each
dialect read with ``dialect="auto"``.
"""

from __future__ import annotations

import httpx
import pytest
from tests.support.gateways import fake_settings, run_gateway
from tests.support.proxy import Proxy
from tests.support.servers import RunningFake

from surestream.client import StreamFailed, StreamInterrupted, aconnect
from surestream.events import Done, Start, Text
from surestream.gateway.settings import Settings
from surestream.upstream import ChatMessage, ChatRequest, DemoModel

pytestmark = pytest.mark.anyio

PROMPT = "Tell me about resumable streams"
BODY = {"model": "demo", "messages": [{"role": "user", "content": PROMPT}]}
ANSWER = " ".join(
    DemoModel().answer(ChatRequest(model="demo", messages=[ChatMessage("user", PROMPT)]))
)
HEAD_END = b"\r\n\r\n"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_completed_stream_gives_the_whole_text_and_done() -> None:
    with run_gateway() as gw:
        async with aconnect(f"{gw.url}/v1/chat/stream", method="POST", json=BODY) as stream:
            assert await stream.text() == ANSWER
    assert isinstance(stream.outcome, Done)
    assert stream.attempts == 1
    assert stream.events_url is not None and stream.events_url.endswith("/events")


async def test_failed_upstream_raises_stream_failed(running_fake: RunningFake) -> None:
    running_fake.fake.reset()
    running_fake.fake.enqueue("error_after=3")
    with run_gateway(fake_settings(running_fake)) as gw:
        body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
        async with aconnect(f"{gw.url}/v1/chat/stream", method="POST", json=body) as stream:
            with pytest.raises(StreamFailed) as failed:
                await stream.text()
    assert failed.value.error.code == "upstream_error"


async def test_cut_connection_resumes_from_location_without_a_second_post() -> None:
    with run_gateway() as gw:
        async with Proxy(port_of(gw.url)) as proxy:
            proxy.cut_after(700, after=HEAD_END)
            async with aconnect(
                f"{proxy.url}/v1/chat/stream", method="POST", json=BODY, max_retry_delay=0.05
            ) as stream:
                text = await stream.text()
            assert proxy.broken.is_set()
            assert proxy.connections == 2
    assert text == ANSWER
    assert stream.attempts == 2


async def test_cut_anthropic_dialect_stream_resumes_where_it_was() -> None:
    """The anthropic dialect's resumed connection continues the message (no second
    ``message_start``, the same block), so the client's decoder reads on as if never cut."""
    with run_gateway() as gw:
        async with httpx.AsyncClient() as client:
            created = (await client.post(f"{gw.url}/v1/streams", json=BODY)).json()
        async with Proxy(port_of(gw.url)) as proxy:
            proxy.cut_after(900, after=HEAD_END)
            url = f"{proxy.url}{created['events_url']}?dialect=anthropic"
            async with aconnect(url, max_retry_delay=0.05) as stream:
                events = [event async for event in stream]
            assert proxy.broken.is_set()
    assert "".join(e.text for e in events if type(e) is Text) == ANSWER
    assert isinstance(stream.outcome, Done) and stream.dialect == "anthropic"
    assert stream.attempts == 2
    assert sum(isinstance(e, Start) for e in events) == 1


async def test_expired_journal_on_resume_is_interrupted_at_once() -> None:
    with run_gateway(Settings(demo_tokens_per_second=0, retention=0.05)) as gw:
        async with Proxy(port_of(gw.url)) as proxy:
            proxy.cut_after(300, after=HEAD_END)
            async with aconnect(
                f"{proxy.url}/v1/chat/stream",
                method="POST",
                json=BODY,
                max_retries=5,
                max_retry_delay=0.05,
            ) as stream:
                with pytest.raises(StreamInterrupted) as lost:
                    await stream.text()
    assert lost.value.attempts == 2
    assert lost.value.last_event_id is not None


async def test_heartbeats_alone_do_not_count_as_progress() -> None:
    settings = Settings(demo_tokens_per_second=0.2, heartbeat=0.05)
    with run_gateway(settings) as gw:
        async with aconnect(
            f"{gw.url}/v1/chat/stream", method="POST", json=BODY, idle_timeout=0.3
        ) as stream:
            with pytest.raises(StreamInterrupted) as lost:
                await stream.text()
    assert "idle" in lost.value.reason
    assert stream.attempts == 1


@pytest.mark.parametrize("dialect", ["native", "openai", "vercel-ai"])
async def test_each_dialect_is_recognised_and_ends_done(dialect: str) -> None:
    with run_gateway() as gw:
        async with httpx.AsyncClient() as client:
            created = (await client.post(f"{gw.url}/v1/streams", json=BODY)).json()
        url = f"{gw.url}{created['events_url']}?dialect={dialect}"
        async with aconnect(url) as stream:
            assert await stream.text() == ANSWER
    assert stream.dialect == dialect
    assert isinstance(stream.outcome, Done)
