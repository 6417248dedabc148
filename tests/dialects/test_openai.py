"""The openai dialect: OpenAI's documented chunk bytes, the official SDK as client, decoding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk

from surestream.dialects import EncoderOptions, get_dialect
from surestream.dialects.openai import OpenAIDecoder, OpenAIDialect
from surestream.errors import RemoteProtocolError
from surestream.events import (
    Data,
    Done,
    Error,
    ErrorCode,
    Event,
    Start,
    Status,
    Text,
    Unknown,
)
from surestream.sse import ServerSentEvent, encode_comment
from tests.dialects._helpers import chunkings, decode_every_way, decode_stream, encode_stream
from tests.support.markers import examples

GOLDEN = Path(__file__).parent / "golden"
DOC_OPTIONS: dict[str, Any] = {
    "stream_id": "chatcmpl-123",
    "model": "gpt-4o-mini",
    "created": 1694268190,
}

# Source: the "chat completion chunk object" example of the OpenAI API reference,
# https://platform.openai.com/docs/api-reference/chat-streaming/streaming (and the streaming
# example of https://platform.openai.com/docs/api-reference/chat/create). The page prints
# `"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices"`: we write no
# system_fingerprint (it is optional and deprecated), so the test drops that one field and
# the space the docs put after its comma; every other byte is the page's.
DOC_CHUNKS = [
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,'
    '"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,'
    '"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,'
    '"delta":{},"logprobs":null,"finish_reason":"stop"}]}',
]


def _without_fingerprint(chunk: str) -> str:
    return chunk.replace(' "system_fingerprint": "fp_44709d6fcb", ', "")


def _golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def _data_lines(body: bytes) -> list[str]:
    return [
        line.removeprefix("data: ")
        for line in body.decode().split("\n")
        if line.startswith("data: ")
    ]


# --- exact bytes --------------------------------------------------------------------------


def test_doc_chunks_are_our_chunks_byte_for_byte() -> None:
    lines = _data_lines(_golden("openai_normal.sse"))
    assert lines[0] == _without_fingerprint(DOC_CHUNKS[0])
    assert lines[1] == _without_fingerprint(DOC_CHUNKS[1])
    assert lines[-2] == _without_fingerprint(DOC_CHUNKS[2])
    # "data: [DONE]" ends the stream (same pages).
    assert lines[-1] == "[DONE]"


GOLDEN_CASES: list[tuple[str, list[Event], OpenAIDialect]] = [
    # Normal end: role chunk, content chunks, finish chunk, [DONE].
    # https://platform.openai.com/docs/api-reference/chat-streaming/streaming
    ("openai_normal.sse", [Start(), Text("Hello"), Text("!"), Done()], OpenAIDialect()),
    # stream_options.include_usage: "an additional chunk will be streamed before the
    # data: [DONE] message. The usage field on this chunk shows the token usage statistics
    # for the entire request, and the choices field will always be an empty array. All other
    # chunks will also include a usage field, but with a null value."
    # https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
    (
        "openai_usage.sse",
        [Start(), Text("Hello"), Done("length", {"prompt_tokens": 9, "completion_tokens": 1})],
        OpenAIDialect(include_usage=True),
    ),
    # Error end: an {"error": {...}} data object and no [DONE]; the object has the fields of
    # OpenAI's error object (message, type, param, code) and is what openai-python's
    # Stream.__stream__ raises APIError for:
    # https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py
    (
        "openai_error.sse",
        [Start(), Text("Hel"), Error.of(ErrorCode.UPSTREAM_TIMEOUT, "the model went silent")],
        OpenAIDialect(),
    ),
]


@pytest.mark.parametrize(("name", "events", "dialect"), GOLDEN_CASES)
@pytest.mark.parametrize("ids", [True, False])
def test_golden_stream(name: str, events: list[Event], dialect: OpenAIDialect, ids: bool) -> None:
    # ids and retry are asked for but never written: see test_no_ids_no_retry.
    body = encode_stream(dialect, events, ids=ids, **DOC_OPTIONS)
    assert body == _golden(name)


def test_no_ids_no_retry() -> None:
    encoder = get_dialect("openai").encoder(EncoderOptions(ids=True, retry=3000))
    assert encoder.preamble() == b""
    body = encoder.encode(Start(), 0) + encoder.encode(Text("a"), 1) + encoder.encode(Done(), 2)
    assert b"\nid:" not in body and not body.startswith(b"id:")
    assert b"retry:" not in body


def test_include_usage_marks_every_chunk() -> None:
    for line in _data_lines(_golden("openai_usage.sse"))[:-1]:
        chunk = orjson.loads(line)
        assert "usage" in chunk
        assert (chunk["usage"] is None) == bool(chunk["choices"])


def test_without_start_role_chunk_comes_first() -> None:
    with_start = encode_stream("openai", [Start(), Text("x"), Done()], **DOC_OPTIONS)
    without = encode_stream("openai", [Text("x"), Done()], **DOC_OPTIONS)
    assert with_start == without
    only_done = encode_stream("openai", [Done()], **DOC_OPTIONS)
    assert _data_lines(only_done)[0] == _data_lines(with_start)[0]


def test_start_fills_id_and_model_when_options_do_not() -> None:
    body = encode_stream("openai", [Start("st_9", "demo"), Text("x")])
    chunk = orjson.loads(_data_lines(body)[1])
    assert chunk["id"] == "chatcmpl-st_9"
    assert chunk["model"] == "demo"
    body = encode_stream("openai", [Start("st_9", "demo")], stream_id="st_1", model="m")
    assert orjson.loads(_data_lines(body)[0])["id"] == "chatcmpl-st_1"


@pytest.mark.parametrize(
    ("reason", "written"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"),
        ("cancelled", "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reason_mapping(reason: str, written: str) -> None:
    body = encode_stream("openai", [Start(), Done(reason)])
    assert orjson.loads(_data_lines(body)[-2])["choices"][0]["finish_reason"] == written


def test_status_data_unknown_write_nothing() -> None:
    encoder = get_dialect("openai").encoder(EncoderOptions())
    encoder.encode(Start(), 0)
    assert encoder.encode(Status("searching"), 1) == b""
    assert encoder.encode(Data({"a": 1}, "x"), 2) == b""
    assert encoder.encode(Unknown("later", {}), 3) == b""
    assert encoder.encode(Start(), 4) == b""  # a second Start says nothing new


def test_rate_limited_error_type() -> None:
    body = encode_stream("openai", [Error.of(ErrorCode.RATE_LIMITED)])
    assert orjson.loads(_data_lines(body)[0]) == {
        "error": {
            "message": "rate limited",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limited",
        }
    }


@pytest.mark.parametrize("include_usage", [False, True])
def test_encode_text_fast_path_is_byte_identical(include_usage: bool) -> None:
    a = OpenAIDialect(include_usage=include_usage).encoder(EncoderOptions())
    b = OpenAIDialect(include_usage=include_usage).encoder(EncoderOptions())
    for seq, text in enumerate(["", "a", "multi\nline", 'q"\\', "😀\u2028"]):
        assert a.encode_text(text, seq) == b.encode(Text(text), seq)


# --- the official SDK as the client ------------------------------------------------------


def _sdk_stream(body: bytes, chunk: int, **create: Any) -> Iterator[ChatCompletionChunk]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/chat/completions"
        pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=iter(pieces)
        )

    client = openai.OpenAI(
        api_key="test",
        base_url="http://surestream.test/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    return iter(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            **create,
        )
    )


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_openai_sdk_reads_our_stream(chunk: int) -> None:
    body = _golden("openai_normal.sse")
    got = list(_sdk_stream(body, chunk))
    assert all(isinstance(c, ChatCompletionChunk) for c in got)
    assert [c.id for c in got] == ["chatcmpl-123"] * 4
    assert {(c.object, c.created, c.model) for c in got} == {
        ("chat.completion.chunk", 1694268190, "gpt-4o-mini")
    }
    assert got[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in got) == "Hello!"
    assert [c.choices[0].finish_reason for c in got] == [None, None, None, "stop"]
    expected = [orjson.loads(line) for line in _data_lines(body)[:-1]]
    assert [c.model_dump(exclude_unset=True) for c in got] == expected


def test_openai_sdk_reads_usage_chunk() -> None:
    got = list(_sdk_stream(_golden("openai_usage.sse"), 64, stream_options={"include_usage": True}))
    assert [c.usage for c in got[:-1]] == [None, None, None]
    assert got[-1].choices == []
    assert got[-1].usage is not None
    assert (got[-1].usage.prompt_tokens, got[-1].usage.completion_tokens) == (9, 1)
    assert got[-1].usage.total_tokens == 10
    assert got[-2].choices[0].finish_reason == "length"


def test_openai_sdk_raises_api_error_for_our_error() -> None:
    stream = _sdk_stream(_golden("openai_error.sse"), 5)
    assert next(stream).choices[0].delta.role == "assistant"
    assert next(stream).choices[0].delta.content == "Hel"
    with pytest.raises(openai.APIError) as info:
        next(stream)
    assert info.value.message == "the model went silent"
    assert info.value.code == "upstream_timeout"
    assert info.value.type == "server_error"


def test_openai_sdk_tolerates_heartbeat_comments() -> None:
    lines = _golden("openai_normal.sse").split(b"\n\n")
    body = (b"\n\n" + encode_comment("ping") + b"\n").join(lines)
    assert body.count(b": ping") == len(lines) - 1
    got = list(_sdk_stream(body, 3))
    assert "".join(c.choices[0].delta.content or "" for c in got) == "Hello!"


def test_why_we_write_no_ids_for_the_openai_sdk() -> None:
    # The SDK's decoder turns a blank line after a comment into an empty event once it has
    # seen an id, and then fails on json.loads(""): ids plus heartbeats would break it.
    body = b'id: 0\ndata: {"id":"x","object":"chat.completion.chunk","choices":[]}\n\n: ping\n\n'
    with pytest.raises(ValueError):
        list(_sdk_stream(body, 4096))


# --- decoding ------------------------------------------------------------------------------


def test_decode_golden_streams() -> None:
    assert decode_every_way("openai", _golden("openai_normal.sse")) == [
        Start("chatcmpl-123", "gpt-4o-mini"),
        Text("Hello"),
        Text("!"),
        Done("stop"),
    ]
    assert decode_every_way("openai", _golden("openai_usage.sse")) == [
        Start("chatcmpl-123", "gpt-4o-mini"),
        Text("Hello"),
        Done("length", {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}),
    ]
    assert decode_every_way("openai", _golden("openai_error.sse")) == [
        Start("chatcmpl-123", "gpt-4o-mini"),
        Text("Hel"),
        Error("upstream_timeout", "the model went silent", True),
    ]


def test_decode_the_doc_example_as_printed() -> None:
    body = "".join(f"data: {c}\n\n" for c in DOC_CHUNKS).encode() + b"data: [DONE]\n\n"
    assert decode_every_way("openai", body) == [
        Start("chatcmpl-123", "gpt-4o-mini"),
        Text("Hello"),
        Done("stop"),
    ]


def _feed(decoder: OpenAIDecoder, *data: Any) -> list[Event]:
    out: list[Event] = []
    for item in data:
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        out.extend(decoder.decode(ServerSentEvent(data=text)))
    return out


def test_finish_reason_without_done_marker_is_recognisable() -> None:
    decoder = OpenAIDecoder()
    assert decoder.implied_done is None
    events = _feed(
        decoder,
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
        {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
        },
    )
    assert events == [Start("c1", "m"), Text("hi")]
    assert not decoder.finished
    assert decoder.finish_reason == "length"
    assert decoder.implied_done == Done("length")


def test_usage_only_chunk_variants() -> None:
    # vLLM and others send the usage chunk with "choices": null or without choices.
    for chunk in [
        {"id": "c", "choices": None, "usage": {"prompt_tokens": 1}},
        {"id": "c", "usage": {"prompt_tokens": 1}},
    ]:
        decoder = OpenAIDecoder()
        assert _feed(decoder, chunk, "[DONE]") == [
            Start("c", None),
            Done("stop", {"prompt_tokens": 1}),
        ]
        assert decoder.finished


def test_other_choices_and_refusal() -> None:
    decoder = OpenAIDecoder()
    events = _feed(
        decoder,
        {"choices": [{"index": 1, "delta": {"content": "other choice"}}]},
        {"choices": [{"index": 0, "delta": {"refusal": "no"}}]},
        {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]},
        "[DONE]",
    )
    assert events == [Start(None, None), Data("no", "refusal"), Done("stop")]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
            Error("rate_limited", "Rate limit reached", True),
        ),
        (
            {"message": "The server had an error", "type": "server_error", "code": None},
            Error("upstream_error", "The server had an error", False),
        ),
        ({"code": "producer_lost"}, Error("producer_lost", "producer lost", True)),
        ({}, Error("upstream_error", "upstream error", False)),
        ("plain string", Error("upstream_error", "plain string", False)),
    ],
)
def test_error_mapping(error: Any, expected: Error) -> None:
    decoder = OpenAIDecoder()
    assert _feed(decoder, {"error": error}) == [expected]
    assert decoder.finished
    assert _feed(decoder, "[DONE]", {"choices": []}) == []


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        '{"choices": {"0": {}}}',
        '{"choices": [3]}',
        '{"choices": [{"delta": []}]}',
        '{"choices": [{"delta": {"content": 5}}]}',
    ],
)
def test_malformed_chunks_raise(data: str) -> None:
    with pytest.raises(RemoteProtocolError):
        OpenAIDecoder().decode(ServerSentEvent(data=data))


def test_non_object_json_is_unknown() -> None:
    assert OpenAIDecoder().decode(ServerSentEvent(data="[1]")) == [Unknown("", {"data": [1]})]


def test_headers() -> None:
    assert dict(get_dialect("openai").headers) == {}


@settings(max_examples=examples(60))
@given(st.lists(st.text(min_size=1, max_size=12), max_size=10), st.booleans())
def test_property_text_round_trip(texts: list[str], include_usage: bool) -> None:
    usage = {"prompt_tokens": 2, "completion_tokens": len(texts), "total_tokens": 2 + len(texts)}
    events: list[Event] = [Start("chatcmpl-x", "m"), *map(Text, texts), Done("stop", usage)]
    body = encode_stream(OpenAIDialect(include_usage=include_usage), events)
    expected = events if include_usage else [*events[:-1], Done("stop")]
    for chunks in list(chunkings(body))[:6]:
        assert decode_stream("openai", chunks) == (expected, True)
