"""Hostile HTTP against the real gateway process, over raw sockets: every case gets a 4xx (a
JSON error whenever the request reached the application) or a clean close, never a 5xx or
a hang, and the gateway answers its health check after each one.

What ``tests/gateway/test_limits.py`` checks through httpx (validation, body limits with and
without ``Content-Length``, declared lengths with no body) is not repeated; this module sends
what an HTTP client library would refuse to send: oversized and invalid header fields,
invalid UTF-8 in the request line, headers and body, broken chunked framing, conflicting
lengths, huge, negative and non-numeric ``Last-Event-ID`` values, and two thousand
subscribers on one stream (``max_subscribers`` must hold and the gateway keep serving).

Requests that HTTP itself cannot parse are refused by uvicorn before the application sees
them, with its own plain-text 400; the same requests through the shipped nginx config get
nginx's JSON 400 (``deploy/nginx/surestream.conf``), as do oversized header sections, which
uvicorn with httptools accepts (see docs/reliability.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.chaos.cluster import SHIPPED_CONFIG, nginx_binary, nginx_config
from tests.support.servers import ServerProcess, command_process, free_port, gateway_process

pytestmark = pytest.mark.anyio

KEY = "sk-bad-input-0123456789"
AUTH = f"Authorization: Bearer {KEY}\r\n".encode()
MAX_SUBSCRIBERS = 50
SUBSCRIBERS = 2000
BODY_LIMIT = 65536
ANSWER_LIMIT = 15.0
"""Seconds a case may take to be answered or closed (a hang fails the test)."""


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    flags = ("--demo-tokens-per-second", "2", "--max-subscribers", str(MAX_SUBSCRIBERS))
    flags += ("--max-body-bytes", str(BODY_LIMIT))
    with gateway_process(*flags, env={"SURESTREAM_API_KEYS": KEY}) as process:
        yield process


@pytest.fixture(scope="module")
def nginx(gateway: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx with the shipped config in front of the gateway; its port."""
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = Path(tmp / "nginx.conf")
    conf.write_text(
        nginx_config(SHIPPED_CONFIG.read_text(), listen=port, gateways=[gateway.port] * 2, tmp=tmp)
    )
    argv = [nginx_binary(), "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    argv += ["-g", f"daemon off; pid {tmp}/nginx.pid;"]
    with command_process(argv, port=port, ready_text="start worker process"):
        yield port


@dataclass
class Answer:
    """An HTTP answer read off a raw socket (``status`` 0: closed without an answer)."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json_error(self) -> dict[str, object]:
        assert self.headers.get("content-type", "").startswith("application/json"), self
        error = orjson.loads(self.body)["error"]
        assert isinstance(error, dict) and {"code", "message"} <= set(error), self
        return error


async def exchange(port: int, data: bytes) -> Answer:
    """Send ``data`` (which asks for ``Connection: close``), read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        async with asyncio.timeout(ANSWER_LIMIT):
            try:
                writer.write(data)
                await writer.drain()
            except ConnectionError:
                pass  # the server answered and closed before reading everything
            while chunk := await reader.read(65536):
                received += chunk
    except ConnectionResetError:
        pass  # a reset after the answer (the server closed with unread input)
    finally:
        writer.close()
    if not received:
        return Answer(0, {}, b"")
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    return Answer(int(status_line.split(" ")[1]), headers, body)


async def assert_healthy(port: int) -> None:
    answer = await exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert answer.status == 200 and answer.body == b'{"status":"ok"}', answer


def request(
    method: str, target: bytes, headers: bytes = b"", body: bytes = b"", *, length: bool = True
) -> bytes:
    head = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
    if length and method == "POST":
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return head + headers + b"\r\n" + body


CHAT = b'{"model":"demo","messages":[{"role":"user","content":"hi"}]}'

# (name, request, what the gateway must answer: a JSON 4xx status, or "http" for a request
# uvicorn cannot parse and refuses with its own 400 (or closes)).
CASES: list[tuple[str, bytes, int | str]] = [
    ("invalid JSON", request("POST", b"/v1/streams", AUTH, b'{"model":'), 400),
    ("JSON array", request("POST", b"/v1/streams", AUTH, b"[1,2]"), 422),
    (
        "invalid UTF-8 in the body",
        request("POST", b"/v1/streams", AUTH, CHAT.replace(b"hi", b"\xff\xfe\xc3")),
        400,
    ),
    (
        "lone surrogate escape",
        request("POST", b"/v1/streams", AUTH, CHAT.replace(b"hi", b"\\ud800")),
        422,
    ),
    (
        "30,000-deep nested JSON",
        request("POST", b"/v1/streams", AUTH, b"[" * 30_000 + b"]" * 30_000),
        400,
    ),
    (
        "deeply nested JSON over max_body_bytes",
        request("POST", b"/v1/streams", AUTH, b"[" * 100_000 + b"]" * 100_000),
        413,
    ),
    (
        "body over max_body_bytes",
        request("POST", b"/v1/streams", AUTH, b"x" * (BODY_LIMIT * 4)),
        413,
    ),
    (
        "chunked body over max_body_bytes",
        request(
            "POST",
            b"/v1/streams",
            AUTH + b"Transfer-Encoding: chunked\r\n",
            (b"8000\r\n" + b"x" * 0x8000 + b"\r\n") * 4 + b"0\r\n\r\n",
            length=False,
        ),
        413,
    ),
    (
        "invalid UTF-8 in the bearer key",
        request("GET", b"/v1/models", b"Authorization: Bearer \xff\xfe\r\n"),
        401,
    ),
    ("key with a NUL", request("GET", b"/v1/models", b"Authorization: Bearer sk\x00x\r\n"), "http"),
    ("invalid UTF-8 in the path", request("GET", b"/v1/streams/\xff\xfe/events", AUTH), "http"),
    ("NUL in the path", request("GET", b"/v1/streams/st_\x00/events", AUTH), "http"),
    ("percent-encoded junk id", request("GET", b"/v1/streams/%FF%00%2F../events", AUTH), 404),
    ("65 KB stream id", request("GET", b"/v1/streams/" + b"s" * 65536 + b"/events", AUTH), "http"),
    ("4 KB stream id", request("GET", b"/v1/streams/" + b"s" * 4096 + b"/events", AUTH), 404),
    ("not HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, "http"),
    ("garbage request line", b"GARBAGE\r\n\r\n", "http"),
    (
        "broken chunk size",
        request(
            "POST",
            b"/v1/streams",
            AUTH + b"Transfer-Encoding: chunked\r\n",
            b"ZZ\r\nab\r\n0\r\n\r\n",
            length=False,
        ),
        "http",
    ),
    (
        "Content-Length and chunked",
        request(
            "POST",
            b"/v1/streams",
            AUTH + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            b"0\r\n\r\n",
            length=False,
        ),
        "http",
    ),
    (
        "negative Content-Length",
        request("POST", b"/v1/streams", AUTH + b"Content-Length: -5\r\n", length=False),
        "http",
    ),
    (
        "two Content-Lengths",
        request(
            "POST",
            b"/v1/streams",
            AUTH + b"Content-Length: 2\r\nContent-Length: 60\r\n",
            CHAT,
            length=False,
        ),
        "http",
    ),
    ("unknown method", request("BREW", b"/v1/streams", AUTH), "http"),
    ("known method, wrong route", request("PUT", b"/v1/streams", AUTH, CHAT), 405),
    ("absolute-form target", request("GET", b"http://evil.example/v1/models", AUTH), 200),
]


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_malformed_request_is_refused_and_the_gateway_keeps_serving(
    gateway: ServerProcess, name: str, data: bytes, expected: int | str
) -> None:
    answer = await exchange(gateway.port, data)
    if expected == "http":
        assert answer.status in (0, 400), answer
    elif expected == 200:
        assert answer.status == 200, answer
    else:
        assert answer.status == expected, answer
        assert answer.json_error()
    await assert_healthy(gateway.port)


async def _create(port: int) -> str:
    answer = await exchange(port, request("POST", b"/v1/streams", AUTH, CHAT))
    assert answer.status == 201, answer
    stream_id: str = orjson.loads(answer.body)["id"]
    return stream_id


@pytest.mark.parametrize(
    "last_event_id",
    [b"9" * 10_000, b"9" * 19, b"-5", b"-0", b"abc", b"1e3", b"0x10", b"\xff\xfe", b"1 2"],
    ids=[
        "10k digits",
        "19 digits",
        "negative",
        "minus zero",
        "letters",
        "exponent",
        "hex",
        "bad UTF-8",
        "two numbers",
    ],
)
async def test_bad_last_event_id_is_a_json_400(
    gateway: ServerProcess, last_event_id: bytes
) -> None:
    stream_id = await _create(gateway.port)
    target = f"/v1/streams/{stream_id}/events".encode()
    by_header = await exchange(
        gateway.port, request("GET", target, AUTH + b"Last-Event-ID: " + last_event_id + b"\r\n")
    )
    by_query = await exchange(
        gateway.port,
        request("GET", target + b"?last_event_id=" + last_event_id.replace(b" ", b"+"), AUTH),
    )
    for answer in (by_header, by_query):
        if (
            answer.status == 400
            and answer.headers.get("content-type") == "text/plain; charset=utf-8"
        ):
            assert last_event_id == b"\xff\xfe"  # uvicorn refuses bytes a URL cannot hold
            continue
        assert answer.status in (400, 422), answer
        assert answer.json_error()["code"] in ("invalid_last_event_id", "invalid_request")
    await assert_healthy(gateway.port)


async def test_a_huge_last_event_id_header_is_refused(gateway: ServerProcess) -> None:
    stream_id = await _create(gateway.port)
    target = f"/v1/streams/{stream_id}/events".encode()
    answer = await exchange(
        gateway.port, request("GET", target, AUTH + b"Last-Event-ID: " + b"7" * 1_000_000 + b"\r\n")
    )
    assert answer.status == 431, answer  # over max_header_bytes, before the app
    assert answer.json_error()["code"] == "request_header_fields_too_large"
    await assert_healthy(gateway.port)


async def test_thousands_of_subscribers_on_one_stream(gateway: ServerProcess) -> None:
    stream_id = await _create(gateway.port)
    target = f"/v1/streams/{stream_id}/events".encode()
    subscribe = request("GET", target, AUTH)
    opened: list[asyncio.StreamWriter] = []

    async def subscriber() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        opened.append(writer)
        writer.write(subscribe)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            body = await reader.read()
            assert orjson.loads(body)["error"]["code"] == "rate_limited"
            assert b"max_subscribers" in body
        return status

    try:
        async with asyncio.timeout(60):
            statuses = await asyncio.gather(*(subscriber() for _ in range(SUBSCRIBERS)))
            await assert_healthy(gateway.port)
            async with httpx.AsyncClient(base_url=gateway.url) as client:
                models = await client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
                assert models.status_code == 200
    finally:
        for writer in opened:
            writer.transport.abort()
    assert set(statuses) == {200, 429}
    assert statuses.count(200) <= MAX_SUBSCRIBERS, statuses.count(200)
    assert statuses.count(429) >= SUBSCRIBERS - MAX_SUBSCRIBERS
    await assert_healthy(gateway.port)
    cancel = await exchange(
        gateway.port, request("DELETE", f"/v1/streams/{stream_id}".encode(), AUTH)
    )
    assert cancel.status == 200, cancel


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("1 MB header", request("GET", b"/healthz", b"X-Big: " + b"a" * 1_000_000 + b"\r\n"), 400),
        (
            "5,000 headers",
            request("GET", b"/healthz", b"".join(b"X-H%d: v\r\n" % i for i in range(5000))),
            400,
        ),
        ("garbage request line", b"GARBAGE\r\n\r\n", 400),
        ("body over the proxy limit", request("POST", b"/v1/streams", AUTH, b"x" * 3_000_000), 413),
        ("invalid JSON", request("POST", b"/v1/streams", AUTH, b'{"model":'), 400),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_behind_nginx_every_refusal_is_json(
    nginx: int, gateway: ServerProcess, name: str, data: bytes, status: int
) -> None:
    answer = await exchange(nginx, data)
    if answer.status != 0:  # nginx may close a connection it cannot parse at all
        assert answer.status == status, answer
        assert answer.json_error()
    else:
        assert name == "garbage request line"
    await assert_healthy(nginx)
    await assert_healthy(gateway.port)
