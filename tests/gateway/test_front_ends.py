"""What front ends meet first: ``?dialect=`` on ``POST /v1/chat/stream``, a 400 for an unknown
dialect on every streaming route, CORS that real browser SDKs pass, ``models.retrieve``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from tests.support.gateways import CHAT, RunningGateway, error_of, run_gateway
from tests.support.node import read_ui_stream

from surestream.gateway.settings import Settings

ORIGIN = "http://app.example"
STAINLESS = "x-stainless-os,x-stainless-lang,x-stainless-retry-count,x-stainless-timeout"


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    settings = Settings(demo_tokens_per_second=0, cors_origins=[ORIGIN])
    with run_gateway(settings) as running:
        yield running


def test_chat_stream_answers_in_the_dialect_asked_for(gw: RunningGateway) -> None:
    body = json.dumps(CHAT)
    init = {"method": "POST", "headers": {"content-type": "application/json"}, "body": body}
    result = read_ui_stream(f"{gw.url}/v1/chat/stream?dialect=vercel-ai", init)

    assert result["status"] == 200
    assert result["headers"]["x-vercel-ai-ui-message-stream"] == "v1"
    assert result["headers"]["location"].startswith("/v1/streams/")
    assert result["invalid"] == [] and result["thrown"] is None
    assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}
    assert any(part["type"] == "text" for part in result["message"]["parts"])


def test_chat_stream_in_the_openai_dialect_ends_with_done_marker(gw: RunningGateway) -> None:
    with httpx.stream("POST", f"{gw.url}/v1/chat/stream?dialect=openai", json=CHAT) as response:
        body = response.read()
    assert response.status_code == 200
    assert b"chat.completion.chunk" in body
    assert body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("route", ["chat", "events"])
def test_unknown_dialect_is_400_on_every_streaming_route(gw: RunningGateway, route: str) -> None:
    if route == "chat":
        response = httpx.post(f"{gw.url}/v1/chat/stream?dialect=klingon", json=CHAT)
    else:
        created = httpx.post(f"{gw.url}/v1/streams", json=CHAT).json()
        response = httpx.get(f"{gw.url}{created['events_url']}?dialect=klingon")
    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == "dialect"
    assert "klingon" in error["message"] and "vercel-ai" in error["message"]


def test_cors_preflight_allows_the_sdk_headers_of_an_allowed_origin(gw: RunningGateway) -> None:
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": f"authorization,content-type,{STAINLESS}",
    }
    response = httpx.options(f"{gw.url}/v1/chat/completions", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(STAINLESS.split(",")) <= {h.lower() for h in allowed}

    other = httpx.options(f"{gw.url}/v1/chat/completions", headers={**headers, "Origin": "x"})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


def test_cors_exposes_the_resume_headers(gw: RunningGateway) -> None:
    with httpx.stream(
        "POST", f"{gw.url}/v1/chat/stream", json=CHAT, headers={"Origin": ORIGIN}
    ) as response:
        response.read()
    exposed_list = response.headers["access-control-expose-headers"].split(",")
    exposed = {h.strip().lower() for h in exposed_list}
    assert {"location", "surestream-stream-id", "surestream-read-token"} <= exposed


def test_a_configured_header_list_allows_only_those() -> None:
    settings = Settings(cors_origins=[ORIGIN], cors_allow_headers=["Authorization"])
    with run_gateway(settings) as running:
        response = httpx.options(
            f"{running.url}/v1/streams",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-stainless-os",
            },
        )
    assert response.status_code == 400


def test_openai_sdk_models_retrieve(gw: RunningGateway) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    model = client.models.retrieve("demo")
    assert model.id == "demo" and model.object == "model"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-nope")
    assert "gpt-nope" in str(raised.value)
