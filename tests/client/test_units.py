"""Sans-IO parts of the client: chunked decoding, dialect detection, backoff, replay filter."""

from __future__ import annotations

import pytest

import surestream.client
from surestream.client._answer import Answer
from surestream.client._chunked import ChunkedDecoder, ChunkedError
from surestream.client._detect import AutoDecoder
from surestream.client._resume import DEFAULT_MIN_RETRY_DELAY, Backoff, ReplayFilter, fatal_status
from surestream.events import (
    Data,
    Done,
    Error,
    Event,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    dumps,
)
from surestream.sse import ServerSentEvent

BODY = b"5\r\nhello\r\n1;ext=1\r\n \r\n10\r\n" + b"x" * 16 + b"\r\n0\r\nTrailer: t\r\n\r\nJUNK"


def chunkings(data: bytes) -> list[list[bytes]]:
    """``data`` whole, byte by byte, and split at every position."""
    splits = [[data[:i], data[i:]] for i in range(1, len(data))]
    return [[data], [data[i : i + 1] for i in range(len(data))], *splits]


def test_chunked_decoder_in_every_chunking() -> None:
    for parts in chunkings(BODY):
        decoder = ChunkedDecoder()
        out = b"".join(decoder.feed(part) for part in parts)
        assert out == b"hello " + b"x" * 16
        assert decoder.done


@pytest.mark.parametrize("bad", [b"zz\r\nab\r\n", b"2\r\nabXY", b"-1\r\n", b"2;\r\nab\r\n0\r\n"])
def test_chunked_decoder_rejects_bad_framing(bad: bytes) -> None:
    decoder = ChunkedDecoder()
    if bad == b"2;\r\nab\r\n0\r\n":
        assert decoder.feed(bad) == b"ab"  # an empty extension is tolerated
        return
    with pytest.raises(ChunkedError):
        decoder.feed(bad)


def test_chunked_decoder_bounds_the_size_line() -> None:
    with pytest.raises(ChunkedError):
        ChunkedDecoder(max_line=8).feed(b"1" * 9)


def sse(data: str, id: str | None = None) -> ServerSentEvent:
    return ServerSentEvent(data=data, id=id)


def test_auto_decoder_passes_unknown_payloads_raw_until_a_dialect_shows() -> None:
    decoder = AutoDecoder()
    assert decoder.decode(sse("hello")) == [Data("hello")]
    assert decoder.decode(sse('{"n": 1}')) == [Data({"n": 1})]
    assert decoder.dialect is None
    assert decoder.decode(sse('{"type":"text","text":"a"}')) == [Text("a")]
    assert decoder.dialect == "native"


def test_auto_decoder_named_events_keep_their_name() -> None:
    event = ServerSentEvent(event="tick", data="1")
    assert AutoDecoder().decode(event) == [Data(1, "tick")]


@pytest.mark.parametrize(
    ("payload", "dialect"),
    [
        ('{"type":"start","messageId":"m"}', "vercel-ai"),
        ('{"type":"error","errorText":"x"}', "vercel-ai"),
        ('{"type":"start","stream":"s"}', "native"),
        ('{"type":"error","error":{"code":"upstream_error"}}', "native"),
        ('{"type":"reasoning","text":"hm"}', "native"),
        ('{"type":"tool_call","id":"c","name":"t","args":{}}', "native"),
        ('{"type":"reasoning-start","id":"reasoning-1"}', "vercel-ai"),
        ('{"type":"tool-input-start","toolCallId":"c","toolName":"t"}', "vercel-ai"),
        ('{"object":"chat.completion.chunk","choices":[]}', "openai"),
        ('{"done":true}', "plain"),
        ('{"text":"a"}', "plain"),
    ],
)
def test_auto_decoder_sniffs_payloads(payload: str, dialect: str) -> None:
    decoder = AutoDecoder()
    decoder.decode(sse(payload))
    assert decoder.dialect == dialect


def test_auto_decoder_headers_win() -> None:
    assert AutoDecoder({"X-Vercel-AI-UI-Message-Stream": "v1"}).dialect == "vercel-ai"
    assert AutoDecoder({"surestream-protocol": "1"}).dialect == "native"


def test_auto_decoder_follows_the_headers_of_each_connection() -> None:
    decoder = AutoDecoder({"X-Vercel-AI-UI-Message-Stream": "v1"})
    assert decoder.decode(sse('{"type":"text-delta","id":"text-1","delta":"a"}')) == [Text("a")]
    decoder.see_headers({"Content-Type": "text/event-stream"})  # names none: no change
    assert decoder.dialect == "vercel-ai"
    decoder.see_headers({"Surestream-Protocol": "1"})  # a resume answered in native
    assert decoder.dialect == "native"
    assert decoder.decode(sse('{"type":"text","text":"b"}')) == [Text("b")]


def test_answer_keeps_text_reasoning_and_calls_apart_and_drops_repeats() -> None:
    answer = Answer()
    events: list[Event] = [
        Text("a"),
        Reasoning("r"),
        ToolCallStart("c1", "f"),
        ToolCallDelta("c1", '{"x":'),
        ToolCall("c2", "g", 2),
        ToolCallDelta("c1", " 1}"),
        Text("b"),
    ]
    assert all(answer.add(event) for event in events)
    assert not answer.add(ToolCallStart("c1", "f"))  # named again by a resumed stream
    assert not answer.add(ToolCall("c2", "g", 2))
    assert (answer.text, answer.reasoning) == ("ab", "r")
    assert answer.tool_calls(complete=False) == [ToolCall("c2", "g", 2)]
    assert answer.tool_calls(complete=True) == [
        ToolCall("c1", "f", {"x": 1}),
        ToolCall("c2", "g", 2),
    ]
    assert answer.add(ToolCall("c1", "f", {"x": 1}))  # completes the started call, in place
    assert not answer.add(ToolCall("c1", "f", {"x": 1}))
    assert answer.tool_calls(complete=False)[0] == ToolCall("c1", "f", {"x": 1})


def test_done_marker_while_undecided_is_done() -> None:
    decoder = AutoDecoder()
    assert decoder.decode(sse("[DONE]")) == [Done()]
    assert decoder.finished
    assert decoder.dialect == "openai"


@pytest.mark.parametrize(
    "event",
    [
        Reasoning("hm"),
        ToolCallStart("c1", "f"),
        ToolCallDelta("c1", "{"),
        ToolCall("c1", "f", {"a": 1}),
        ToolResult("c1", 2),
        Step("agent"),
    ],
)
def test_auto_decoder_recognises_native_agent_events_first(event: Event) -> None:
    decoder = AutoDecoder()
    assert decoder.decode(sse(dumps(event).decode())) == [event]
    assert decoder.dialect == "native"


def test_plain_error_and_done() -> None:
    decoder = AutoDecoder()
    assert decoder.decode(sse('{"text":"a"}')) == [Text("a")]
    assert decoder.decode(sse('{"error":{"message":"no"}}')) == [Error("upstream_error", "no")]
    assert decoder.finished
    assert AutoDecoder().decode(sse('{"done":true,"finish_reason":"length"}')) == [Done("length")]


def test_backoff_grows_caps_and_jitters() -> None:
    low = Backoff(1.0, 5.0, 0.5, random=lambda: 0.0)
    high = Backoff(1.0, 5.0, 0.5, random=lambda: 1.0)
    assert [low.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert high.delay(1) == 1.5
    assert low.delay(1, server_retry_ms=250) == 0.25
    assert low.delay(2, server_retry_ms=250) == 0.5


def test_backoff_has_a_floor_whatever_the_server_says() -> None:
    backoff = Backoff(random=lambda: 0.0)
    assert backoff.delay(1, server_retry_ms=0) == DEFAULT_MIN_RETRY_DELAY
    assert backoff.delay(2, server_retry_ms=0) == 2 * DEFAULT_MIN_RETRY_DELAY
    assert Backoff(0.0, 5.0, 0.0).delay(1) == DEFAULT_MIN_RETRY_DELAY


def test_backoff_takes_any_retry_and_any_number_of_failures() -> None:
    backoff = Backoff(1.0, 5.0, 0.0)
    assert backoff.delay(1, server_retry_ms=10**400) == 5.0  # was OverflowError
    assert backoff.delay(10_000) == 5.0  # was OverflowError (2.0 ** 9999)
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=-1)


def test_fatal_statuses() -> None:
    assert fatal_status(404) and fatal_status(410) and fatal_status(401)
    assert not fatal_status(429) and not fatal_status(503) and not fatal_status(408)


def test_replay_filter_drops_replayed_groups_and_releases_new_ones() -> None:
    replay = ReplayFilter()
    replay.reconnected("5", "0")
    assert replay.active
    # A dialect that spreads an event over blocks puts the id on the last one.
    assert replay.accept(sse("a", None), terminal=False) == []
    assert replay.accept(sse("b", "5"), terminal=False) == []
    assert replay.accept(sse("c", "5"), terminal=False) == []  # inherited id: same group
    assert replay.accept(sse("d", "6"), terminal=False) == [sse("c", "5"), sse("d", "6")]
    assert not replay.active


def test_replay_filter_releases_a_verdict_made_up_at_the_resume_point() -> None:
    replay = ReplayFilter()
    replay.reconnected("5", "0")
    assert replay.accept(sse("x", "5"), terminal=True) == [sse("x", "5")]


def test_replay_filter_flushes_what_it_held_when_the_connection_ends() -> None:
    replay = ReplayFilter()
    replay.reconnected("1", "0")
    assert replay.accept(sse("x"), terminal=False) == []
    assert replay.flush() == [sse("x")]
    assert not replay.active


def test_replay_filter_without_a_resume_id_is_off() -> None:
    replay = ReplayFilter()
    replay.reconnected(None, None)
    assert not replay.active


@pytest.mark.parametrize("first", ["a", "c"])
def test_replay_filter_with_opaque_ids_drops_a_replay_up_to_the_resume_id(first: str) -> None:
    replay = ReplayFilter()
    replay.reconnected("c", "a")
    ids = ["a", "b", "c"] if first == "a" else ["c"]
    for event_id in ids:
        assert replay.accept(sse(event_id, event_id), terminal=False) == []
    assert replay.accept(sse("d", "d"), terminal=False) == [sse("d", "d")]
    assert not replay.active


def test_replay_filter_with_opaque_ids_trusts_a_new_first_id() -> None:
    replay = ReplayFilter()
    replay.reconnected("c", "a")
    assert replay.accept(sse("d", "d"), terminal=False) == [sse("d", "d")]


@pytest.mark.parametrize("resume_id", ["³", "٣", "1" * 5000, "-1", "1e3"])
def test_replay_filter_takes_ids_that_are_not_seqs_as_opaque(resume_id: str) -> None:
    replay = ReplayFilter()
    replay.reconnected(resume_id, "0")  # was ValueError on 5000 digits
    assert replay.accept(sse("0", "0"), terminal=False) == []  # a replay from the start
    assert replay.accept(sse("r", resume_id), terminal=False) == []
    assert replay.accept(sse("n", "n"), terminal=False) == [sse("n", "n")]


def test_public_names_are_sorted_and_importable() -> None:
    names = surestream.client.__all__
    # isort style, as ruff keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert [n for n in names if not n.isupper()] == [
        "Backoff",
        "EventStream",
        "Limits",
        "StreamError",
        "StreamFailed",
        "StreamInterrupted",
        "StreamingTransport",
        "SyncEventStream",
        "aconnect",
        "connect",
    ]
    for name in names:
        assert hasattr(surestream.client, name)
    assert issubclass(surestream.client.StreamFailed, surestream.SurestreamError)
    assert issubclass(surestream.client.StreamInterrupted, surestream.client.StreamError)
