"""Agent event sequences for the tests: a worked example, what the AI SDK makes of it, and
hypothesis strategies of any stream."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from surestream.events import (
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    Reasoning,
    Start,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)

WEATHER = {"city": "Paris"}

# An agent's turn: a step, reasoning, text, a streamed call the server ran, its result, a
# second step that answers (pydantic-ai's VercelAIAdapter writes this shape, see
# /work/shared/research-agent-frameworks.md 6.3).
AGENT: list[Event] = [
    Start("msg_123", "demo"),
    Step(),
    Reasoning("Let me"),
    Reasoning(" check."),
    Text("Looking it up."),
    ToolCallStart("call_1", "get_weather"),
    ToolCallDelta("call_1", '{"city":'),
    ToolCallDelta("call_1", '"Paris"}'),
    ToolCall("call_1", "get_weather", WEATHER),
    ToolResult("call_1", {"celsius": 21}),
    Step("answer"),
    Text("It is 21 °C."),
    Done(),
]


def assert_agent_message(parts: list[dict[str, Any]]) -> None:
    """``parts`` are what the AI SDK's ``readUIMessageStream`` builds from ``AGENT``."""
    assert [p["type"] for p in parts] == [
        "step-start",
        "reasoning",
        "text",
        "tool-get_weather",
        "step-start",
        "text",
    ]
    assert (parts[1]["text"], parts[1]["state"]) == ("Let me check.", "done")
    assert [p["text"] for p in parts if p["type"] == "text"] == ["Looking it up.", "It is 21 °C."]
    assert (parts[3]["toolCallId"], parts[3]["state"]) == ("call_1", "output-available")
    assert (parts[3]["input"], parts[3]["output"]) == (WEATHER, {"celsius": 21})


CALL_IDS = st.sampled_from(["c1", "c2", "c3"])
SHORT = st.text(max_size=6)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | SHORT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SHORT, inner, max_size=3),
    max_leaves=6,
)
CONTENT = st.one_of(
    st.builds(Text, SHORT),
    st.builds(Reasoning, SHORT),
    st.builds(ToolCallStart, CALL_IDS, st.sampled_from(["get_weather", "search"])),
    st.builds(ToolCallDelta, CALL_IDS, SHORT),
    st.builds(ToolCall, CALL_IDS, st.sampled_from(["get_weather", "search"]), JSON),
    st.builds(ToolResult, CALL_IDS, JSON, st.none() | SHORT),
    st.builds(Step, st.none() | SHORT),
    st.builds(Status, SHORT),
    st.builds(Data, JSON, st.none() | st.sampled_from(["weather", "sources"])),
)
TERMINAL = st.one_of(
    st.builds(
        Done,
        st.sampled_from(["stop", "length", "tool_calls", "cancelled", "new_one"]),
        st.none() | st.fixed_dictionaries({"prompt_tokens": st.integers(0, 99)}),
    ),
    st.builds(Error, st.sampled_from(list(ErrorCode)).map(str), SHORT, st.booleans()),
)
STREAMS = st.builds(
    # Start, any content events, one terminal: every stream a server may write.
    lambda content, terminal: [Start("m1", "demo"), *content, terminal],
    st.lists(CONTENT, max_size=14),
    TERMINAL,
)
