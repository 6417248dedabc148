"""The fake upstream itself: real OpenAI clients read it, and it is scriptable over HTTP."""

from __future__ import annotations

import httpx
import openai
import pytest

from surestream.testing import Scenario
from surestream.testing.fake_upstream import DEFAULT_TEXT
from tests.support.servers import RunningFake, uvicorn_process
from tests.support.upstreams import API_KEY

MESSAGES = [{"role": "user", "content": "Say hello"}]


def sdk(fake: RunningFake, key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key=key, max_retries=0)


def test_official_sdk_streams_text_and_usage(fake: RunningFake) -> None:
    with sdk(fake) as client:
        stream = client.chat.completions.create(
            model="fake-model",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == DEFAULT_TEXT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 13


def test_official_sdk_non_streaming(fake: RunningFake) -> None:
    with sdk(fake) as client:
        answer = client.chat.completions.create(model="fake-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == DEFAULT_TEXT
    assert answer.usage is not None and answer.usage.prompt_tokens == 2


def test_official_sdk_sees_the_scripted_status_and_wrong_key(fake: RunningFake) -> None:
    fake.fake.enqueue(Scenario(status=429, retry_after="3"))
    with sdk(fake) as client:
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="fake-model", messages=MESSAGES)  # type: ignore[arg-type]
        assert info.value.response.headers["retry-after"] == "3"
    with sdk(fake, "sk-nope") as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="fake-model", messages=MESSAGES)  # type: ignore[arg-type]


def test_models_listing(fake: RunningFake) -> None:
    for path in ("/v1/models", "/models"):
        ids = [m["id"] for m in httpx.get(fake.url + path).json()["data"]]
        assert ids == ["fake-model", "other-model"]


def test_scenario_sources_in_order_header_queue_model(fake: RunningFake) -> None:
    headers = {"authorization": f"Bearer {API_KEY}"}
    body = {"model": "fake:status=503", "messages": MESSAGES}
    url = fake.base_url + "/chat/completions"
    assert httpx.post(fake.url + "/_fake/scenarios", json={"spec": "status=418"}).status_code == 200
    scripted = {**headers, "x-fake-scenario": "status=409"}
    assert httpx.post(url, json=body, headers=scripted).status_code == 409
    assert httpx.post(url, json=body, headers=headers).status_code == 418
    assert httpx.post(url, json=body, headers=headers).status_code == 503
    ok = httpx.post(url, json={**body, "model": "fake-model"}, headers=headers)
    assert ok.json()["choices"][0]["message"]["content"] == DEFAULT_TEXT
    bad = httpx.post(url, json={**body, "model": "fake:nonsense=1"}, headers=headers)
    assert bad.status_code == 400 and "nonsense" in bad.json()["error"]["message"]
    # A response is whole at the client a moment before the fake marks its record ended.
    assert all(record.wait_ended(10) for record in list(fake.fake.requests))
    records = httpx.get(fake.url + "/_fake/requests").json()
    assert [r["scenario"] for r in records] == [
        "status=409",
        "status=418",
        "status=503",
        "",
        "status=400,error_message=unknown+fake+scenario+key+%27nonsense%27",
    ]
    assert all(r["ended"] and r["headers"]["authorization"] == f"Bearer {API_KEY}" for r in records)
    assert httpx.post(fake.url + "/_fake/reset").status_code == 200
    assert httpx.get(fake.url + "/_fake/requests").json() == []


def test_scenario_spec_round_trip() -> None:
    scenario = Scenario(text="Hi, there", stall_after=2, ping=0.5, reset=True)
    assert Scenario.parse(scenario.spec()) == scenario
    assert Scenario.parse("") == Scenario()
    with pytest.raises(ValueError, match="bogus"):
        Scenario.parse("bogus=1")


def test_module_app_runs_under_uvicorn_in_a_process() -> None:
    with uvicorn_process("surestream.testing.fake_upstream:app") as server:
        body = {"model": "fake:text=one+two", "messages": MESSAGES, "stream": True}
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body) as response:
            raw = b"".join(response.iter_raw())
    assert response.headers["content-type"].startswith("text/event-stream")
    assert b'"content":"one"' in raw and b'"content":" two"' in raw
    assert raw.endswith(b"data: [DONE]\n\n")
