"""The two ways an OpenAI-compatible upstream reads its answer: on a connection of its own (the
default for ``http://``) or through httpx (``https://``, an ``http_client`` given, or an
environment proxy); same verdicts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from surestream.events import Done, Text
from surestream.testing import Scenario
from surestream.testing.fake_upstream import DEFAULT_TEXT
from surestream.upstream import OpenAICompatibleUpstream, UpstreamHTTPError
from tests.support.servers import RunningFake, free_port
from tests.support.upstreams import API_KEY, wait_ended
from tests.upstream.test_openai_compat import collect, collect_until_failure, request, text_of

pytestmark = pytest.mark.anyio


async def test_the_default_path_does_not_go_through_httpx(
    fake: RunningFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> httpx.Response:
        raise AssertionError("the answer was read through httpx")

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    up = OpenAICompatibleUpstream(fake.base_url, api_key=API_KEY)
    try:
        events = await collect(up, request())
    finally:
        await up.aclose()
    assert text_of(events) == DEFAULT_TEXT
    assert fake.fake.last.headers["authorization"] == f"Bearer {API_KEY}"


async def test_an_https_upstream_keeps_httpx_s_pooled_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    async def record(self: httpx.AsyncClient, request: httpx.Request, **_: Any) -> httpx.Response:
        asked.append(str(request.url))
        raise httpx.ConnectError("recorded", request=request)

    monkeypatch.setattr(httpx.AsyncClient, "send", record)
    up = OpenAICompatibleUpstream("https://127.0.0.1:1/v1", api_key=API_KEY, connect_timeout=5)
    try:
        with pytest.raises(UpstreamHTTPError):
            await up.open(request())
    finally:
        await up.aclose()
    assert asked == ["https://127.0.0.1:1/v1/chat/completions"]


class _Counting:
    """An httpx client whose requests are counted (it is the one the upstream must use)."""

    def __init__(self) -> None:
        self.sent = 0
        self.client = httpx.AsyncClient(event_hooks={"request": [self.count]})

    async def count(self, request: httpx.Request) -> None:
        self.sent += 1


@pytest.fixture
async def given_client(fake: RunningFake) -> Any:
    counting = _Counting()
    up = OpenAICompatibleUpstream(
        fake.base_url, api_key=API_KEY, idle_timeout=0.3, http_client=counting.client
    )
    yield up, counting
    await up.aclose()
    await counting.client.aclose()


async def test_a_given_http_client_reads_the_answer(fake: RunningFake, given_client: Any) -> None:
    up, counting = given_client
    events = await collect(up, request())
    assert text_of(events) == DEFAULT_TEXT
    assert isinstance(events[-1], Done)
    assert counting.sent == 1


@pytest.mark.parametrize(
    ("scenario", "texts", "code"),
    [
        (Scenario(text="a b c d", stall_after=2), ["a", " b"], "upstream_timeout"),
        (Scenario(text="a b c d", cut_after=2), ["a", " b"], "upstream_truncated"),
        (Scenario(text="a b c d", cut_after=2, reset=True), ["a", " b"], "upstream_truncated"),
    ],
    ids=["stall", "cut", "reset"],
)
async def test_a_given_http_client_keeps_every_verdict(
    fake: RunningFake, given_client: Any, scenario: Scenario, texts: list[str], code: str
) -> None:
    up, counting = given_client
    fake.fake.enqueue(scenario)
    got, failure = await collect_until_failure(up, request())
    assert (got, failure.code) == (texts, code)
    assert counting.sent == 1
    assert await wait_ended(fake.fake.last)


async def test_a_given_http_client_without_done_marker_after_finish_is_done(
    fake: RunningFake, given_client: Any
) -> None:
    up, _ = given_client
    fake.fake.enqueue(Scenario(text="a b", done=False))
    events = await collect(up, request())
    assert events[:2] == [Text("a"), Text(" b")]
    assert isinstance(events[-1], Done)


async def test_an_environment_proxy_is_honoured(
    fake: RunningFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    up = OpenAICompatibleUpstream(fake.base_url, api_key=API_KEY, connect_timeout=5)
    try:
        with pytest.raises(UpstreamHTTPError) as info:
            await up.open(request())
    finally:
        await up.aclose()
    assert info.value.status == 504  # the proxy (a closed port) was asked, not the fake

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    up = OpenAICompatibleUpstream(fake.base_url, api_key=API_KEY)
    try:
        assert text_of(await collect(up, request())) == DEFAULT_TEXT
    finally:
        await up.aclose()
