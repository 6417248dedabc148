"""Our own gateway (``surestream.gateway.app.create_app``, demo model) in each dialect: healthy.

The gateway runs under real uvicorn on loopback; ``inspect`` must find no problem in any of
its streams, recognise each dialect's own end signal, and resume its journaled streams
(including ``POST /v1/chat/stream``, resumed at the ``Location`` it names).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from surestream.check import inspect
from surestream.gateway.app import create_app
from surestream.gateway.settings import Settings
from tests.support.servers import serve_in_thread

REQUEST = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 12}


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    with serve_in_thread(create_app(Settings(demo_tokens_per_second=200))) as server:
        yield server.url


def _events_url(gateway: str) -> str:
    created = httpx.post(f"{gateway}/v1/streams", json=REQUEST)
    assert created.status_code == 201, created.text
    return f"{gateway}{created.json()['events_url']}"


@pytest.mark.parametrize(
    ("dialect", "kind"),
    [
        ("native", "native_done"),
        ("vercel-ai", "vercel_finish"),
        ("anthropic", "anthropic_message_stop"),
    ],
)
def test_journaled_stream_in_each_dialect_is_healthy_and_resumes(
    gateway: str, dialect: str, kind: str
) -> None:
    report = inspect(f"{_events_url(gateway)}?dialect={dialect}", resume=True)
    assert report.problems == [], report.dumps()
    assert report.dialect == dialect
    assert report.end is not None and report.end.kind == kind
    assert {"terminal_signal", "resume_ok", "content_type_sse", "x_accel_buffering_ok"} <= set(
        report.codes
    )


def test_openai_chat_completions_is_healthy(gateway: str) -> None:
    body = json.dumps({**REQUEST, "stream": True})
    report = inspect(f"{gateway}/v1/chat/completions", body=body)
    assert report.problems == [], report.dumps()
    assert report.method == "POST" and report.dialect == "openai"
    assert report.end is not None and report.end.kind == "openai_done"
    assert report.end.detail in {"stop", "length"}


def test_chat_stream_resumes_at_its_location(gateway: str) -> None:
    report = inspect(f"{gateway}/v1/chat/stream", body=json.dumps(REQUEST), resume=True)
    assert report.problems == [], report.dumps()
    assert "resume_ok" in report.codes
    assert report.resume is not None and "/v1/streams/" in report.resume["reconnect_url"]


def test_anthropic_messages_is_healthy(gateway: str) -> None:
    body = json.dumps({**REQUEST, "stream": True})
    report = inspect(f"{gateway}/v1/messages", body=body)
    assert report.verdict == "ok" and report.problems == [], report.dumps()
    assert report.method == "POST" and report.dialect == "anthropic"
    assert report.end is not None and report.end.kind == "anthropic_message_stop"
    assert report.end.detail in {"stop", "length"}
    assert "named_events_only" in report.codes  # as an ok: the SDKs read the names
