"""The real npm clients against a real gateway, in Node: the AI SDK and ``eventsource``.

The AI SDK's own ``parseJsonEventStream`` + ``uiMessageChunkSchema`` validate every chunk of a
``?dialect=vercel-ai`` stream and ``readUIMessageStream`` builds the message (as
``DefaultChatTransport`` does); the ``eventsource`` package (the ``EventSource`` of Node apps)
receives every native event, the terminal one last.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.support.gateways import CHAT, FAKE_CHAT, fake_settings, run_gateway
from tests.support.node import read_ui_stream, run_node
from tests.support.servers import RunningFake


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    with run_gateway() as running:
        yield running.url


def _events_url(base: str, body: object = CHAT) -> str:
    created = httpx.post(f"{base}/v1/streams", json=body, timeout=10)
    assert created.status_code == 201, created.text
    return base + created.json()["events_url"]


def test_ai_sdk_reads_the_vercel_ai_dialect(gateway_url: str) -> None:
    result = read_ui_stream(_events_url(gateway_url) + "?dialect=vercel-ai")

    assert result["status"] == 200
    assert result["headers"]["x-vercel-ai-ui-message-stream"] == "v1"
    assert result["invalid"] == [] and result["thrown"] is None and result["errors"] == []
    kinds = [chunk["type"] for chunk in result["chunks"]]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    assert result["chunks"][-1]["finishReason"] == "stop"
    text = "".join(c["delta"] for c in result["chunks"] if c["type"] == "text-delta")
    message = result["message"]
    assert message["role"] == "assistant"
    assert [p["text"] for p in message["parts"] if p["type"] == "text"] == [text]
    assert text


def test_ai_sdk_sees_an_upstream_failure_as_an_error(fake: RunningFake) -> None:
    fake.fake.enqueue("error_after=2")
    with run_gateway(fake_settings(fake)) as running:
        result = read_ui_stream(_events_url(running.url, FAKE_CHAT) + "?dialect=vercel-ai")
    assert result["invalid"] == [] and result["thrown"] is None
    assert result["chunks"][-1]["type"] == "error"
    assert len(result["errors"]) == 1


EVENTSOURCE = """
import { EventSource } from "eventsource";
const source = new EventSource(process.argv[2]);
const events = [];
const result = await new Promise((resolve) => {
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    events.push([message.lastEventId, event]);
    if (event.type === "done" || event.type === "error") {
      source.close();
      resolve({ events, readyState: source.readyState });
    }
  };
});
console.log(JSON.stringify(result));
"""


def test_eventsource_package_gets_every_native_event(gateway_url: str) -> None:
    result = run_node(EVENTSOURCE, _events_url(gateway_url))

    ids = [event_id for event_id, _ in result["events"]]
    types = [event["type"] for _, event in result["events"]]
    assert ids == [str(i) for i in range(len(ids))]
    assert types[0] == "start" and types[-1] == "done"
    assert set(types[1:-1]) == {"text"}
    assert result["readyState"] == 2
