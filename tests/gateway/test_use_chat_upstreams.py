"""``useChat`` (the AI SDK's chat core with ``DefaultChatTransport`` on ``/v1/ui/chat``) in
front of each kind of upstream, the fake on its OpenAI and its Anthropic wire: an answer ends
``stop``, and a failure after the first token or a truncated upstream ends the turn in
``error`` with the text so far kept -- never a quiet ``ready``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.gateways import RunningGateway, kind_gateway
from tests.support.node import JS_DIR, run_node
from tests.support.servers import RunningFake

from surestream.testing import Scenario

UPSTREAM_KEY = "sk-upstream-0003"


@pytest.fixture(scope="module", params=["openai", "anthropic"])
def gw(request: pytest.FixtureRequest, running_fake: RunningFake) -> Iterator[RunningGateway]:
    with kind_gateway(running_fake, request.param, UPSTREAM_KEY, model="model") as running:
        yield running


def _turn(gw: RunningGateway) -> dict[str, Any]:
    options = {"prompts": ["Hello?"], "body": {"model": "model"}}
    result: dict[str, Any] = run_node(JS_DIR / "ui_chat.mjs", gw.url, "turns", json.dumps(options))
    return result


def _text(result: dict[str, Any]) -> str:
    answer = result["messages"][-1]
    return "".join(p["text"] for p in answer["parts"] if p["type"] == "text")


def test_an_answer_ends_stop(gw: RunningGateway, fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(text="Hello from the upstream."))
    result = _turn(gw)
    assert result["status"] == "ready"
    assert result["finishes"] == [
        {"finishReason": "stop", "isError": False, "isDisconnect": False, "isAbort": False}
    ]
    assert _text(result) == "Hello from the upstream."


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(text="Hello from the upstream today", error_after=2, error_message="boom"),
        Scenario(text="Hello from the upstream today", cut_after=2),
    ],
    ids=["error", "truncated"],
)
def test_a_failure_after_the_first_token_ends_in_error(
    gw: RunningGateway, fake: RunningFake, scenario: Scenario
) -> None:
    fake.fake.enqueue(scenario)
    result = _turn(gw)
    assert result["status"] == "error"
    assert any("error" in finish for finish in result["finishes"])
    assert any(finish.get("isError") for finish in result["finishes"])
    assert _text(result) == "Hello from"
