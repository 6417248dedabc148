"""The anthropic dialect: the Messages API stream our encoder writes, the official ``anthropic``
SDK reading it (its ``.stream()`` helper and raw events), resume, and reading it back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surestream.dialects import EncoderOptions, get_dialect
from surestream.dialects.anthropic import AnthropicDialect, whole_message
from surestream.dialects.openai import arguments_text, parse_arguments
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
from tests.dialects._agent_events import AGENT, STREAMS, WEATHER
from tests.dialects._helpers import chunkings, decode_stream, encode_resumed, encode_stream
from tests.support.markers import examples

USAGE = {"prompt_tokens": 12, "completion_tokens": 9}
TURN: list[Event] = [*AGENT[:-1], Done("stop", USAGE)]
"""The agent's turn of ``_agent_events`` with token counts."""


def _sse(body: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """(event name, data) of each block of ``body``."""
    out = []
    for block in body.decode().split("\n\n"):
        lines = block.split("\n")
        names = [line[7:] for line in lines if line.startswith("event: ")]
        datas = [line[6:] for line in lines if line.startswith("data: ")]
        if datas:
            out.append((names[0] if names else None, orjson.loads(datas[0])))
    return out


def _client(body: bytes, chunk: int) -> anthropic.Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/messages"
        pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=iter(pieces)
        )

    return anthropic.Anthropic(
        api_key="test",
        base_url="http://surestream.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )


REQUEST: dict[str, Any] = {
    "model": "demo",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "weather?"}],
}


def _final_message(body: bytes, chunk: int = 4096) -> Any:
    with _client(body, chunk).messages.stream(**REQUEST) as stream:
        return stream.get_final_message()


def _raw_events(body: bytes, chunk: int = 4096) -> Iterator[Any]:
    return iter(_client(body, chunk).messages.create(**REQUEST, stream=True))


# --- what the encoder writes --------------------------------------------------------------


def test_every_block_is_named_by_its_type_and_ids_mark_whole_events() -> None:
    body = encode_stream("anthropic", TURN, stream_id="st_1", retry=None)
    blocks = _sse(body)
    assert all(name == data["type"] for name, data in blocks)
    assert [name for name, _ in blocks] == [
        "message_start",
        *["content_block_start"] + ["content_block_delta"] * 2 + ["content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_stop"],
        *["content_block_start"] + ["content_block_delta"] * 2 + ["content_block_stop"],
        *["content_block_start", "content_block_delta"],
        *["content_block_stop", "message_delta", "message_stop"],
    ]
    ids = [int(line[4:]) for line in body.decode().split("\n") if line.startswith("id: ")]
    assert ids == [0, 2, 3, 4, 5, 6, 7, 8, 11, 12]  # no id for Step (1), ToolResult (9), Step (10)
    assert body.endswith(b'id: 12\nevent: message_stop\ndata: {"type":"message_stop"}\n\n')
    message = blocks[0][1]["message"]
    assert (message["id"], message["model"], message["content"]) == ("msg_st_1", "demo", [])
    assert blocks[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"input_tokens": 12, "output_tokens": 9},
    }


def test_preamble_ids_and_retry_follow_the_options() -> None:
    encoder = get_dialect("anthropic").encoder(EncoderOptions(ids=False, retry=None))
    assert encoder.preamble() == b""
    assert b"id:" not in b"".join(encoder.encode(e, n) for n, e in enumerate(TURN))
    assert get_dialect("anthropic").encoder(EncoderOptions()).preamble() == b"retry: 3000\n"


def test_encode_text_fast_path_is_byte_identical() -> None:
    dialect = AnthropicDialect()
    a, b = dialect.encoder(EncoderOptions()), dialect.encoder(EncoderOptions())
    for seq, text in enumerate(["", "a", "multi\nline", 'q"\\', "😀\u2028"]):
        assert a.encode_text(text, seq) == b.encode(Text(text), seq)
    assert a.encode(Reasoning("r"), 9) == b.encode(Reasoning("r"), 9)
    assert a.encode_text("after", 10) == b.encode(Text("after"), 10)


def test_tool_calls_with_and_without_their_start_and_pieces() -> None:
    events: list[Event] = [
        Start("s", "m"),
        ToolCall("whole", "search", {"q": "x"}),
        ToolCallStart("bare", "get_weather"),
        Text("while the call is open"),
        ToolCall("bare", "get_weather", WEATHER),
        ToolCallStart("open", "search"),
        Done("tool_calls"),
    ]
    blocks = [data for _, data in _sse(encode_stream("anthropic", events))]
    starts = {b["index"]: b["content_block"] for b in blocks if b["type"] == "content_block_start"}
    assert starts == {
        0: {"type": "tool_use", "id": "whole", "name": "search", "input": {}},
        1: {"type": "tool_use", "id": "bare", "name": "get_weather", "input": {}},
        2: {"type": "text", "text": ""},
        3: {"type": "tool_use", "id": "open", "name": "search", "input": {}},
    }
    pieces = {
        b["index"]: b["delta"]["partial_json"]
        for b in blocks
        if b["type"] == "content_block_delta" and b["delta"]["type"] == "input_json_delta"
    }
    assert pieces == {0: '{"q":"x"}', 1: '{"city":"Paris"}'}
    stops = [b["index"] for b in blocks if b["type"] == "content_block_stop"]
    assert stops == [0, 1, 2, 3]
    assert blocks[-2]["delta"]["stop_reason"] == "tool_use"


def test_results_steps_status_and_data_write_nothing() -> None:
    encoder = get_dialect("anthropic").encoder(EncoderOptions())
    encoder.encode(Start(), 0)
    for event in (ToolResult("c1", 1), Step("x"), Status("s"), Data({"a": 1}, "d")):
        assert encoder.encode(event, 1) == b""


@pytest.mark.parametrize(
    ("reason", "written"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("cancelled", "end_turn"),
        ("new_one", "end_turn"),
    ],
)
def test_stop_reasons(reason: str, written: str) -> None:
    blocks = _sse(encode_stream("anthropic", [Done(reason)]))
    assert [name for name, _ in blocks] == ["message_start", "message_delta", "message_stop"]
    assert blocks[1][1]["delta"]["stop_reason"] == written


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (ErrorCode.RATE_LIMITED, "rate_limit_error"),
        (ErrorCode.UPSTREAM_TIMEOUT, "timeout_error"),
        (ErrorCode.IDLE_TIMEOUT, "timeout_error"),
        (ErrorCode.SERVER_SHUTDOWN, "overloaded_error"),
        (ErrorCode.UPSTREAM_TRUNCATED, "api_error"),
        (ErrorCode.INTERNAL_ERROR, "api_error"),
    ],
)
def test_errors_are_error_events_with_the_api_type_and_our_code(code: ErrorCode, kind: str) -> None:
    body = encode_stream("anthropic", [Start(), Text("Hel"), Error.of(code, "it broke")])
    name, data = _sse(body)[-1]
    assert name == "error"
    assert data == {"type": "error", "error": {"type": kind, "message": "it broke", "code": code}}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_our_errors_are_read_back_with_their_code_and_retryability(code: ErrorCode) -> None:
    error = Error.of(code, "it broke")
    events, finished = decode_stream("anthropic", [encode_stream("anthropic", [Start(), error])])
    assert finished and events[-1] == error


def test_a_retryable_error_is_overloaded_unless_its_type_says_retry_already() -> None:
    retry = Error(ErrorCode.UPSTREAM_ERROR, "Overloaded", True)
    _, data = _sse(encode_stream("anthropic", [retry]))[-1]
    assert data["error"] == {
        "type": "overloaded_error",
        "message": "Overloaded",
        "code": retry.code,
    }
    events, _ = decode_stream("anthropic", [encode_stream("anthropic", [retry])])
    assert events == [Error(ErrorCode.UPSTREAM_ERROR, "Overloaded", True)]


# --- the official SDK as the client ------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_sdk_stream_helper_builds_the_whole_message(chunk: int) -> None:
    message = _final_message(encode_stream("anthropic", TURN, stream_id="st_1"), chunk)
    assert message.id == "msg_st_1" and message.model == "demo"
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "text"]
    thinking, looking, call, answer = message.content
    assert thinking.thinking == "Let me check."
    assert (looking.text, answer.text) == ("Looking it up.", "It is 21 °C.")
    assert (call.id, call.name, call.input) == ("call_1", "get_weather", WEATHER)
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 9)
    done = TURN[-1]
    assert isinstance(done, Done)
    whole = whole_message(TURN[:-1], done, message_id="msg_st_1", model="demo")
    assert message.model_dump(exclude_none=True) == {
        k: v for k, v in whole.items() if v is not None
    }


def test_sdk_raw_events_are_typed() -> None:
    got = list(_raw_events(encode_stream("anthropic", TURN), 5))
    assert [e.type for e in got] == [
        data["type"] for _, data in _sse(encode_stream("anthropic", TURN))
    ]
    deltas = [e.delta for e in got if e.type == "content_block_delta"]
    assert [d.type for d in deltas] == [
        "thinking_delta",
        "thinking_delta",
        "text_delta",
        "input_json_delta",
        "input_json_delta",
        "text_delta",
    ]


def test_sdk_raises_on_our_error_event() -> None:
    events = [Start("s", "demo"), Text("Hel"), Error.of(ErrorCode.UPSTREAM_TIMEOUT, "went silent")]
    stream = _raw_events(encode_stream("anthropic", events), 3)
    assert next(stream).type == "message_start"
    assert next(stream).type == "content_block_start"
    assert next(stream).delta.text == "Hel"
    with pytest.raises(anthropic.APIStatusError) as info:
        next(stream)
    assert info.value.body == {
        "type": "error",
        "error": {"type": "timeout_error", "message": "went silent", "code": "upstream_timeout"},
    }


def test_sdk_tolerates_heartbeats_between_blocks() -> None:
    body = encode_stream("anthropic", TURN).replace(b"\n\n", b"\n\n: ping\n\n")
    assert _final_message(body, 3).content[1].text == "Looking it up."


def test_a_stream_cut_before_message_stop_is_quiet_to_the_sdk_but_not_finished_to_us() -> None:
    body = encode_stream("anthropic", TURN)
    cut = body[: body.index(b"event: message_delta")]
    message = _final_message(cut)  # the SDK's blind spot: no exception
    assert message.stop_reason is None
    events, finished = decode_stream("anthropic", [cut])
    assert not finished and not any(isinstance(e, Done | Error) for e in events)
    _, finished = decode_stream("anthropic", [body[: body.index(b"event: message_stop")]])
    assert not finished


# --- reading it back ----------------------------------------------------------------------


def test_decoder_reads_our_turn_in_every_chunking() -> None:
    body = encode_stream("anthropic", TURN, stream_id="st_1")
    results = {repr(decode_stream("anthropic", chunks)) for chunks in chunkings(body)}
    assert len(results) == 1
    events, finished = decode_stream("anthropic", [body])
    assert finished
    assert events[0] == Start("msg_st_1", "demo")
    assert [e for e in events if not isinstance(e, Start | Done)] == [
        e
        for e in TURN
        if isinstance(e, Reasoning | Text | ToolCallStart | ToolCallDelta | ToolCall)
    ]
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert done.usage is not None and (
        done.usage["prompt_tokens"],
        done.usage["output_tokens"],
    ) == (12, 9)


def test_claims_its_payloads_and_not_the_native_error() -> None:
    dialect = AnthropicDialect()
    assert dialect.claims({"type": "content_block_stop", "index": 0})
    assert dialect.claims({"type": "error", "error": {"type": "overloaded_error", "message": "x"}})
    assert not dialect.claims(
        {"type": "error", "error": {"code": "x", "message": "", "retryable": False}}
    )
    assert not dialect.claims({"type": "ping"}) and not dialect.claims(["message_stop"])
    assert dialect.ends('{"type":"message_stop"}') and not dialect.ends('{"type":"message_delta"}')
    assert not dialect.ends("[DONE]") and not dialect.ends('{"type":"error","error":{"code":"x"}}')


def _expected(events: list[Event]) -> tuple[str, str, list[str], type]:
    """What any reader must get back: the text, the reasoning, the calls' ids, the end."""
    calls: list[str] = []
    for event in events:
        if isinstance(event, ToolCallStart | ToolCall) and event.id not in calls:
            calls.append(event.id)
    text = "".join(e.text for e in events if type(e) is Text)
    reasoning = "".join(e.text for e in events if type(e) is Reasoning)
    return text, reasoning, calls, type(events[-1])


@settings(max_examples=examples(150), deadline=None)
@given(STREAMS)
def test_property_what_is_read_back_is_what_was_written(events: list[Event]) -> None:
    body = encode_stream("anthropic", events)
    got, finished = decode_stream("anthropic", [body])
    assert finished
    assert _expected(got) == _expected(events)
    pieces: dict[str, list[str]] = {}
    for event in got:
        if isinstance(event, ToolCallDelta):
            pieces.setdefault(event.id, []).append(event.args)
        elif isinstance(event, ToolCall):
            assert event.args == parse_arguments("".join(pieces.get(event.id, [])))
    terminal, written = got[-1], events[-1]
    if isinstance(written, Error):
        assert isinstance(terminal, Error) and terminal.code == written.code
        assert terminal.message == (written.message or written.code)
    else:
        assert isinstance(written, Done) and isinstance(terminal, Done)
        reason = {"length": "length", "tool_calls": "tool_calls"}.get(written.finish_reason, "stop")
        assert terminal.finish_reason == reason


@settings(max_examples=examples(100), deadline=None)
@given(STREAMS, st.data())
def test_property_a_resumed_stream_continues_byte_for_byte(
    events: list[Event], data: st.DataObject
) -> None:
    whole = encode_stream("anthropic", events, retry=None)
    after = data.draw(st.integers(0, len(events) - 2))
    encoder = get_dialect("anthropic").encoder(EncoderOptions(retry=None))
    head = b"".join(encoder.encode(e, seq) for seq, e in enumerate(events[: after + 1]))
    assert head + encode_resumed("anthropic", events, after, retry=None) == whole


def test_a_resumed_stream_spliced_onto_what_the_client_had_is_the_whole_message() -> None:
    whole = encode_stream("anthropic", TURN)
    for after in range(len(TURN) - 1):
        encoder = get_dialect("anthropic").encoder(EncoderOptions())
        head = encoder.preamble() + b"".join(
            encoder.encode(e, seq) for seq, e in enumerate(TURN[: after + 1])
        )
        rest = encode_resumed("anthropic", TURN, after, retry=None)
        assert _final_message(head + rest) == _final_message(whole)


def test_whole_message_groups_runs_and_keeps_call_order() -> None:
    events: list[Event] = [
        Reasoning("a"),
        Reasoning("b"),
        Text("x"),
        ToolCallStart("c1", "f"),
        ToolCallDelta("c1", "{}"),
        Text("y"),
        ToolCall("c1", "f", {"k": 1}),
        ToolCall("c2", "g", None),
    ]
    message = whole_message(events, Done("tool_calls"), message_id="msg_1", model="m")
    assert message["content"] == [
        {"type": "thinking", "thinking": "ab", "signature": ""},
        {"type": "text", "text": "x"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"k": 1}},
        {"type": "text", "text": "y"},
        {"type": "tool_use", "id": "c2", "name": "g", "input": {}},
    ]
    assert (message["stop_reason"], message["usage"]) == (
        "tool_use",
        {"input_tokens": 0, "output_tokens": 0},
    )
    assert arguments_text(None) == "{}"


SIGNED: list[Event] = [
    Reasoning("Let me"),
    Reasoning(" check."),
    Reasoning("", signature="EqQB"),
    Reasoning("", redacted="EmwK"),
    Reasoning("Then call.", signature="EqQC"),
    ToolCall("call_1", "get_weather", WEATHER),
    Done("tool_calls", USAGE),
]
"""Thinking of an Anthropic model: signed blocks and a redacted one, then a call."""


@pytest.mark.parametrize("chunk", [1, 4096])
def test_signed_and_redacted_thinking_reach_the_sdk_as_they_came(chunk: int) -> None:
    body = encode_stream("anthropic", SIGNED, stream_id="st_1")
    message = _final_message(body, chunk)
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "thinking", "thinking": "Let me check.", "signature": "EqQB"},
        {"type": "redacted_thinking", "data": "EmwK"},
        {"type": "thinking", "thinking": "Then call.", "signature": "EqQC"},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": WEATHER},
    ]
    whole = whole_message(SIGNED[:-1], Done("tool_calls"), message_id="msg_st_1", model="")
    assert whole["content"] == [block.model_dump(exclude_none=True) for block in message.content]
    deltas = [e.delta.type for e in _raw_events(body) if e.type == "content_block_delta"]
    assert deltas.count("signature_delta") == 2


def test_signed_and_redacted_thinking_read_back_as_written() -> None:
    got, finished = decode_stream("anthropic", [encode_stream("anthropic", SIGNED)])
    assert finished
    reasoning = [e for e in got if isinstance(e, Reasoning)]
    assert reasoning == [
        *SIGNED[:4],
        Reasoning("Then call."),
        Reasoning("", signature="EqQC"),
    ]


def test_other_dialects_write_nothing_for_a_signature_or_redacted_thinking() -> None:
    for name in ("openai", "vercel-ai"):
        encoder = get_dialect(name).encoder(EncoderOptions())
        encoder.encode(Start("st_1", "m"), 0)
        assert encoder.encode(Reasoning("", signature="EqQB"), 1) == b""
        assert encoder.encode(Reasoning("", redacted="EmwK"), 2) == b""
        assert encoder.encode(Reasoning("Hm", signature="EqQB"), 3) != b""


def test_a_stream_with_signed_thinking_resumes_byte_for_byte() -> None:
    whole = encode_stream("anthropic", SIGNED, retry=None)
    for after in range(len(SIGNED) - 1):
        encoder = get_dialect("anthropic").encoder(EncoderOptions(retry=None))
        head = b"".join(encoder.encode(e, seq) for seq, e in enumerate(SIGNED[: after + 1]))
        assert head + encode_resumed("anthropic", SIGNED, after, retry=None) == whole
