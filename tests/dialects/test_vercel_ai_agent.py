"""The vercel-ai dialect with the agent events: reasoning, tool calls, results, steps, resume.

Exact bytes in golden files (each also read by the real AI SDK, ``ai`` 6, through ``data:``
URLs), the decoder on them, and hypothesis properties over any event sequence: the round
trip, the AI SDK's rules (``tests/dialects/_ui_stream.py``) for every stream and for every
resumed stream read on its own.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surestream.dialects import EncoderOptions, get_dialect
from surestream.dialects.vercel_ai import VercelAIEncoder
from surestream.events import (
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
from tests.dialects._agent_events import AGENT, STREAMS, WEATHER, assert_agent_message
from tests.dialects._helpers import (
    chunkings,
    decode_every_way,
    decode_stream,
    encode_resumed,
    encode_stream,
)
from tests.dialects._ui_stream import ui_chunks, ui_stream_problems
from tests.support.markers import examples
from tests.support.node import read_ui_streams

GOLDEN = Path(__file__).parent / "golden"
PLAIN: dict[str, Any] = {"stream_id": "msg_123", "ids": False, "retry": None}
# A model asking the client to run a tool (OpenAI-style): no start, no result, tool-calls.
CLIENT_TOOL: list[Event] = [
    Start("msg_123"),
    Reasoning("The user wants the weather."),
    ToolCall("call_1", "get_weather", WEATHER),
    Done("tool_calls"),
]
# A failure while a block is open and a call is streaming: both are closed before the error.
AGENT_ERROR: list[Event] = [
    Start("msg_123"),
    Text("Looking"),
    ToolCallStart("call_1", "get_weather"),
    ToolCallDelta("call_1", '{"ci'),
    Reasoning("hm"),
    ToolCallStart("call_2", "get_time"),
    ToolResult("call_2", error="no clock"),
    Error.of(ErrorCode.UPSTREAM_TIMEOUT, "the model went silent"),
]

GOLDEN_CASES: list[tuple[str, list[Event], dict[str, Any]]] = [
    ("vercel_ai_agent.sse", AGENT, {"stream_id": "msg_123"}),
    ("vercel_ai_client_tool.sse", CLIENT_TOOL, PLAIN),
    ("vercel_ai_agent_error.sse", AGENT_ERROR, PLAIN),
]


def _golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def _data_url(body: bytes) -> str:
    return "data:text/event-stream;base64," + base64.b64encode(body).decode()


@pytest.mark.parametrize(("name", "events", "options"), GOLDEN_CASES)
def test_golden_stream(name: str, events: list[Event], options: dict[str, Any]) -> None:
    body = encode_stream("vercel-ai", events, **options)
    assert body == _golden(name)
    assert ui_stream_problems(body) == []


def test_golden_resumed_stream() -> None:
    # Resumed after event 6 (the first argument fragment): start again, the call named again
    # before its input completes, the text after it in a new block.
    body = encode_resumed("vercel-ai", AGENT, 6, stream_id="msg_123", retry=None)
    assert body == _golden("vercel_ai_agent_resumed.sse")
    assert ui_stream_problems(body) == []


def test_the_ai_sdk_reads_every_golden_stream() -> None:
    names = [name for name, _, _ in GOLDEN_CASES] + ["vercel_ai_agent_resumed.sse"]
    results = read_ui_streams([(_data_url(_golden(name)), None) for name in names])
    for name, result in zip(names, results, strict=True):
        assert (result["invalid"], result["thrown"]) == ([], None), name
    agent, client_tool, failed, resumed = (r["message"]["parts"] for r in results)

    assert_agent_message(agent)

    assert [p["type"] for p in client_tool] == ["reasoning", "tool-get_weather"]
    assert client_tool[1]["state"] == "input-available" and client_tool[1]["input"] == WEATHER
    assert results[1]["chunks"][-1] == {"type": "finish", "finishReason": "tool-calls"}

    assert results[2]["errors"] == ["the model went silent"]
    assert [(p["type"], p.get("state")) for p in failed] == [
        ("text", "done"),
        ("tool-get_weather", "output-error"),
        ("reasoning", "done"),
        ("tool-get_time", "output-error"),
    ]
    assert [p["errorText"] for p in failed[1::2]] == ["the model went silent", "no clock"]

    assert [p["type"] for p in resumed] == ["tool-get_weather", "step-start", "text"]
    assert resumed[0]["output"] == {"celsius": 21} and resumed[0]["input"] == WEATHER


def test_decode_golden_streams() -> None:
    assert decode_every_way("vercel-ai", _golden("vercel_ai_agent.sse")) == [
        Start("msg_123"),
        Step(),
        Reasoning("Let me"),
        Reasoning(" check."),
        Text("Looking it up."),
        *AGENT[5:10],
        Step(),
        Text("It is 21 °C."),
        Done(),
    ]
    assert decode_every_way("vercel-ai", _golden("vercel_ai_client_tool.sse")) == CLIENT_TOOL
    assert decode_every_way("vercel-ai", _golden("vercel_ai_agent_error.sse")) == [
        *AGENT_ERROR[:-1],
        ToolResult("call_1", error="the model went silent"),
        Error("upstream_error", "the model went silent", False),
    ]


def _kinds(*events: Event) -> list[str]:
    body = encode_stream("vercel-ai", [*events, Done()], **PLAIN)
    return [c if c == "[DONE]" else c["type"] + " " + c.get("id", "") for c in ui_chunks(body)]


def test_blocks_are_numbered_and_text_after_a_tool_call_is_a_new_block() -> None:
    assert _kinds(Text("a"), Text("b"), ToolCall("c", "t", {}), Text("c"), Reasoning("r")) == [
        "start ",
        "text-start text-1",
        "text-delta text-1",
        "text-delta text-1",
        "text-end text-1",
        "tool-input-available ",
        "text-start text-2",
        "text-delta text-2",
        "text-end text-2",
        "reasoning-start reasoning-1",
        "reasoning-delta reasoning-1",
        "reasoning-end reasoning-1",
        "finish ",
        "[DONE]",
    ]


def test_what_the_ai_sdk_would_throw_on_is_not_written() -> None:
    # A delta without its start, a delta after the complete input, a second start, a result
    # for a call never named: each is dropped.
    body = encode_stream(
        "vercel-ai",
        [
            ToolCallDelta("x", "{"),
            ToolResult("y", 1),
            ToolCallStart("c", "t"),
            ToolCall("c", "t", {}),
            ToolCallDelta("c", "}"),
            ToolCallStart("c", "t"),
            Done(),
        ],
        **PLAIN,
    )
    assert [c if c == "[DONE]" else c["type"] for c in ui_chunks(body)] == [
        "start",
        "tool-input-start",
        "tool-input-available",
        "finish",
        "[DONE]",
    ]


def test_a_steps_end_closes_it_and_the_stream_end_closes_the_last() -> None:
    assert _kinds(Step(), Text("a"), Step(), Status("s")) == [
        "start ",
        "start-step ",
        "text-start text-1",
        "text-delta text-1",
        "text-end text-1",
        "finish-step ",
        "start-step ",
        "data-status ",
        "finish-step ",
        "finish ",
        "[DONE]",
    ]


def test_cancel_closes_blocks_before_abort() -> None:
    body = encode_stream("vercel-ai", [Reasoning("r"), Done("cancelled")], **PLAIN)
    assert body.endswith(
        b'data: {"type":"reasoning-end","id":"reasoning-1"}\n\n'
        b'data: {"type":"abort"}\n\ndata: [DONE]\n\n'
    )


def test_prime_writes_nothing_and_forgets_what_the_client_saw() -> None:
    encoder = get_dialect("vercel-ai").encoder(EncoderOptions(**PLAIN))
    assert isinstance(encoder, VercelAIEncoder)
    encoder.prime([Start("st_9"), Text("a"), ToolCall("c", "t", 1)])
    body = encoder.encode(Text("b"), 3) + encoder.encode(ToolResult("c", 2), 4)
    assert [c["type"] + " " + c.get("id", c.get("toolCallId", "")) for c in ui_chunks(body)] == [
        "start ",
        "text-start text-2",
        "text-delta text-2",
        "tool-input-available c",
        "tool-output-available c",
    ]
    assert ui_chunks(body)[0] == {"type": "start", "messageId": "st_9"}


# --- properties -----------------------------------------------------------------------------


def _expected_round_trip(events: list[Event]) -> list[Event]:
    """What decoding the encoded ``events`` gives: what the protocol can carry of them."""
    out: list[Event] = []
    calls: dict[str, list[bool]] = {}
    """Named calls -> [input complete, finished]."""
    for event in events:
        if isinstance(event, Start):
            out.append(Start(event.stream))
        elif isinstance(event, ToolCallStart):
            if event.id not in calls:
                calls[event.id] = [False, False]
                out.append(event)
        elif isinstance(event, ToolCallDelta):
            if event.id in calls and not calls[event.id][0]:
                out.append(event)
        elif isinstance(event, ToolCall):
            calls[event.id] = [True, False]
            out.append(event)
        elif isinstance(event, ToolResult):
            if event.id in calls:
                calls[event.id][1] = True
                output = event.output if event.error is None else None
                out.append(ToolResult(event.id, output, event.error))
        elif isinstance(event, Step):
            out.append(Step())
        elif isinstance(event, Error):
            text = event.message or event.code
            out += [ToolResult(i, error=text) for i, (_, done) in calls.items() if not done]
            out.append(Error("upstream_error", text, False))
        elif isinstance(event, Done):
            known = event.finish_reason in ("stop", "length", "tool_calls", "cancelled")
            out.append(Done(event.finish_reason if known else "other"))
        else:
            out.append(event)
    return out


@settings(max_examples=examples(200), deadline=None)
@given(STREAMS)
def test_property_round_trip_and_valid_for_the_ai_sdk(events: list[Event]) -> None:
    body = encode_stream("vercel-ai", events)
    assert ui_stream_problems(body) == []
    expected = _expected_round_trip(events)
    for chunks in list(chunkings(body))[:4]:
        assert decode_stream("vercel-ai", chunks) == (expected, True)


@settings(max_examples=examples(200), deadline=None)
@given(STREAMS, st.data())
def test_property_a_resumed_stream_is_valid_on_its_own(
    events: list[Event], data: st.DataObject
) -> None:
    after = data.draw(st.integers(0, len(events) - 2), label="after")
    body = encode_resumed("vercel-ai", events, after)
    assert ui_stream_problems(body) == []
    assert decode_stream("vercel-ai", [body])[1]
