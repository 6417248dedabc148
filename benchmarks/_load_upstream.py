"""The HTTP upstream of ``benchmarks/load.py --upstream http``: an OpenAI-wire model server in its
own process that streams stamped tokens, one HTTP chunk per token, as vLLM and OpenAI flush.

Strategy: one asyncio ``Protocol`` per connection on uvloop, no framework, so the process that
shares the cores with the server under test stays cheap and every server in front of it reads
exactly the same bytes. ``POST .../chat/completions`` answers ``200`` with
``Transfer-Encoding: chunked`` and ``text/event-stream``: a role chunk, then ``--tokens``
tokens (a request's ``max_tokens`` shortens the answer; the warm-up uses it) at ``--tps`` per
second on the stream's own schedule (one ``call_at`` per token, start + k / tps), each token a
``chat.completion.chunk`` whose ``delta.content`` is its production time
(``" 1712345678.123456"``, the stamp the load generator reads), each written in one chunk and
one socket write; then the ``finish_reason`` chunk, the usage chunk and ``data: [DONE]`` as
OpenAI sends them. Connections are kept alive (httpx's pool reuses them). Anything else is a 404.

Run by ``load.py``; by hand: ``python benchmarks/_load_upstream.py --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

CHUNK = (
    '{"id":"chatcmpl-load","object":"chat.completion.chunk","created":0,"model":"load",'
    '"choices":[{"index":0,"delta":{"content":" %.6f"},"finish_reason":null}]}'
)
ROLE = (
    b'{"id":"chatcmpl-load","object":"chat.completion.chunk","created":0,"model":"load",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
)
FINISH = (
    b'{"id":"chatcmpl-load","object":"chat.completion.chunk","created":0,"model":"load",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
)
USAGE = (
    b'{"id":"chatcmpl-load","object":"chat.completion.chunk","created":0,"model":"load",'
    b'"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":%d,"total_tokens":%d}}'
)
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """One SSE event (``data: ...``) as one HTTP chunk."""
    event = b"data: " + data + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


class Connection(asyncio.Protocol):
    """One client connection: requests one after the other (keep-alive), each streamed."""

    def __init__(self, tps: float, tokens: int) -> None:
        self.tps = tps
        self.tokens = tokens
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.streaming = False
        self.keep_alive = True
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.streaming:
            self.next_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.transport = None

    def next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        self.keep_alive = headers.get("connection", "").lower() != "close"
        assert self.transport is not None
        if method != "POST" or not path.endswith("/chat/completions"):
            self.transport.write(NOT_FOUND)
            self.finished()
            return
        request: dict[str, Any] = json.loads(body)
        tokens = min(self.tokens, request.get("max_tokens") or self.tokens)
        self.streaming = True
        self.transport.write(HEAD + chunk(ROLE))
        self.step(self.loop.time(), 0, tokens)

    def step(self, start: float, k: int, tokens: int) -> None:
        self.timer = None
        transport = self.transport
        if transport is None:
            return
        if k < tokens:
            transport.write(chunk((CHUNK % time.time()).encode()))
            self.timer = self.loop.call_at(
                start + (k + 1) / self.tps, self.step, start, k + 1, tokens
            )
            return
        usage = USAGE % (tokens, tokens + 1)
        transport.write(chunk(FINISH) + chunk(usage) + chunk(b"[DONE]") + b"0\r\n\r\n")
        self.finished()

    def finished(self) -> None:
        self.streaming = False
        if self.transport is None:
            return
        if not self.keep_alive:
            self.transport.close()
        elif self.buffer:
            self.next_request()


async def serve(port: int, tps: float, tokens: int) -> None:
    """Serve until killed."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(tps, tokens), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tps", type=float, default=30.0, help="tokens per second per stream")
    p.add_argument("--tokens", type=int, default=300, help="tokens per answer")
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, args.tps, args.tokens))
    else:
        uvloop.run(serve(args.port, args.tps, args.tokens))


if __name__ == "__main__":
    main()
