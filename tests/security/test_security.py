"""Security properties that ``tests/gateway/test_auth.py`` does not already prove.

Already proved there (not repeated): every ``/v1`` route enumerated from the app needs a key;
cross-key stream access is 404; a read token reads only its own stream, is refused once
tampered with, and expires after ``read_token_ttl``; CORS is denied by default with keys
set; no key, token or prompt in the gateway's captured logs. The fault campaign
(``tests/chaos``) scans the output of every process it ran, nginx's logs included.

Here: stream ids are unguessable (a statistical look at 20,000 fresh ids and at ids the
running gateway hands out: every one of the 176 random bits is balanced, bytes are uniform,
consecutive ids are uncorrelated); a read token is no API key (it opens nothing but its
stream's events, not even through ``Authorization``); and an open gateway (no keys, the
default) sends no CORS grant either, on any route, SSE included.
"""

from __future__ import annotations

import base64
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from surestream.gateway.settings import Settings
from surestream.hub import new_stream_id
from tests.support.gateways import CHAT, RunningGateway, run_gateway

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
IDS = 20_000
BITS = 176
KEY = "sk-security-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _random_bytes(stream_id: str) -> bytes:
    assert re.fullmatch(r"st_[A-Za-z0-9_-]{30}", stream_id), stream_id
    return base64.urlsafe_b64decode(stream_id[3:] + "==")


def _check_randomness(samples: list[bytes], sigmas: float) -> None:
    count = len(samples)
    assert len(set(samples)) == count
    assert {len(s) for s in samples} == {BITS // 8}
    half, spread = count / 2, math.sqrt(count) / 2
    for bit in range(BITS):
        ones = sum((s[bit // 8] >> (7 - bit % 8)) & 1 for s in samples)
        assert abs(ones - half) <= sigmas * spread, (bit, ones, count)
    if count >= 5000:
        expected = count / 256
        for position in range(BITS // 8):
            counts = Counter(s[position] for s in samples)
            chi2 = sum((counts.get(v, 0) - expected) ** 2 / expected for v in range(256))
            assert chi2 < 255 + 6 * math.sqrt(2 * 255), (position, chi2)
    distances = [
        bin(int.from_bytes(a) ^ int.from_bytes(b)).count("1")
        for a, b in itertools.pairwise(samples)
    ]
    mean = sum(distances) / len(distances)
    assert abs(mean - BITS / 2) <= sigmas * math.sqrt(BITS / 4 / len(distances)), mean


def test_fresh_stream_ids_carry_176_balanced_uncorrelated_bits() -> None:
    _check_randomness([_random_bytes(new_stream_id()) for _ in range(IDS)], sigmas=5)


def test_the_readme_docs_and_docstrings_state_the_bits_the_ids_carry() -> None:
    """The README once said 132 random bits while the ids carried 176."""
    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "src").rglob("*.py")]
    claims = {
        str(path.relative_to(ROOT)): re.findall(r"(\d+) random bits", path.read_text())
        for path in texts
    }
    assert claims["README.md"], "the README states how many random bits an id carries"
    assert len(_random_bytes(new_stream_id())) * 8 == BITS
    assert {path: bits for path, bits in claims.items() if set(bits) - {str(BITS)}} == {}


@pytest.fixture(scope="module")
def open_gw() -> Iterator[RunningGateway]:
    with run_gateway(Settings(demo_tokens_per_second=0)) as running:
        yield running


@pytest.fixture(scope="module")
def keyed_gw() -> Iterator[RunningGateway]:
    with run_gateway(Settings(demo_tokens_per_second=0, api_keys=[KEY])) as running:
        yield running


async def test_ids_the_gateway_hands_out_look_random_too(open_gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=open_gw.url) as client:
        ids = [(await client.post("/v1/streams", json=CHAT)).json()["id"] for _ in range(400)]
    _check_randomness([_random_bytes(i) for i in ids], sigmas=5)


async def test_a_read_token_is_not_an_api_key(keyed_gw: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=keyed_gw.url) as client:
        created = (await client.post("/v1/streams", json=CHAT, headers=AUTH)).json()
        token = created["read_token"]
        as_bearer = {"Authorization": f"Bearer {token}"}
        refused = [
            await client.get("/v1/models", headers=as_bearer),
            await client.post("/v1/streams", json=CHAT, headers=as_bearer),
            await client.get(created["events_url"], headers=as_bearer),
            await client.delete(created["cancel_url"], headers=as_bearer),
            await client.post(f"/v1/chat/stream?token={token}", json=CHAT),
            await client.post(f"/v1/chat/completions?token={token}", json=CHAT),
            await client.post(f"/v1/streams?token={token}", json=CHAT),
        ]
        allowed = await client.get(f"{created['events_url']}?token={token}")
    for response in refused:
        assert response.status_code == 401, (response.request.url, response.text)
    assert allowed.status_code == 200
    assert '"type":"done"' in allowed.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/streams"),
        ("GET", "/v1/streams/{id}/events"),
        ("POST", "/v1/chat/stream"),
        ("POST", "/v1/chat/completions"),
        ("DELETE", "/v1/streams/{id}"),
        ("GET", "/v1/models"),
        ("GET", "/healthz"),
        ("GET", "/"),
    ],
)
async def test_an_open_gateway_grants_no_origin(
    open_gw: RunningGateway, method: str, path: str
) -> None:
    origin = {"Origin": "https://evil.example"}
    async with httpx.AsyncClient(base_url=open_gw.url) as client:
        created = (await client.post("/v1/streams", json=CHAT)).json()
        url = path.replace("{id}", created["id"])
        preflight = await client.options(
            url,
            headers={
                **origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type,last-event-id",
            },
        )
        actual = await client.request(
            method, url, json=CHAT if method == "POST" else None, headers=origin
        )
    for response in (preflight, actual):
        granted = {k for k in response.headers if k.startswith("access-control-")}
        assert granted == set(), (response.request.method, url, granted)
    assert preflight.status_code in (400, 404, 405)
    assert actual.status_code < 300
