"""Every limit and every kind of bad input: a JSON error with the right 4xx, never a 500 or a hang.

Each limit is a setting; the test sets it small, breaches it over real HTTP and checks the
status, the error code and that the message (and ``field``) names what was wrong.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
from tests.support.gateways import CHAT, RunningGateway, error_of, run_gateway

from surestream.gateway.settings import Settings

pytestmark = pytest.mark.anyio

KEY_A = "sk-limits-a-000000000000"
KEY_B = "sk-limits-b-000000000000"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}
BODY_LIMIT = 4000
PATHS = ["/v1/streams", "/v1/chat/stream", "/v1/chat/completions"]


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    settings = Settings(
        demo_tokens_per_second=0,
        max_body_bytes=BODY_LIMIT,
        max_messages=3,
        max_tokens_limit=50,
        max_metadata_items=2,
        max_metadata_chars=100,
    )
    with run_gateway(settings) as running:
        yield running


@pytest.mark.parametrize("path", PATHS)
async def test_body_size_with_and_without_content_length(gw: RunningGateway, path: str) -> None:
    big = b'{"model":"demo","messages":[{"role":"user","content":"' + b"x" * BODY_LIMIT + b'"}]}'

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    async with httpx.AsyncClient(base_url=gw.url) as client:
        declared = await client.post(path, content=big)
        streamed = await client.post(path, content=chunked())
        fits = await client.post(path, json=CHAT)
    assert "content-length" not in streamed.request.headers
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        detail = error_of(response)
        assert detail["code"] == "request_too_large"
        assert "max_body_bytes" in detail["message"]
    assert fits.status_code in {200, 201}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"messages": [{"role": "user", "content": "x"}] * 4}, "messages", "max_messages"),
        ({"messages": []}, "messages", "at least 1"),
        ({"max_tokens": 51}, "max_tokens", "max_tokens_limit"),
        ({"max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
        ({"max_tokens": "many"}, "max_tokens", "integer"),
        ({"temperature": 3}, "temperature", "less than or equal to 2"),
        ({"model": ""}, "model", "at least 1"),
        ({"model": 7}, "model", "string"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role", "user"),
        ({"messages": [{"role": "user"}]}, "messages.0.content", "required"),
        ({"messages": [{"role": "user", "content": None}]}, "messages.0.content", "string"),
        ({"messages": "hello"}, "messages", "list"),
        ({"model": "no-such-model"}, "model", "GET /v1/models"),
    ],
)
async def test_validation_errors_name_the_field(
    gw: RunningGateway, path: str, patch: dict[str, object], field: str, words: str
) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        response = await client.post(path, json={**CHAT, **patch})
    assert response.status_code in {404, 422}, response.text
    detail = error_of(response)
    assert detail["field"] == field
    assert detail["message"].startswith(f"{field}: ") or field == "model"
    assert words.lower() in detail["message"].lower()


async def test_max_completion_tokens_is_limited_too(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        response = await client.post(
            "/v1/chat/completions", json={**CHAT, "max_completion_tokens": 51}
        )
        fine = await client.post("/v1/chat/completions", json={**CHAT, "max_completion_tokens": 5})
    assert response.status_code == 422 and error_of(response)["field"] == "max_completion_tokens"
    assert fine.status_code == 200
    assert fine.json()["choices"][0]["finish_reason"] == "length"
    assert fine.json()["usage"]["completion_tokens"] == 5


async def test_metadata_size(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        small = await client.post("/v1/streams", json={**CHAT, "metadata": {"a": "b" * 100}})
        long = await client.post("/v1/streams", json={**CHAT, "metadata": {"a": "b" * 101}})
        many = await client.post(
            "/v1/streams", json={**CHAT, "metadata": {"a": "", "b": "", "c": ""}}
        )
        key = await client.post("/v1/streams", json={**CHAT, "metadata": {"k" * 65: ""}})
        wrong = await client.post("/v1/streams", json={**CHAT, "metadata": {"a": 1}})
    assert small.status_code == 201
    for response, field, words in (
        (long, "metadata.a", "max_metadata_chars"),
        (many, "metadata", "max_metadata_items"),
        (key, "metadata." + "k" * 65, "64"),
        (wrong, "metadata.a", "string"),
    ):
        assert response.status_code == 422, response.text
        assert error_of(response)["field"] == field
        assert words in error_of(response)["message"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b'{"model": "demo",', "application/json", 400, "invalid_json"),
        (b'{"model":"\xff"}', "application/json", 400, "invalid_json"),
        (b"model=demo", "application/x-www-form-urlencoded", 400, "invalid_json"),
        (b"[]", "application/json", 422, "invalid_request"),
        (b'"text"', "application/json", 422, "invalid_request"),
        (b"null", "application/json", 422, "invalid_request"),
        (b"42", "text/plain", 422, "invalid_request"),
        (b"", "application/json", 422, "invalid_request"),
        (b"", None, 422, "invalid_request"),
    ],
)
async def test_malformed_or_non_object_bodies(
    gw: RunningGateway,
    path: str,
    content: bytes,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with httpx.AsyncClient(base_url=gw.url) as client:
        response = await client.post(path, content=content, headers=headers)
    assert response.status_code == status, response.text
    detail = error_of(response)
    assert detail["code"] == code
    if status == 422:
        assert detail["field"] == "body"
        assert detail["message"] == "body: a JSON object is required"
    else:
        assert detail["message"].startswith("the body is not valid JSON")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_json_is_read_whatever_the_content_type(
    gw: RunningGateway, content_type: str | None
) -> None:
    import orjson

    headers = {"Content-Type": content_type} if content_type else {}
    async with httpx.AsyncClient(base_url=gw.url) as client:
        response = await client.post("/v1/streams", content=orjson.dumps(CHAT), headers=headers)
    assert response.status_code == 201, response.text


async def test_openai_content_parts_are_accepted(gw: RunningGateway) -> None:
    parts = [{"type": "text", "text": "Tell me "}, {"type": "text", "text": "about streams"}]
    async with httpx.AsyncClient(base_url=gw.url) as client:
        as_parts = await client.post(
            "/v1/chat/completions",
            json={"model": "demo", "messages": [{"role": "user", "content": parts}]},
        )
        as_text = await client.post("/v1/chat/completions", json=CHAT)
    assert as_parts.status_code == 200
    assert (
        as_parts.json()["choices"][0]["message"]["content"]
        == as_text.json()["choices"][0]["message"]["content"]
    )


async def test_unknown_routes_and_methods_are_json(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        missing = await client.get("/v1/nope")
        method = await client.put("/v1/streams", json=CHAT)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert method.status_code == 405 and error_of(method)["code"] == "method_not_allowed"


@contextlib.asynccontextmanager
async def _open_stream(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> AsyncIterator[httpx.Response]:
    """An events connection that is open (its head arrived) for the ``with`` block."""
    async with client.stream("GET", url, headers=headers) as response:
        yield response


async def test_an_open_gateway_has_no_shared_per_key_cap() -> None:
    settings = Settings(demo_tokens_per_second=1, max_streams_per_key=2, max_streams=4)
    with run_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            created = [await client.post("/v1/streams", json=CHAT) for _ in range(5)]
            assert [r.status_code for r in created] == [201, 201, 201, 201, 429]
            assert "max_streams (4)" in error_of(created[-1])["message"]
            for response in created[:4]:
                await client.delete(response.json()["cancel_url"])


async def test_concurrent_streams_per_key_and_in_all() -> None:
    settings = Settings(
        demo_tokens_per_second=1,
        api_keys=[KEY_A, KEY_B],
        max_streams_per_key=2,
        max_streams=3,
    )
    with run_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            a1 = await client.post("/v1/streams", json=CHAT, headers=A)
            a2 = await client.post("/v1/streams", json=CHAT, headers=A)
            a3 = await client.post("/v1/streams", json=CHAT, headers=A)
            a3_chat = await client.post("/v1/chat/stream", json=CHAT, headers=A)
            a3_openai = await client.post(
                "/v1/chat/completions", json={**CHAT, "stream": True}, headers=A
            )
            b1 = await client.post("/v1/streams", json=CHAT, headers=B)
            b2 = await client.post("/v1/streams", json=CHAT, headers=B)
            assert [r.status_code for r in (a1, a2, b1)] == [201, 201, 201]
            for refused, setting in (
                (a3, "max_streams_per_key"),
                (a3_chat, "max_streams_per_key"),
                (a3_openai, "max_streams_per_key"),
                (b2, "max_streams"),
            ):
                assert refused.status_code == 429, refused.text
                assert error_of(refused)["code"] == "rate_limited"
                assert setting in error_of(refused)["message"]
                assert refused.headers["retry-after"] == "1"
            cancelled = await client.delete(a1.json()["cancel_url"], headers=A)
            assert cancelled.json()["cancelled"] is True
            again = await client.post("/v1/streams", json=CHAT, headers=A)
            assert again.status_code == 201
            for created in (a2, b1, again):
                headers = B if created is b1 else A
                await client.delete(created.json()["cancel_url"], headers=headers)
        assert gw.gateway.hub.producing == 0


async def test_subscribers_per_stream() -> None:
    settings = Settings(demo_tokens_per_second=1, max_subscribers=2)
    with run_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            created = (await client.post("/v1/streams", json=CHAT)).json()
            url = created["events_url"]
            async with _open_stream(client, url, {}) as one, _open_stream(client, url, {}) as two:
                assert one.status_code == two.status_code == 200
                third = await client.get(url)
                assert third.status_code == 429
                assert "max_subscribers" in error_of(third)["message"]
                with anyio.fail_after(10):
                    await client.delete(created["cancel_url"])
                    for response in (one, two):
                        body = (await response.aread()).decode()
                        assert body.rstrip().endswith('"finish_reason":"cancelled"}')


@pytest.mark.parametrize("length", ["99999999", "12x", "-1"])
async def test_declared_length_over_the_limit_is_refused_before_the_body(
    gw: RunningGateway, length: str
) -> None:
    """A client that declares a huge body and sends none gets 413 at once, not a hang."""
    host, port = gw.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/streams HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    with anyio.fail_after(10):
        async with await anyio.connect_tcp(host, int(port)) as sock:
            await sock.send(head.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += await sock.receive()
    status = answer.split(b"\r\n", 1)[0]
    assert status in {b"HTTP/1.1 413 Request Entity Too Large", b"HTTP/1.1 400 Bad Request"}
    if length == "99999999":
        assert b" 413 " in status
