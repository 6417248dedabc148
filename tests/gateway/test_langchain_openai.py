"""``langchain-openai``'s ``ChatOpenAI`` pointed at the gateway: ``bind_tools`` streaming gets
the tool call chunk by chunk and whole, from the fake upstream and from the demo model, and a
second turn with the ``ToolMessage`` gets the answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from tests.support.gateways import RunningGateway, fake_settings, run_gateway
from tests.support.servers import RunningFake

from surestream.testing import Scenario

pytestmark = pytest.mark.anyio

KEY = "sk-gateway-langchain-0001"


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """The weather now in a city."""
    return json.dumps({"city": city, "temperature": 21, "unit": unit})


@pytest.fixture(scope="module")
def gw(running_fake: RunningFake) -> Iterator[RunningGateway]:
    with run_gateway(fake_settings(running_fake, api_keys=[KEY])) as running:
        yield running


def chat(gw: RunningGateway, model: str) -> Any:
    # A client of this test's own: langchain-openai otherwise shares one across event loops.
    llm = ChatOpenAI(
        model=model,
        base_url=f"{gw.url}/v1",
        api_key=KEY,  # type: ignore[arg-type]
        max_retries=0,
        timeout=20,
        http_async_client=openai.DefaultAsyncHttpxClient(),
    )
    return llm.bind_tools([get_weather])


async def streamed(llm: Any, messages: list[Any]) -> tuple[list[AIMessageChunk], AIMessageChunk]:
    chunks: list[AIMessageChunk] = []
    async for chunk in llm.astream(messages):
        chunks.append(chunk)
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole = whole + chunk
    return chunks, whole


async def test_bind_tools_streams_the_call_from_the_upstream(
    gw: RunningGateway, fake: RunningFake
) -> None:
    calls = [{"id": "call_lc", "name": "get_weather", "arguments": {"city": "Paris"}}]
    fake.fake.enqueue(Scenario(text="", tool_calls=json.dumps(calls), args_piece=4))
    chunks, whole = await streamed(chat(gw, "fake"), [HumanMessage("Weather in Paris?")])
    fragments = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert len(fragments) > 2  # the arguments arrived in pieces
    assert fragments[0]["name"] == "get_weather" and fragments[0]["id"] == "call_lc"
    assert whole.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_lc", "type": "tool_call"}
    ]
    assert whole.response_metadata.get("finish_reason") == "tool_calls"
    sent = fake.fake.last.body
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert sent["stream"] is True


async def test_bind_tools_with_the_demo_then_the_tool_message(gw: RunningGateway) -> None:
    llm = chat(gw, "demo")
    question = HumanMessage("What is the weather in Paris?")
    _, whole = await streamed(llm, [question])
    (call,) = whole.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "weather"}
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    _, answer = await streamed(llm, [question, whole, result])
    assert not answer.tool_calls
    assert str(answer.content).startswith('The get_weather tool returned city "weather"')
