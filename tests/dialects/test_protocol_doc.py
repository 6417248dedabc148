"""docs/protocol.md says what the encoders write: its event examples and its marked streams."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from surestream.dialects import EncoderOptions
from surestream.dialects.openai import OpenAIDialect
from surestream.events import (
    Done,
    Event,
    Reasoning,
    Start,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Unknown,
    dumps,
    from_json,
)
from tests.dialects._agent_events import AGENT
from tests.dialects._helpers import encode_resumed, encode_stream

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
TURN: list[Event] = [Start("st_4f9c1a", "demo"), *AGENT[1:]]
"""The agent's turn of the doc."""


def _marked(name: str) -> bytes:
    """The code block after ``<!-- example: name -->``."""
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\n(.*?)```\n", DOC, re.S)
    assert match is not None, name
    return match.group(1).encode()


def test_the_agents_turn_in_each_dialect() -> None:
    assert _marked("native agent") == encode_stream("native", TURN, retry=None)
    vercel = encode_stream("vercel-ai", TURN, retry=None, ids=False)
    assert _marked("vercel-ai agent") == vercel
    assert _marked("vercel-ai agent resumed after 6") == encode_resumed(
        "vercel-ai", TURN, 6, ids=False, retry=None
    )
    assert _marked("anthropic agent") == encode_stream("anthropic", TURN, retry=None)


def test_the_openai_examples_are_what_the_openai_dialect_writes() -> None:
    options = EncoderOptions(created=1694268190, retry=None, ids=False)

    def written(dialect: OpenAIDialect, events: list[Event]) -> bytes:
        encoder = dialect.encoder(options)
        return b"".join(encoder.encode(event, seq) for seq, event in enumerate(events))

    assert _marked("openai agent") == written(OpenAIDialect(), TURN)
    call = [
        Start("st_7b2e90", "demo"),
        Reasoning("The user wants the weather."),
        ToolCallStart("call_1", "get_weather"),
        ToolCallDelta("call_1", '{"city":'),
        ToolCallDelta("call_1", '"Paris"}'),
        ToolCall("call_1", "get_weather", {"city": "Paris"}),
        Done("tool_calls"),
    ]
    assert _marked("openai tool call") == written(OpenAIDialect(forward_tool_calls=True), call)


EXAMPLES = re.findall(r"```json\n(\{\"type\":[^\n]*\})\n```", DOC)


def test_there_is_an_example_of_every_native_event() -> None:
    types = {orjson.loads(example)["type"] for example in EXAMPLES}
    assert types == {
        "start",
        "text",
        "reasoning",
        "tool_call_start",
        "tool_call_delta",
        "tool_call",
        "tool_result",
        "step",
        "status",
        "data",
        "done",
        "error",
    }


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_event_example_is_what_the_native_dialect_writes(example: str) -> None:
    event = from_json(orjson.loads(example))
    assert not isinstance(event, Unknown)
    assert dumps(event).decode() == example
