"""Auth and isolation: bearer keys on every ``/v1`` route, per-key streams, read tokens, CORS,
stream ids, and logs free of keys, tokens and prompts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route
from tests.support.gateways import (
    CHAT,
    RunningGateway,
    error_of,
    fake_settings,
    read_native,
    run_gateway,
)
from tests.support.servers import RunningFake, ServerProcess, gateway_process

from surestream.gateway.app import create_app
from surestream.gateway.auth import Authenticator
from surestream.gateway.settings import Settings

pytestmark = pytest.mark.anyio

KEY_A = "sk-alpha-0123456789abcdef"
KEY_B = "sk-bravo-fedcba9876543210"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    settings = Settings(demo_tokens_per_second=0, api_keys=[KEY_A, KEY_B])
    with run_gateway(settings) as running:
        yield running


def _flat_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) of a route list, descending into included routers and mounts."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI >= 0.120 keeps included routers as one route
            context_prefix = getattr(getattr(route, "include_context", None), "prefix", "")
            yield from _flat_routes(included.routes, prefix + context_prefix)
        elif isinstance(route, Mount):
            yield from _flat_routes(list(route.routes or []), prefix + route.path)
        elif isinstance(route, APIRoute | Route):
            yield prefix + route.path, set(route.methods or ())


def _v1_operations(app: Any) -> list[tuple[str, str]]:
    ops = []
    for path, methods in _flat_routes(app.routes):
        if path.startswith("/v1"):
            ops.extend((method, path) for method in sorted(methods - {"HEAD"}))
    return ops


def test_every_v1_route_is_enumerated() -> None:
    ops = _v1_operations(create_app(Settings(api_keys=[KEY_A])))
    assert {
        ("GET", "/v1/models"),
        ("POST", "/v1/streams"),
        ("GET", "/v1/streams/{stream_id}/events"),
        ("DELETE", "/v1/streams/{stream_id}"),
        ("POST", "/v1/chat/stream"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/messages"),
    } <= set(ops)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        b"",
        b"Bearer",
        b"Bearer sk-wrong",
        f"Basic {KEY_A}".encode(),
        KEY_A.encode(),
        f"Bearer {KEY_A}x".encode(),
        "Bearer é".encode(),
        b"Bearer \xff\xfe",
    ],
)
async def test_every_v1_route_needs_a_valid_key(
    gw: RunningGateway, authorization: bytes | None
) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await client.post("/v1/streams", json=CHAT, headers=A)
        stream_id = created.json()["id"]
        for method, path in _v1_operations(gw.app):
            url = path.replace("{stream_id}", stream_id)
            headers = {} if authorization is None else {"Authorization": authorization}
            response = await client.request(method, url, json=CHAT, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            if path == "/v1/messages":  # the Anthropic Messages API's error shape
                body = response.json()
                assert body["error"]["type"] == "authentication_error"
                assert body["error"]["code"] == "unauthorized"
            else:
                assert error_of(response)["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
            wrong = await client.request(method, url, json=CHAT, headers={"x-api-key": "sk-no"})
            assert wrong.status_code == 401, (method, path, wrong.text)


async def test_ops_routes_need_no_key(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


async def test_streams_are_visible_only_to_their_key(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = (await client.post("/v1/streams", json=CHAT, headers=A)).json()
        for response in (
            await client.get(created["events_url"], headers=B),
            await client.get(created["events_url"] + "?last_event_id=0", headers=B),
            await client.delete(created["cancel_url"], headers=B),
        ):
            assert response.status_code == 404, response.text
            assert error_of(response)["code"] == "not_found"
        mine = await client.get(created["events_url"], headers=A)
        assert mine.status_code == 200
        assert '"type":"done"' in mine.text


async def test_read_token_reads_only_its_own_stream(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        one = (await client.post("/v1/streams", json=CHAT, headers=A)).json()
        two = (await client.post("/v1/streams", json=CHAT, headers=A)).json()
        token = one["read_token"]
        async with client.stream("GET", f"{one['events_url']}?token={token}") as response:
            assert response.status_code == 200
            events = await read_native(response)
        assert events[-1][1].to_json()["type"] == "done"
        chat = await client.post("/v1/chat/stream", json=CHAT, headers=B)
        header_token = chat.headers["surestream-read-token"]
        by_header_token = await client.get(f"{chat.headers['location']}?token={header_token}")
        assert by_header_token.status_code == 200
        denied = [
            await client.get(f"{two['events_url']}?token={token}"),
            await client.delete(f"{one['cancel_url']}?token={token}"),
            await client.get(f"/v1/models?token={token}"),
            await client.get(f"{one['events_url']}?token={token[:-1]}x"),
            await client.get(f"{one['events_url']}?token=a.b.c.%C3%A9"),
            await client.get(f"{one['events_url']}?token=garbage"),
        ]
    for response in denied:
        assert response.status_code == 401, response.text
        assert error_of(response)["code"] == "unauthorized"


async def test_read_token_expires() -> None:
    settings = Settings(demo_tokens_per_second=0, api_keys=[KEY_A], read_token_ttl=0.5)
    with run_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            created = (await client.post("/v1/streams", json=CHAT, headers=A)).json()
            url = f"{created['events_url']}?token={created['read_token']}"
            first = await client.get(url)
            for _ in range(200):  # the token lives 0.5 s
                response = await client.get(url)
                if response.status_code != 200:
                    break
                await anyio.sleep(0.05)
    assert first.status_code == 200
    assert response.status_code == 401


async def test_stream_ids_carry_at_least_128_random_bits(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        ids = [
            (await client.post("/v1/streams", json=CHAT, headers=A)).json()["id"] for _ in range(40)
        ]
    assert len(set(ids)) == len(ids)
    for stream_id in ids:
        assert re.fullmatch(r"st_[A-Za-z0-9_-]{22,}", stream_id)
        assert (len(stream_id) - 3) * 6 >= 128


async def test_cors_is_denied_by_default(gw: RunningGateway) -> None:
    preflight = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(base_url=gw.url) as client:
        options = await client.options("/v1/streams", headers=preflight)
        simple = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in options.headers
    assert options.status_code in {400, 405}
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_a_configured_origin() -> None:
    origin = "https://app.example"
    settings = Settings(demo_tokens_per_second=0, api_keys=[KEY_A], cors_origins=[origin])
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,last-event-id",
    }
    with run_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            allowed = await client.options(
                "/v1/chat/stream", headers={"Origin": origin, **preflight}
            )
            other = await client.options(
                "/v1/chat/stream", headers={"Origin": "https://evil.example", **preflight}
            )
            post = await client.post("/v1/chat/stream", json=CHAT, headers={"Origin": origin, **A})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert post.headers["access-control-allow-origin"] == origin
    exposed = post.headers["access-control-expose-headers"].lower()
    assert "location" in exposed and "surestream-read-token" in exposed


async def test_no_key_token_or_prompt_in_the_logs(
    fake: RunningFake, caplog: pytest.LogCaptureFixture
) -> None:
    prompt = "my-very-private-prompt-text-4711"
    upstream_key = "sk-upstream-secret-9f8e7d"
    settings = fake_settings(
        fake,
        api_keys=[KEY_A],
        upstream_api_keys={"fk": upstream_key},
        log_level="debug",
    )
    body = {"model": "fake", "messages": [{"role": "user", "content": prompt}]}
    demo = {"model": "demo", "messages": [{"role": "user", "content": prompt}]}
    fake.fake.enqueue("status=401", "error_after=1", "status=500")
    caplog.set_level(logging.DEBUG)
    with run_gateway(settings, log_level="debug", log_config=None, access_log=True) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            await client.post("/v1/streams", json=body, headers=A)
            await client.post("/v1/chat/stream", json=body, headers=A)
            await client.post("/v1/chat/completions", json=body, headers=A)
            created = (await client.post("/v1/streams", json=demo, headers=A)).json()
            token = created["read_token"]
            await client.get(f"{created['events_url']}?token={token}")
            await client.get(f"{created['events_url']}?token={token}x")
            await client.get(f"{created['events_url']}?%74oken={token}")
            await client.post("/v1/streams", json=demo, headers={"Authorization": "Bearer sk-bad"})
            await client.post("/v1/streams", json={**demo, "model": prompt}, headers=A)
            await client.post("/v1/streams", content=prompt, headers=A)
    ours = [  # the test's own httpx client logs its requests to the gateway: not the gateway's
        r
        for r in caplog.records
        if not (r.name.startswith(("httpx", "httpcore")) and gw.url in r.getMessage())
        and not r.name.startswith("httpcore.http11")
    ]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args}" for r in ours)
    assert "GET /v1/streams/" in logged, "the access log was not captured"
    assert "?token=*** " in logged and "?%74oken=*** " in logged
    for secret in (KEY_A, "sk-bad", upstream_key, upstream_key[-4:] + ".", token, prompt):
        assert secret not in logged, secret
    assert token.split(".")[-1] not in logged


def test_owner_ids_and_read_tokens_reveal_nothing_of_the_key() -> None:
    """A weak key cannot be recovered from a token by hashing guesses: owner ids and MACs
    are HMACs under the server secret, not hashes of the key."""
    weak = "password1"
    auth = Authenticator([weak], token_secret=secrets.token_bytes(32))
    owner = auth.owner_for_header(f"Bearer {weak}")
    assert owner is not None
    token = auth.issue_read_token("st_x", owner)
    stream, expiry, token_owner, mac = token.split(".")
    for guess in ("123456", "password", weak, "letmein"):
        unsalted = "k_" + hashlib.sha256(guess.encode()).hexdigest()[:32]
        assert token_owner != unsalted
        seed = hashlib.sha256(b"surestream-read-token\n" + guess.encode()).hexdigest()
        payload = f"{stream}.{expiry}.{token_owner}".encode()
        assert mac != hmac.new(seed.encode(), payload, hashlib.sha256).hexdigest()[:43]
    other = Authenticator([weak], token_secret=secrets.token_bytes(32))
    assert other.owner_for_header(f"Bearer {weak}") != owner
    assert other.owner_for_token(token, "st_x") is None


async def test_read_token_only_as_token_and_also_by_header_or_cookie() -> None:
    settings = Settings(demo_tokens_per_second=0, api_keys=[KEY_A], read_token_cookie=True)
    with run_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as creator:
            created = (await creator.post("/v1/streams", json=CHAT, headers=A)).json()
            jar = creator.cookies
        url, token = created["events_url"], created["read_token"]
        async with httpx.AsyncClient(base_url=gw.url) as client:
            literal = await client.get(f"{url}?token={token}")
            encoded = await client.get(f"{url}?%74oken={token}")
            by_header = await client.get(url, headers={"Surestream-Read-Token": token})
            elsewhere = await client.get(
                "/v1/streams/st_other0000000000000000000000/events",
                headers={"Surestream-Read-Token": token},
            )
        async with httpx.AsyncClient(base_url=gw.url, cookies=jar) as browser:
            by_cookie = await browser.get(url)
    assert literal.status_code == 200
    assert encoded.status_code == 401, "a token under another spelling is not accepted"
    assert by_header.status_code == 200
    assert elsewhere.status_code == 401
    assert by_cookie.status_code == 200
    cookie = jar.jar._cookies["127.0.0.1"][f"/v1/streams/{created['id']}/"]  # type: ignore[attr-defined]
    assert list(cookie) == ["surestream_read_token"]


async def test_no_read_token_cookie_unless_asked_for(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = await client.post("/v1/streams", json=CHAT, headers=A)
        chat = await client.post("/v1/chat/stream", json=CHAT, headers=A)
    assert "set-cookie" not in created.headers and "set-cookie" not in chat.headers


async def test_instances_sharing_redis_agree_on_tokens_without_a_configured_secret(
    redis_server: ServerProcess,
) -> None:
    values: dict[str, Any] = {
        "store": f"{redis_server.url}/0",
        "redis_prefix": f"t{secrets.token_hex(4)}:",
        "demo_tokens_per_second": 0,
        "api_keys": [KEY_A],
    }
    with run_gateway(Settings(**values)) as one, run_gateway(Settings(**values)) as two:
        async with httpx.AsyncClient(base_url=one.url) as client:
            created = (await client.post("/v1/streams", json=CHAT, headers=A)).json()
        async with httpx.AsyncClient(base_url=two.url) as other:
            by_token = await other.get(f"{created['events_url']}?token={created['read_token']}")
            by_key = await other.get(created["events_url"], headers=A)
    assert (by_token.status_code, by_key.status_code) == (200, 200)


def test_no_key_or_token_at_trace_level_and_no_redis_password_in_the_banner(
    redis_server: ServerProcess,
) -> None:
    password = "hunter2-redis-password"
    store = redis_server.url.replace("redis://", f"redis://:{password}@")
    with (
        gateway_process(
            "--log-level", "trace", "--store", f"{store}/0", env={"SURESTREAM_API_KEYS": KEY_A}
        ) as gateway,
        httpx.Client(base_url=gateway.url) as client,
    ):
        created = client.post("/v1/streams", json=CHAT, headers=A).json()
        token = created["read_token"]
        by_token = client.get(f"{created['events_url']}?token={token}")
        by_header = client.get(created["events_url"], headers={"Surestream-Read-Token": token})
        encoded = client.get(f"{created['events_url']}?%74oken={token}")
    output = "".join(gateway.output)  # all of it: the process has ended (an access log line
    # is written after its response was sent)
    assert (by_token.status_code, by_header.status_code, encoded.status_code) == (200, 200, 401)
    assert "%74oken=***" in output, "the request line under another spelling was not logged"
    assert "authorization" in output.lower(), "the trace log was not captured"
    for secret in (password, KEY_A, token, token.split(".")[-1]):
        assert secret not in output, secret


async def test_x_api_key_is_the_same_key_as_bearer(gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        created = (await client.post("/v1/streams", json=CHAT, headers=A)).json()
        mine = await client.get(created["events_url"], headers={"x-api-key": KEY_A})
        theirs = await client.get(created["events_url"], headers={"x-api-key": KEY_B})
        wrong_bearer = {"Authorization": "Bearer sk-wrong", "x-api-key": KEY_A}
        again = await client.get(created["events_url"], headers=wrong_bearer)
    assert mine.status_code == 200 and '"type":"done"' in mine.text
    assert theirs.status_code == 404
    assert again.status_code == 200
