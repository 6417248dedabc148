"""What the browser (and Node) tests share: Chromium's path and flags, the models of the test
gateway, ``serve_gateway``, the proxy for sync tests, ``expected_answer``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surestream.events import (
    Done,
    Event,
    FinishReason,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from surestream.gateway.app import create_app
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import Settings
from surestream.testing.fake_upstream import FakeUpstream
from surestream.upstream import ChatMessage, ChatRequest, DemoModel
from tests.support.proxy import Proxy
from tests.support.scripted import WEATHER_TOOL, EchoModel, ScriptedModel, WithTools
from tests.support.servers import serve_in_thread

__all__ = [
    "AGENT_EVENTS",
    "AGENT_PAUSE",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DEMO_PACE",
    "FAKE_ERROR_MESSAGE",
    "SLOW_PACE",
    "WAIT_MS",
    "Gateway",
    "ThreadedProxy",
    "expected_answer",
    "serve_gateway",
]


CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

DEMO_PACE = 25.0
"""Words per second of the ``demo`` model in these tests: several events per poll, ~2 s."""

SLOW_PACE = 5.0
"""Words per second of the ``slow`` model: slow enough to press Stop mid-answer."""

FAKE_ERROR_MESSAGE = "the fake model fell over"

WAIT_MS = 15_000
"""How long Playwright waits for a condition (a resume alone waits the server's 3 s retry
plus up to 50 % jitter, on a machine shared with other jobs)."""

AGENT_PAUSE = 0.05
"""Seconds between two events of the ``agent`` model: each arrives on its own."""

AGENT_EVENTS: list[Event] = [
    Reasoning("The user asks about the weather."),
    Reasoning(" I should call get_weather for Paris."),
    ToolCallStart("call_1", "get_weather"),
    ToolCallDelta("call_1", '{"city"'),
    ToolCallDelta("call_1", ': "Paris"}'),
    ToolCall("call_1", "get_weather", {"city": "Paris"}),
    ToolResult("call_1", {"temperature": 21, "sky": "clear"}),
    ToolCall("call_2", "get_time", {"zone": "Mars"}),
    ToolResult("call_2", error="unknown time zone: Mars"),
    Step("answer"),
    Text("It is 21 °C"),
    Text(" and clear in Paris."),
    Done(FinishReason.STOP),
]
"""The ``agent`` model's answer: reasoning, a streamed tool call with its result, a complete
call whose tool failed, a step, then text."""


def expected_answer(prompt: str) -> str:
    """The demo model's whole answer to a one-message conversation, as the page shows it."""
    request = ChatRequest(model="demo", messages=[ChatMessage("user", prompt)])
    return " ".join(DemoModel().answer(request))


@dataclass
class Gateway:
    url: str
    port: int


@contextmanager
def serve_gateway(**settings: Any) -> Iterator[Gateway]:
    """The gateway with ``demo``, ``slow`` (a slower demo), ``broken`` (a fake upstream
    whose stream fails after three words), ``broken-at-once`` (fails before any), ``agent``
    (``AGENT_EVENTS``), ``echo`` (answers the prompt, five characters per event), and the
    demo model reasoning before its answer (``demo-thinking``) or offered ``WEATHER_TOOL``
    (``demo-tools``: it reasons, then calls it); ``settings`` adds to its ``Settings``."""
    fake = FakeUpstream()
    with serve_in_thread(fake.app) as upstream:
        spec = f"error_after=3,error_message={FAKE_ERROR_MESSAGE.replace(' ', '+')}"
        config = Settings(
            demo_tokens_per_second=DEMO_PACE,
            upstreams={"fake": f"{upstream.url}/v1"},
            models={
                "broken": f"fake:fake:{spec}",
                "broken-at-once": f"fake:fake:{spec.replace('after=3', 'after=0')}",
                "slow": "slow",
                "agent": "agent",
                "echo": "echo",
                "demo-thinking": "demo-thinking",
                "demo-tools": "demo-tools",
            },
            **settings,
        )
        upstreams = {
            **build_upstreams(config),
            "slow": DemoModel(tokens_per_second=SLOW_PACE),
            "agent": ScriptedModel(AGENT_EVENTS, pause=AGENT_PAUSE, name="agent"),
            "echo": EchoModel(name="echo"),
            "demo-thinking": DemoModel(tokens_per_second=DEMO_PACE, reasoning=True),
            "demo-tools": WithTools(DemoModel(tokens_per_second=DEMO_PACE), [WEATHER_TOOL]),
        }
        with serve_in_thread(create_app(config, upstreams=upstreams)) as server:
            yield Gateway(server.url, server.port)


class ThreadedProxy:
    """``tests.support.proxy.Proxy`` on its own event loop in a thread, for sync tests."""

    def __init__(self, upstream_port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._proxy = Proxy(upstream_port)

    def __enter__(self) -> ThreadedProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._proxy.__aenter__(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        closing = self._proxy.__aexit__(None, None, None)
        asyncio.run_coroutine_threadsafe(closing, self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        return self._proxy.url

    @property
    def connections(self) -> int:
        return self._proxy.connections

    def cut_after(self, n: int, *, after: bytes = b"") -> None:
        """Cut every connection once ``n`` more body bytes went to the client."""
        self._loop.call_soon_threadsafe(lambda: self._proxy.cut_after(n, after=after))

    def broken(self) -> bool:
        return self._proxy.broken.is_set()
