"""``dialect="auto"`` against real servers writing each dialect's bytes by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import orjson
import pytest
from starlette.applications import Starlette

from surestream.client import StreamFailed, StreamInterrupted, aconnect
from surestream.events import Done, Error, Start, Text
from tests.client.apps import raw_route
from tests.support.servers import ServerThread, serve_in_thread

pytestmark = pytest.mark.anyio


def data(obj: object) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else orjson.dumps(obj)) + b"\n\n"


def openai_chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    return data(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


OPENAI = [
    openai_chunk({"role": "assistant", "content": ""}),
    openai_chunk({"content": "Hel"}),
    openai_chunk({"content": "lo"}),
    openai_chunk({}, "stop"),
]
VERCEL = [
    data({"type": "start", "messageId": "m1"}),
    data({"type": "text-start", "id": "t1"}),
    data({"type": "text-delta", "id": "t1", "delta": "Hel"}),
    data({"type": "text-delta", "id": "t1", "delta": "lo"}),
    data({"type": "text-end", "id": "t1"}),
    data({"type": "finish"}),
    data(b"[DONE]"),
]
PLAIN = [data({"text": "Hel"}), data({"text": "lo"}), data({"done": True})]


def named(obj: dict[str, object]) -> bytes:
    """An Anthropic Messages API block as the API writes it (spaces after the separators)."""
    return (
        f"event: {obj['type']}\ndata: ".encode()
        + orjson.dumps(obj).replace(b'":', b'": ').replace(b',"', b', "')
        + b"\n\n"
    )


def text_delta(text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return named({"type": "content_block_delta", "index": 0, "delta": delta})


START = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude"}
ANTHROPIC = [
    named({"type": "message_start", "message": {**START, "usage": {"input_tokens": 3}}}),
    named(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    ),
    named({"type": "ping"}),
    text_delta("Hel"),
    text_delta("lo"),
    named({"type": "content_block_stop", "index": 0}),
    named(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        }
    ),
]
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
NATIVE = [
    b'id: 0\ndata: {"type":"start"}\n\n',
    b'id: 1\ndata: {"type":"text","text":"Hel"}\n\n',
    b'id: 2\ndata: {"type":"text","text":"lo"}\n\n',
    b'id: 3\ndata: {"type":"done","done":true,"finish_reason":"stop"}\n\n',
]

STREAMS: dict[str, tuple[list[bytes], dict[str, str]]] = {
    "openai": ([*OPENAI, data(b"[DONE]")], {}),
    "openai-truncated": (OPENAI, {}),
    "openai-error": ([OPENAI[0], data({"error": {"message": "overloaded"}})], {}),
    "vercel": (VERCEL, {"x-vercel-ai-ui-message-stream": "v1"}),
    "vercel-no-header": (VERCEL, {}),
    "plain": (PLAIN, {}),
    "native": (NATIVE, {"Surestream-Protocol": "1"}),
    "native-no-header": (NATIVE, {}),
    "anthropic": ([*ANTHROPIC, named({"type": "message_stop"})], {}),
    "anthropic-truncated": (ANTHROPIC, {}),
    "anthropic-error": ([*ANTHROPIC[:4], named(OVERLOADED)], {}),
}


def writer(blocks: list[bytes]) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        for block in blocks:
            yield block

    return body


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    routes = [
        raw_route(f"/{name}", writer(blocks), **headers)
        for name, (blocks, headers) in STREAMS.items()
    ]
    with serve_in_thread(Starlette(routes=routes)) as running:
        yield running


@pytest.mark.parametrize(
    ("name", "dialect"),
    [
        ("openai", "openai"),
        ("vercel", "vercel-ai"),
        ("vercel-no-header", "vercel-ai"),
        ("plain", "plain"),
        ("native", "native"),
        ("native-no-header", "native"),
        ("anthropic", "anthropic"),
    ],
)
async def test_auto_recognises_each_dialect_and_its_end(
    server: ServerThread, name: str, dialect: str
) -> None:
    async with aconnect(f"{server.url}/{name}", retry_delay=0.01) as stream:
        events = [event async for event in stream]
        assert await stream.text() == "Hello"
    assert stream.dialect == dialect
    assert [e for e in events if isinstance(e, Text)] == [Text("Hel"), Text("lo")]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"
    assert stream.outcome == events[-1]
    assert stream.attempts == 1
    if dialect != "plain":
        assert isinstance(events[0], Start)


async def test_an_openai_stream_without_done_marker_is_interrupted_not_done(
    server: ServerThread,
) -> None:
    async with aconnect(f"{server.url}/openai-truncated", retry_delay=0.01) as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamInterrupted):
            await stream.text()
    assert Text("lo") in events
    assert stream.outcome is None
    assert stream.attempts == 1


async def test_an_openai_error_object_fails_the_stream(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/openai-error") as stream:
        with pytest.raises(StreamFailed) as info:
            await stream.text()
    assert isinstance(info.value.error, Error)
    assert "overloaded" in info.value.error.message


async def test_an_anthropic_stream_without_message_stop_is_interrupted_not_done(
    server: ServerThread,
) -> None:
    async with aconnect(f"{server.url}/anthropic-truncated", retry_delay=0.01) as stream:
        events = [event async for event in stream]
        with pytest.raises(StreamInterrupted):
            await stream.text()
    assert Text("lo") in events and stream.dialect == "anthropic"
    assert stream.outcome is None


async def test_an_anthropic_error_event_fails_the_stream(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/anthropic-error") as stream:
        with pytest.raises(StreamFailed) as info:
            await stream.text()
    assert info.value.error == Error("upstream_error", "Overloaded", True)


async def test_an_explicit_dialect_skips_detection(server: ServerThread) -> None:
    async with aconnect(f"{server.url}/vercel-no-header", dialect="vercel-ai") as stream:
        assert await stream.text() == "Hello"
    assert stream.dialect == "vercel-ai"
