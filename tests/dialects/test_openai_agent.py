"""The openai dialect's reasoning and tool calls: encoder bytes, the official SDK's
accumulation, the decoder's assembly by index, the strict and lenient policies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx2
import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surestream.dialects import EncoderOptions
from surestream.dialects.openai import OpenAIDecoder, OpenAIDialect
from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events import (
    Done,
    Error,
    Event,
    Reasoning,
    Start,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
)
from surestream.sse import ServerSentEvent
from tests.dialects._helpers import chunkings, sse_events
from tests.support.markers import examples

FORWARD = OpenAIDialect(forward_tool_calls=True)


def encode(events: Sequence[Event], dialect: OpenAIDialect = FORWARD, **options: Any) -> bytes:
    encoder = dialect.encoder(EncoderOptions(stream_id="chatcmpl-7", model="m", **options))
    return b"".join(encoder.encode(e, seq) for seq, e in enumerate(events))


def deltas(body: bytes) -> list[Any]:
    """The ``delta`` of every chunk (``"[DONE]"`` for the marker)."""
    out: list[Any] = []
    for sse in sse_events([body]):
        if sse.data == "[DONE]":
            out.append("[DONE]")
            continue
        chunk = orjson.loads(sse.data)
        out.extend(c["delta"] for c in chunk["choices"])
    return out


def decode(chunks: Sequence[Any], *, lenient: bool = False) -> list[Event]:
    decoder = OpenAIDecoder(lenient=lenient)
    out: list[Event] = []
    for item in chunks:
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        out.extend(decoder.decode(ServerSentEvent(data=text)))
    return out


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def calls(*fragments: dict[str, Any]) -> dict[str, Any]:
    return chunk({"tool_calls": list(fragments)})


AGENT_TURN: list[Event] = [
    Start(),
    Reasoning("The user wants weather."),
    Text("Let me check."),
    ToolCallStart("call_a", "get_weather"),
    ToolCallDelta("call_a", '{"city":'),
    ToolCallStart("call_b", "get_time"),
    ToolCallDelta("call_a", '"Paris"}'),
    ToolCall("call_a", "get_weather", {"city": "Paris"}),
    ToolCall("call_b", "get_time", {"tz": "CET"}),
    ToolCall("call_c", "get_date", {}),
    Done("tool_calls"),
]


# --- encoder ----------------------------------------------------------------------------------


def test_reasoning_is_delta_reasoning_content() -> None:
    assert deltas(encode([Reasoning("hmm"), Text("a"), Done()])) == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "hmm"},
        {"content": "a"},
        {},
        "[DONE]",
    ]


def test_tool_calls_are_indexed_in_order_of_first_sight() -> None:
    assert deltas(encode(AGENT_TURN))[1:] == [
        {"reasoning_content": "The user wants weather."},
        {"content": "Let me check."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        # call_b had a start and no argument text: its complete call writes the arguments.
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"tz":"CET"}'}}]},
        # call_c came complete, with no start: one fragment with everything.
        {
            "tool_calls": [
                {
                    "index": 2,
                    "id": "call_c",
                    "type": "function",
                    "function": {"name": "get_date", "arguments": "{}"},
                }
            ]
        },
        {},
        "[DONE]",
    ]


def test_without_forwarding_no_tool_call_is_written() -> None:
    body = encode(AGENT_TURN, OpenAIDialect())
    assert b'tool_calls":[' not in body
    assert deltas(body)[1:3] == [
        {"reasoning_content": "The user wants weather."},
        {"content": "Let me check."},
    ]
    assert OpenAIDialect().forward_tool_calls is False


def test_results_steps_and_orphan_deltas_write_nothing() -> None:
    encoder = FORWARD.encoder(EncoderOptions())
    encoder.encode(Start(), 0)
    assert encoder.encode(ToolResult("call_a", {"t": 21}), 1) == b""
    assert encoder.encode(ToolResult("call_a", error="boom"), 2) == b""
    assert encoder.encode(Step("agent"), 3) == b""
    assert encoder.encode(ToolCallDelta("never_started", "{}"), 4) == b""
    assert encoder.encode(ToolCallStart("x", "f"), 5) != b""
    assert encoder.encode(ToolCallStart("x", "f"), 6) == b""  # a second start says nothing
    assert encoder.encode(ToolCallDelta("x", ""), 7) == b""


def test_first_event_gets_the_role_chunk() -> None:
    assert deltas(encode([ToolCall("c1", "f", {"a": 1})]))[:2] == [
        {"role": "assistant", "content": ""},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a":1}'},
                }
            ]
        },
    ]
    assert deltas(encode([Reasoning("r")]))[0] == {"role": "assistant", "content": ""}


def test_string_args_are_the_arguments_text_and_none_is_empty_object() -> None:
    body = encode([ToolCall("c1", "f", '{"broken"'), ToolCall("c2", "g")])
    fragments = [d["tool_calls"][0]["function"]["arguments"] for d in deltas(body)[1:]]
    assert fragments == ['{"broken"', "{}"]


def test_args_json_cannot_carry_raise_local_protocol_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode([ToolCall("c1", "f", {"x": object()})])


def test_include_usage_marks_tool_and_reasoning_chunks() -> None:
    events = [Reasoning("r"), ToolCall("c", "f", {}), Done("tool_calls")]
    body = encode(events, OpenAIDialect(forward_tool_calls=True, include_usage=True))
    for sse in sse_events([body])[:-1]:
        obj = orjson.loads(sse.data)
        assert "usage" in obj and (obj["usage"] is None) == bool(obj["choices"])


# --- the official SDK as the client ----------------------------------------------------------


def _client(body: bytes) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        pieces = [body[i : i + 5] for i in range(0, len(body), 5)]
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=iter(pieces)
        )

    return openai.OpenAI(
        api_key="test",
        base_url="http://surestream.test/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )


TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    for name in ("get_weather", "get_time", "get_date")
]


def test_sdk_stream_helper_accumulates_our_tool_calls_and_reasoning() -> None:
    client = _client(encode(AGENT_TURN))
    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in kinds
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    message = choice.message
    assert message.content == "Let me check."
    assert getattr(message, "reasoning_content", None) == "The user wants weather."
    assert message.tool_calls is not None
    got = [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in message.tool_calls]
    assert got == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_time", {"tz": "CET"}),
        ("call_c", "get_date", {}),
    ]


def test_sdk_sees_no_tool_call_without_forwarding() -> None:
    client = _client(encode(AGENT_TURN, OpenAIDialect()))
    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        final = stream.get_final_completion()
    assert not final.choices[0].message.tool_calls
    assert final.choices[0].message.content == "Let me check."


# --- decoder ----------------------------------------------------------------------------------


def test_decoder_reads_both_reasoning_spellings() -> None:
    assert decode(
        [
            chunk({"reasoning_content": "a"}),
            chunk({"reasoning": "b"}),
            chunk({"reasoning": None, "reasoning_content": None, "content": "c"}),
            chunk({"reasoning": ""}),
            "[DONE]",
        ]
    ) == [Start("c", "m"), Reasoning("a"), Reasoning("b"), Text("c"), Done()]


def test_decoder_assembles_calls_by_index() -> None:
    events = decode(
        [
            calls(
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "w", "arguments": ""},
                }
            ),
            calls({"index": 0, "function": {"arguments": '{"city"'}}),
            calls(
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "t", "arguments": "{}"},
                }
            ),
            calls({"index": 0, "function": {"arguments": ': "Paris"}'}}),
            chunk({}, "tool_calls"),
            {"id": "c", "choices": [], "usage": {"prompt_tokens": 3}},
            "[DONE]",
        ]
    )
    assert events == [
        Start("c", "m"),
        ToolCallStart("call_a", "w"),
        ToolCallDelta("call_a", '{"city"'),
        ToolCallStart("call_b", "t"),
        ToolCallDelta("call_b", "{}"),
        ToolCallDelta("call_a", ': "Paris"}'),
        ToolCall("call_a", "w", {"city": "Paris"}),
        ToolCall("call_b", "t", {}),
        Done("tool_calls", {"prompt_tokens": 3}),
    ]


def test_decoder_completes_calls_at_done_when_no_finish_reason_came() -> None:
    events = decode(
        [calls({"index": 0, "id": "x", "function": {"name": "f", "arguments": "{}"}}), "[DONE]"]
    )
    assert events[-2:] == [ToolCall("x", "f", {}), Done()]


def test_decoder_implied_done_after_finish_has_the_calls_already() -> None:
    decoder = OpenAIDecoder()
    events = [
        e
        for data in (
            calls({"index": 0, "id": "x", "function": {"name": "f", "arguments": '{"a":1}'}}),
            chunk({}, "tool_calls"),
        )
        for e in decoder.decode(ServerSentEvent(data=orjson.dumps(data).decode()))
    ]
    assert events[-1] == ToolCall("x", "f", {"a": 1})
    assert not decoder.finished and decoder.implied_done == Done("tool_calls")


@pytest.mark.parametrize(
    ("arguments", "args"),
    [
        ("", {}),
        ("  ", {}),
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ('{"a": ', '{"a": '),  # not JSON: the text itself, never an exception
        ("[1]", [1]),
    ],
)
def test_decoder_parses_arguments_or_keeps_the_text(arguments: str, args: Any) -> None:
    events = decode(
        [
            calls({"index": 0, "id": "x", "function": {"name": "f", "arguments": arguments}}),
            "[DONE]",
        ]
    )
    assert events[-2] == ToolCall("x", "f", args)


def test_decoder_waits_for_the_name_and_makes_up_a_missing_id() -> None:
    events = decode(
        [
            calls({"index": 3, "function": {"arguments": '{"q":'}}),
            calls({"index": 3, "function": {"name": "search", "arguments": "1}"}}),
            calls({"index": 3, "function": {"name": "search"}}),  # a repeated name is ignored
            chunk({}, "tool_calls"),
        ]
    )
    assert events[1:] == [
        ToolCallStart("call_3", "search"),
        ToolCallDelta("call_3", '{"q":'),
        ToolCallDelta("call_3", "1}"),
        ToolCall("call_3", "search", {"q": 1}),
    ]


def test_decoder_complete_call_in_one_fragment_with_the_finish() -> None:
    # Some servers (Ollama, Mistral) send each call whole, even in the finish chunk.
    whole = {
        "index": 0,
        "id": "c9",
        "type": "function",
        "function": {"name": "f", "arguments": '{"n":2}'},
    }
    events = decode([chunk({"tool_calls": [whole]}, "tool_calls"), "[DONE]"])
    assert events[1:] == [
        ToolCallStart("c9", "f"),
        ToolCallDelta("c9", '{"n":2}'),
        ToolCall("c9", "f", {"n": 2}),
        Done("tool_calls"),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        chunk({"reasoning_content": 5}),
        chunk({"tool_calls": {"index": 0}}),
        calls("not an object"),  # type: ignore[arg-type]
        calls({"id": "x", "function": {"name": "f"}}),
        calls({"index": 0, "function": "f"}),
        calls({"index": 0, "function": {"name": 7}}),
        {"choices": [{"index": 0, "delta": []}]},
        {"choices": {"0": {}}},
        {"choices": [3]},
        chunk({"content": 5}),
    ],
)
def test_strict_raises_where_lenient_skips(bad: dict[str, Any]) -> None:
    with pytest.raises(RemoteProtocolError):
        decode([bad])
    events = decode([bad, chunk({"content": "ok"}, "stop"), "[DONE]"], lenient=True)
    assert Text("ok") in events and events[-1] == Done("stop")


def test_lenient_matches_fragments_without_index_by_id_or_last_call() -> None:
    events = decode(
        [
            calls({"id": "a", "function": {"name": "f", "arguments": "{"}}),
            calls({"function": {"arguments": "}"}}),
            calls({"id": "b", "function": {"name": "g", "arguments": "[]"}}),
            calls({"id": "a", "function": {"arguments": " "}}),
            chunk({}, "tool_calls"),
        ],
        lenient=True,
    )
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall("a", "f", {}),
        ToolCall("b", "g", []),
    ]


def test_event_named_error_is_an_error() -> None:
    for data, message in [
        ('{"message": "overloaded"}', "overloaded"),
        ('{"error": {"message": "boom", "code": "rate_limit_exceeded"}}', "boom"),
        ("plain text", "plain text"),
    ]:
        decoder = OpenAIDecoder()
        (event,) = decoder.decode(ServerSentEvent("error", data))
        assert isinstance(event, Error) and event.message == message
        assert decoder.finished


def test_done_marker_with_whitespace() -> None:
    assert decode([chunk({"content": "a"}), " [DONE] "]) == [Start("c", "m"), Text("a"), Done()]


# --- round trip -------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def agent_streams(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = [Start("chatcmpl-7", "m")]
    for n in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["text", "reasoning", "streamed", "whole"]))
        if kind == "text":
            events.append(Text(draw(st.text(min_size=1, max_size=8))))
        elif kind == "reasoning":
            events.append(Reasoning(draw(st.text(min_size=1, max_size=8))))
        else:
            args = draw(st.dictionaries(st.text(max_size=4), _JSON, max_size=3))
            call_id, name = f"call_{n}", draw(st.sampled_from(["f", "g"]))
            if kind == "streamed":
                text = orjson.dumps(args).decode()
                cut = draw(st.integers(1, len(text)))
                events += [
                    ToolCallStart(call_id, name),
                    ToolCallDelta(call_id, text[:cut]),
                    ToolCallDelta(call_id, text[cut:]),
                ]
            events.append(ToolCall(call_id, name, args))
    events.append(Done("tool_calls"))
    return events


def _expected(events: list[Event]) -> list[Event]:
    """What the decoder gives back: every call's ToolCall just before Done, in index order,
    and a call that came whole streamed as its start plus all its arguments."""
    out: list[Event] = []
    complete: list[Event] = []
    started: set[str] = set()
    for event in events:
        if isinstance(event, ToolCall):
            if event.id not in started:
                out += [
                    ToolCallStart(event.id, event.name),
                    ToolCallDelta(event.id, orjson.dumps(event.args).decode()),
                ]
            complete.append(event)
        elif isinstance(event, ToolCallStart):
            started.add(event.id)
            out.append(event)
        elif isinstance(event, ToolCallDelta):
            if event.args:
                out.append(event)
        else:
            if isinstance(event, Done):
                out += complete
            out.append(event)
    return out


@settings(max_examples=examples(60))
@given(agent_streams())
def test_property_agent_round_trip(events: list[Event]) -> None:
    body = encode(events)
    expected = _expected(events)
    for chunks in list(chunkings(body))[:5]:
        decoder = OpenAIDecoder()
        got = [e for sse in sse_events(chunks) for e in decoder.decode(sse)]
        assert got == expected
