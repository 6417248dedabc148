"""The typed events: native JSON shapes, round trips, terminal rule, forward compatibility."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surestream.errors import LocalProtocolError, RemoteProtocolError
from surestream.events import (
    RETRYABLE,
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Reasoning,
    Start,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    Unknown,
    dumps,
    finish_reason_of,
    from_json,
    is_terminal,
    loads,
)

# The shapes of docs/protocol.md and the design, byte for byte.
SHAPES: list[tuple[Event, bytes]] = [
    (
        Start("st_4f9c", "demo"),
        b'{"type":"start","stream":"st_4f9c","model":"demo"}',
    ),
    (Start(), b'{"type":"start"}'),
    (Text("Hello"), b'{"type":"text","text":"Hello"}'),
    (Status("searching"), b'{"type":"status","message":"searching"}'),
    (Reasoning("Let me think"), b'{"type":"reasoning","text":"Let me think"}'),
    (Reasoning("", "EqQB"), b'{"type":"reasoning","text":"","signature":"EqQB"}'),
    (Reasoning("", redacted="EmwK"), b'{"type":"reasoning","text":"","redacted":"EmwK"}'),
    (
        ToolCallStart("call_1", "get_weather"),
        b'{"type":"tool_call_start","id":"call_1","name":"get_weather"}',
    ),
    (
        ToolCallDelta("call_1", '{"city":'),
        b'{"type":"tool_call_delta","id":"call_1","args":"{\\"city\\":"}',
    ),
    (
        ToolCall("call_1", "get_weather", {"city": "Paris"}),
        b'{"type":"tool_call","id":"call_1","name":"get_weather","args":{"city":"Paris"}}',
    ),
    (
        ToolResult("call_1", {"temp": 21}),
        b'{"type":"tool_result","id":"call_1","output":{"temp":21}}',
    ),
    (
        ToolResult("call_1", error="no such city"),
        b'{"type":"tool_result","id":"call_1","error":"no such city"}',
    ),
    (ToolResult("call_1"), b'{"type":"tool_result","id":"call_1","output":null}'),
    (Step(), b'{"type":"step"}'),
    (Step("researcher"), b'{"type":"step","name":"researcher"}'),
    (Data({"k": [1, 2]}), b'{"type":"data","data":{"k":[1,2]}}'),
    (
        Data(["a"], "citations"),
        b'{"type":"data","data":["a"],"name":"citations"}',
    ),
    (Done(), b'{"type":"done","done":true,"finish_reason":"stop"}'),
    (
        Done("stop", {"prompt_tokens": 3, "completion_tokens": 2}),
        b'{"type":"done","done":true,"finish_reason":"stop",'
        b'"usage":{"prompt_tokens":3,"completion_tokens":2}}',
    ),
    (
        Done(FinishReason.CANCELLED),
        b'{"type":"done","done":true,"finish_reason":"cancelled"}',
    ),
    (
        Error("upstream_timeout", "the model went silent", True),
        b'{"type":"error","error":{"code":"upstream_timeout",'
        b'"message":"the model went silent","retryable":true}}',
    ),
]


@pytest.mark.parametrize(("event", "wire"), SHAPES)
def test_native_shape_and_round_trip(event: Event, wire: bytes) -> None:
    assert dumps(event) == wire
    assert orjson.loads(wire) == event.to_json()
    assert from_json(event.to_json()) == event
    assert loads(wire) == event
    assert loads(wire.decode()) == event


def test_every_event_type_has_a_shape() -> None:
    assert {type(e) for e, _ in SHAPES} == {
        Start,
        Text,
        Reasoning,
        ToolCallStart,
        ToolCallDelta,
        ToolCall,
        ToolResult,
        Step,
        Status,
        Data,
        Done,
        Error,
    }


def test_is_terminal() -> None:
    assert is_terminal(Done())
    assert is_terminal(Error.of(ErrorCode.INTERNAL_ERROR))
    content = (Reasoning("r"), ToolCallStart("c", "f"), ToolCallDelta("c", "{"), Step())
    content += (ToolCall("c", "f", {}), ToolResult("c", error="e"))
    for event in (Start(), Text("x"), Status("s"), Data(1), *content, Unknown("later", {})):
        assert not is_terminal(event)
    assert not is_terminal(None)
    assert not is_terminal({"type": "done"})


def test_events_are_frozen_hashable_values() -> None:
    text = Text("a")
    with pytest.raises(AttributeError):
        text.text = "b"  # type: ignore[misc]
    assert Text("a") == Text("a")
    assert len({Text("a"), Text("a"), Status("a")}) == 2
    # Payload fields do not take part in the hash, so unhashable JSON is fine.
    assert hash(Data({"a": [1]})) == hash(Data({"b": 2}))
    assert hash(Done("stop", {"prompt_tokens": 1})) == hash(Done("stop"))
    assert Done(FinishReason.STOP) == Done("stop")


def test_error_of_uses_documented_retryability() -> None:
    for code in ErrorCode:
        err = Error.of(code)
        assert err.code == code.value
        assert err.retryable is (code in RETRYABLE)
        assert err.message == code.value.replace("_", " ")
        assert err.known_code is code
    assert Error.of(ErrorCode.RATE_LIMITED, "slow down").message == "slow down"


def test_retryable_set_is_exactly_documented() -> None:
    assert {
        ErrorCode.UPSTREAM_TIMEOUT,
        ErrorCode.SERVER_SHUTDOWN,
        ErrorCode.PRODUCER_LOST,
        ErrorCode.STORE_UNAVAILABLE,
        ErrorCode.RATE_LIMITED,
    } == RETRYABLE


# --- forward compatibility -------------------------------------------------------------


def test_unknown_type_decodes_to_unknown_never_raises() -> None:
    payload = {"type": "handoff", "name": "search", "args": {"q": "x"}}
    event = from_json(payload)
    assert event == Unknown("handoff", payload)
    assert not is_terminal(event)
    assert event.to_json() == payload
    assert from_json(event.to_json()) == event


@pytest.mark.parametrize("payload", [{}, {"type": None}, {"type": 3}, {"type": ["text"]}])
def test_missing_or_odd_type_is_unknown(payload: dict[str, Any]) -> None:
    event = from_json(payload)
    assert isinstance(event, Unknown)
    assert event.type == ""


def test_unknown_fields_of_known_types_are_ignored() -> None:
    assert from_json({"type": "text", "text": "a", "lang": "en"}) == Text("a")
    assert from_json({"type": "done", "done": True, "finish_reason": "stop", "x": 1}) == Done()


def test_unknown_error_code_from_newer_server_is_kept_as_string() -> None:
    payload = {
        "type": "error",
        "error": {"code": "quantum_decoherence", "message": "m", "retryable": True},
    }
    event = from_json(payload)
    assert event == Error("quantum_decoherence", "m", True)
    assert isinstance(event, Error)
    assert event.known_code is None
    assert event.to_json() == payload


def test_unknown_finish_reason_is_kept_as_string() -> None:
    assert from_json({"type": "done", "finish_reason": "paused"}) == Done("paused")


def test_defaults_for_optional_fields() -> None:
    assert from_json({"type": "start"}) == Start()
    assert from_json({"type": "status"}) == Status("")
    assert from_json({"type": "data"}) == Data(None)
    assert from_json({"type": "tool_call", "id": "c", "name": "f"}) == ToolCall("c", "f")
    assert from_json({"type": "tool_result", "id": "c"}) == ToolResult("c")
    assert from_json({"type": "done"}) == Done()
    assert from_json({"type": "error", "error": {}}) == Error("internal_error", "", False)


# --- wrongly typed fields -----------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "text"},
        {"type": "text", "text": 5},
        {"type": "text", "text": None},
        {"type": "start", "stream": 1},
        {"type": "start", "model": ["demo"]},
        {"type": "status", "message": {"m": 1}},
        {"type": "data", "name": 7},
        {"type": "done", "finish_reason": 1},
        {"type": "done", "usage": [1, 2]},
        {"type": "error"},
        {"type": "error", "error": "boom"},
        {"type": "error", "error": {"code": 500}},
        {"type": "error", "error": {"message": None}},
        {"type": "error", "error": {"retryable": "yes"}},
        {"type": "error", "error": {"retryable": 1}},
        {"type": "reasoning"},
        {"type": "reasoning", "text": 1},
        {"type": "tool_call_start", "id": "c"},
        {"type": "tool_call_start", "name": "f"},
        {"type": "tool_call_delta", "id": "c", "args": {"a": 1}},
        {"type": "tool_call", "id": 1, "name": "f"},
        {"type": "tool_call", "id": "c"},
        {"type": "tool_result"},
        {"type": "tool_result", "id": "c", "error": {"m": 1}},
        {"type": "step", "name": 3},
    ],
)
def test_wrongly_typed_field_raises_remote_protocol_error(payload: dict[str, Any]) -> None:
    with pytest.raises(RemoteProtocolError):
        from_json(payload)


@pytest.mark.parametrize("obj", [[], "text", 3, None])
def test_non_object_raises_remote_protocol_error(obj: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        from_json(obj)


@pytest.mark.parametrize("data", [b"", b"{", b"not json", b'{"type":"text"'])
def test_loads_invalid_json_raises_remote_protocol_error(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        loads(data)


def test_unencodable_content_raises_local_protocol_error() -> None:
    with pytest.raises(LocalProtocolError):
        dumps(Text("\ud800"))
    with pytest.raises(LocalProtocolError):
        dumps(Data(object()))
    with pytest.raises(ValueError):  # LocalProtocolError is a ValueError
        dumps(Status("\udfff"))


def test_dumps_is_one_line_for_any_text() -> None:
    wire = dumps(Text("a\nb\rc\r\nd\u2028e\x00"))
    assert b"\n" not in wire and b"\r" not in wire
    assert loads(wire) == Text("a\nb\rc\r\nd\u2028e\x00")


# --- properties ------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
json_scalars |= st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
opt_text = st.none() | st.text()
finish_reasons = st.sampled_from([str(r) for r in FinishReason]) | st.text()
usages = st.none() | st.dictionaries(st.text(), st.integers(0, 2**31), max_size=3)

events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Start, opt_text, opt_text),
    st.builds(Text, st.text()),
    st.builds(Status, st.text()),
    st.builds(Reasoning, st.text(), opt_text, opt_text),
    st.builds(ToolCallStart, st.text(), st.text()),
    st.builds(ToolCallDelta, st.text(), st.text()),
    st.builds(ToolCall, st.text(), st.text(), json_values),
    st.builds(ToolResult, st.text(), json_values, opt_text),
    st.builds(Step, opt_text),
    st.builds(Data, json_values, opt_text),
    st.builds(Done, finish_reasons, usages),
    st.builds(
        Error, st.sampled_from([c.value for c in ErrorCode]) | st.text(), st.text(), st.booleans()
    ),
)


@given(events)
def test_property_from_json_inverts_to_json(event: Event) -> None:
    assert from_json(event.to_json()) == event


@given(events)
def test_property_loads_inverts_dumps(event: Event) -> None:
    wire = dumps(event)
    assert b"\n" not in wire and b"\r" not in wire
    assert loads(wire) == event
    assert orjson.loads(wire) == event.to_json()


@pytest.mark.parametrize(
    ("raw", "ours"),
    [
        ("stop", "stop"),
        ("STOP", "stop"),
        ("end_turn", "stop"),
        ("MAX_TOKENS", "length"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("tool_call", "tool_calls"),
        ("SAFETY", "content_filter"),
        ("refusal", "content_filter"),
        (" Length ", "length"),
        ("cancelled", None),
        ("x" * 5000, None),
        (7, None),
        (None, None),
        (FinishReason.LENGTH, "length"),
    ],
)
def test_finish_reason_of_reads_other_apis_spellings(raw: object, ours: str | None) -> None:
    assert finish_reason_of(raw) == ours
