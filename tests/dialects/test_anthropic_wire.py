"""The Anthropic Messages stream read into our events: every block kind, stop reason, error."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surestream.dialects._anthropic_wire import (
    STOP_REASON_OF,
    STOP_REASONS,
    AnthropicDecoder,
    anthropic_usage,
    usage_of,
)
from surestream.dialects.openai import parse_arguments
from surestream.errors import RemoteProtocolError
from surestream.events import (
    Data,
    Done,
    Error,
    Event,
    FinishReason,
    Reasoning,
    Start,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)
from surestream.sse import Decoder, ServerSentEvent
from tests.dialects._helpers import chunkings


def block(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


START_USAGE = {
    "input_tokens": 12,
    "output_tokens": 1,
    "cache_creation_input_tokens": 3,
    "cache_read_input_tokens": 5,
}
START = block(
    "message_start",
    {
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "usage": START_USAGE,
        }
    },
)


def delta(index: int, **payload: Any) -> bytes:
    return block("content_block_delta", {"index": index, "delta": payload})


def opens(index: int, **content_block: Any) -> bytes:
    return block("content_block_start", {"index": index, "content_block": content_block})


def end(reason: str = "end_turn", output: int = 9) -> bytes:
    stop = {"stop_reason": reason, "stop_sequence": None}
    message_delta = block("message_delta", {"delta": stop, "usage": {"output_tokens": output}})
    return message_delta + block("message_stop", {})


AGENT_TURN = b"".join(
    [
        START,
        opens(0, type="thinking", thinking="", signature=""),
        block("ping", {}),
        delta(0, type="thinking_delta", thinking="Let me"),
        delta(0, type="thinking_delta", thinking=" think."),
        delta(0, type="signature_delta", signature="EqQB"),
        block("content_block_stop", {"index": 0}),
        opens(1, type="text", text=""),
        delta(1, type="text_delta", text="Hello"),
        delta(1, type="text_delta", text=" world"),
        block("content_block_stop", {"index": 1}),
        block(
            "content_block_start",
            {
                "index": 2,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {},
                },
            },
        ),
        delta(2, type="input_json_delta", partial_json=""),
        delta(2, type="input_json_delta", partial_json='{"city": "Pa'),
        delta(2, type="input_json_delta", partial_json='ris"}'),
        block("content_block_stop", {"index": 2}),
        end("tool_use", 30),
    ]
)

USAGE = {
    "prompt_tokens": 20,
    "completion_tokens": 30,
    "total_tokens": 50,
    "prompt_tokens_details": {"cached_tokens": 5},
    "input_tokens": 12,
    "output_tokens": 30,
    "cache_creation_input_tokens": 3,
    "cache_read_input_tokens": 5,
}

EXPECTED: list[Event] = [
    Start("msg_1", "claude-x"),
    Reasoning("Let me"),
    Reasoning(" think."),
    Reasoning("", signature="EqQB"),
    Text("Hello"),
    Text(" world"),
    ToolCallStart("toolu_1", "get_weather"),
    ToolCallDelta("toolu_1", '{"city": "Pa'),
    ToolCallDelta("toolu_1", 'ris"}'),
    ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
    Done("tool_calls", USAGE),
]


def decode_all(data: bytes, *, lenient: bool = False) -> list[Event]:
    decoder, sse = AnthropicDecoder(lenient=lenient), Decoder()
    return [e for ev in sse.feed(data) + sse.close() for e in decoder.decode(ev)]


def test_an_agent_turn_in_every_chunking() -> None:
    for chunks in chunkings(AGENT_TURN):
        decoder, sse = AnthropicDecoder(), Decoder()
        events = [e for chunk in chunks for ev in sse.feed(chunk) for e in decoder.decode(ev)]
        assert events == EXPECTED
        assert decoder.finished
        assert events[-1].usage == USAGE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reason", "ours"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        ("a_reason_from_the_future", "stop"),
    ],
)
def test_stop_reasons(reason: str, ours: str) -> None:
    events = decode_all(START + end(reason))
    assert isinstance(events[-1], Done)
    assert events[-1].finish_reason == ours


def test_every_finish_reason_has_a_stop_reason_that_reads_back() -> None:
    for finish in FinishReason:
        expected = FinishReason.STOP if finish == FinishReason.CANCELLED else finish
        assert STOP_REASONS[STOP_REASON_OF[finish]] == expected


@pytest.mark.parametrize(
    ("kind", "code", "retryable"),
    [
        ("overloaded_error", "upstream_error", True),
        ("rate_limit_error", "rate_limited", True),
        ("timeout_error", "upstream_timeout", True),
        ("api_error", "upstream_error", False),
        ("invalid_request_error", "upstream_error", False),
        ("billing_error", "upstream_error", False),
    ],
)
def test_error_event_ends_the_stream(kind: str, code: str, retryable: bool) -> None:
    body = START + delta(0, type="text_delta", text="Hi")
    body += block("error", {"error": {"type": kind, "message": "Overloaded"}})
    body += end()
    decoder, sse = AnthropicDecoder(), Decoder()
    events = [e for ev in sse.feed(body) for e in decoder.decode(ev)]
    assert events == [Start("msg_1", "claude-x"), Text("Hi"), Error(code, "Overloaded", retryable)]
    assert decoder.finished


def test_error_event_without_json_or_message() -> None:
    assert decode_all(b"event: error\ndata: boom\n\n") == [Error("upstream_error", "boom")]
    assert decode_all(block("error", {})) == [Error("upstream_error", "upstream error")]


def test_a_stream_cut_before_message_stop_is_not_finished() -> None:
    decoder, sse = AnthropicDecoder(), Decoder()
    body = START + delta(0, type="text_delta", text="Hi")
    events = [e for ev in sse.feed(body) for e in decoder.decode(ev)]
    assert events == [Start("msg_1", "claude-x"), Text("Hi")]
    assert not decoder.finished and decoder.finish_reason is None and decoder.implied_done is None
    for ev in sse.feed(end("max_tokens")[: end("max_tokens").index(b"event: message_stop")]):
        decoder.decode(ev)
    assert not decoder.finished
    assert decoder.finish_reason == "length"
    assert decoder.implied_done == Done("length", usage_of({**decoder.usage}))


def test_ping_unknown_events_and_blocks_give_nothing_but_redacted_thinking() -> None:
    body = START + block("ping", {}) + block("a_new_event", {"x": 1})
    body += block(
        "content_block_start",
        {
            "index": 0,
            "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
        },
    )
    body += delta(0, type="input_json_delta", partial_json='{"q": 1}')
    body += block("content_block_stop", {"index": 0})
    body += opens(1, type="redacted_thinking", data="x")
    body += delta(1, type="a_new_delta", x=1)
    body += block("content_block_stop", {"index": 1})
    assert decode_all(body, lenient=True) == [
        Start("msg_1", "claude-x"),
        Reasoning("", redacted="x"),
    ]
    with pytest.raises(RemoteProtocolError, match="no tool_use"):
        decode_all(body)


def test_text_in_block_starts_citations_and_a_call_with_whole_input() -> None:
    body = START + opens(0, type="text", text="Hi")
    body += delta(0, type="citations_delta", citation={"cited_text": "x"})
    body += opens(1, type="thinking", thinking="Hm")
    body += block(
        "content_block_start",
        {
            "index": 2,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
        },
    )
    body += block("message_stop", {})
    assert decode_all(body) == [
        Start("msg_1", "claude-x"),
        Text("Hi"),
        Data({"cited_text": "x"}, "citation"),
        Reasoning("Hm"),
        ToolCallStart("t", "f"),
        ToolCall("t", "f", {"a": 1}),
        Done(
            "stop",
            usage_of(
                {
                    "input_tokens": 12,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 3,
                    "cache_read_input_tokens": 5,
                }
            ),
        ),
    ]


def test_arguments_that_are_not_json_stay_text() -> None:
    body = START + opens(0, type="tool_use", id="t", name="f", input={})
    body += delta(0, type="input_json_delta", partial_json="{oops")
    body += block("content_block_stop", {"index": 0}) + end("tool_use")
    assert ToolCall("t", "f", "{oops") in decode_all(body)


def test_nothing_after_the_end() -> None:
    decoder = AnthropicDecoder()
    assert decoder.decode(ServerSentEvent("message_stop", '{"type":"message_stop"}'))
    assert (
        decoder.decode(ServerSentEvent("message_start", START.split(b"data: ")[1].decode())) == []
    )


@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"content_block_delta","index":"0","delta":{"type":"text_delta","text":"x"}}',
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":5}}',
        b'{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":1}}',
        b'{"type":"message_delta","delta":{"stop_reason":5}}',
        b'{"type":"message_start","message":[]}',
        b'{"type":"message_delta","delta":{},"usage":[]}',
    ],
)
def test_wrongly_typed_fields_raise_strictly_and_are_skipped_leniently(data: bytes) -> None:
    sse = ServerSentEvent("message", data.decode())
    with pytest.raises(RemoteProtocolError):
        AnthropicDecoder().decode(sse)
    lenient = AnthropicDecoder(lenient=True).decode(sse)
    assert lenient in ([], [Start()])


@pytest.mark.parametrize("data", ["not json", "[1]"])
def test_data_that_is_no_json_object_raises_in_both_policies(data: str) -> None:
    for lenient in (False, True):
        with pytest.raises(RemoteProtocolError):
            AnthropicDecoder(lenient=lenient).decode(ServerSentEvent("message", data))


def test_usage_both_ways() -> None:
    assert anthropic_usage(USAGE) == {
        "input_tokens": 12,
        "output_tokens": 30,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 5,
    }
    assert anthropic_usage({"prompt_tokens": 4, "completion_tokens": 2}) == {
        "input_tokens": 4,
        "output_tokens": 2,
    }
    assert anthropic_usage(None) == {"input_tokens": 0, "output_tokens": 0}
    assert usage_of({"input_tokens": 2, "output_tokens": "x"})["total_tokens"] == 2


@given(st.lists(st.text(min_size=1), max_size=8), st.lists(st.text(min_size=1), max_size=8))
def test_any_split_of_text_and_arguments_reassembles(texts: list[str], pieces: list[str]) -> None:
    body = START + b"".join(delta(0, type="text_delta", text=t) for t in texts)
    body += opens(1, type="tool_use", id="t", name="f", input={})
    body += b"".join(delta(1, type="input_json_delta", partial_json=p) for p in pieces)
    body += block("content_block_stop", {"index": 1}) + end("tool_use")
    events = decode_all(body)
    assert "".join(e.text for e in events if isinstance(e, Text)) == "".join(texts)
    deltas = "".join(e.args for e in events if isinstance(e, ToolCallDelta))
    assert deltas == "".join(pieces)
    assert ToolCall("t", "f", parse_arguments(deltas)) in events
