"""``@microsoft/fetch-event-source`` (the real npm package, in Node) against surestream streams.

It dispatches every SSE block, even one without data: a heartbeat reaches ``onmessage`` as a
message with empty data, and so did the ``retry:`` line while it was a block of its own. The
gateway now writes ``retry:`` in the first event's block. ``readWithFetchEventSource`` of
docs/browser.md runs verbatim against a server that closes mid-stream: it resumes once, with
``Last-Event-ID``, over ``GET``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from tests.dialects._helpers import encode_stream
from tests.support.gateways import CHAT, FAKE_CHAT, fake_settings, run_gateway
from tests.support.hostile import hostile_server, sse
from tests.support.node import run_node
from tests.support.servers import RunningFake

from surestream.events import Done, Start, Text
from surestream.sse import HEARTBEAT

BROWSER_DOC = Path(__file__).parents[2] / "docs" / "browser.md"

SHIMS = """
globalThis.window = globalThis;
globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };
"""
"""What the library needs of a browser: a visibilitychange listener, window timers."""

RAW_MESSAGES = (
    SHIMS
    + """
const { fetchEventSource } = await import("@microsoft/fetch-event-source");
const messages = [];
const events = [];
class Stop extends Error {}
await fetchEventSource(process.argv[2], {
  ...JSON.parse(process.argv[3] ?? "{}"),
  openWhenHidden: true,
  onmessage(message) {
    messages.push({ data: message.data, id: message.id, retry: message.retry ?? null });
    if (!message.data) return;
    const event = JSON.parse(message.data);
    events.push(event);
    if (event.type === "done" || event.type === "error") throw new Stop();
  },
  onerror(error) { throw error; },
}).catch((error) => { if (!(error instanceof Stop)) throw error; });
console.log(JSON.stringify({ messages, events }));
"""
)
"""Every message the library dispatches, as it dispatches it (argv: url, fetch init)."""


def _events_url(base: str, body: object) -> str:
    created = httpx.post(f"{base}/v1/streams", json=body, timeout=10)
    assert created.status_code == 201, created.text
    return base + created.json()["events_url"]


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    with run_gateway() as running:
        yield running.url


def test_no_empty_message_for_the_retry_line(gateway_url: str) -> None:
    result = run_node(RAW_MESSAGES, _events_url(gateway_url, CHAT))

    messages = result["messages"]
    assert all(message["data"] for message in messages), "no empty-data message"
    assert messages[0]["retry"] == 3000, "retry came with the first event"
    assert [message["id"] for message in messages] == [str(i) for i in range(len(messages))]
    types = [event["type"] for event in result["events"]]
    assert types[0] == "start" and types[-1] == "done"


def test_heartbeats_are_the_empty_messages(fake: RunningFake) -> None:
    # POST /v1/chat/stream: the answer starts with this request, so its stall is seen live.
    fake.fake.enqueue("stall_after=2,stall=2")
    init = {"method": "POST", "headers": {"content-type": "application/json"}}
    with run_gateway(fake_settings(fake, heartbeat=0.1)) as running:
        url = running.url + "/v1/chat/stream"
        result = run_node(RAW_MESSAGES, url, json.dumps({**init, "body": json.dumps(FAKE_CHAT)}))

    heartbeats = [m for m in result["messages"] if not m["data"]]
    assert heartbeats, "the stall (2 s) is 20 heartbeat intervals long"
    assert all(m["id"] == "" for m in heartbeats), "a heartbeat carries no id"
    types = [event["type"] for event in result["events"]]
    assert types[0] == "start" and types[-1] == "done" and "text" in types


def _snippet() -> str:
    """``readWithFetchEventSource`` as docs/browser.md prints it."""
    blocks = re.findall(r"```js\n(.*?)```", BROWSER_DOC.read_text(), re.S)
    [code] = [b for b in blocks if b.startswith("// readWithFetchEventSource:")]
    return code


READ_WITH_SNIPPET = """
const seen = [];
const result = await readWithFetchEventSource(process.argv[2], {
  onEvent: (event, id) => seen.push([id, event.type]),
});
console.log(JSON.stringify({ result, seen }));
"""


def test_the_documented_reader_skips_heartbeats_and_resumes() -> None:
    events = [Start("st_1", "demo"), Text("Hel"), Text("lo"), Text(" world"), Done()]
    body = encode_stream("native", events, retry=10).decode()
    blocks = [block + "\n\n" for block in body.split("\n\n")[:-1]]

    def answer(request: Request, n: int) -> Response:
        if n == 0:  # three events, a heartbeat among them, then the connection closes
            return sse(blocks[0], HEARTBEAT.decode(), *blocks[1:3])
        if n == 1 and request.headers.get("last-event-id") == "2":
            return sse(*blocks[3:])
        return Response("unexpected request", status_code=500)

    with hostile_server(answer) as server:
        out = run_node(SHIMS + _snippet() + READ_WITH_SNIPPET, server.url + "/events")

    assert out["result"] == {
        "type": "done",
        "done": True,
        "finish_reason": "stop",
        "text": "Hello world",
    }
    assert out["seen"] == [[str(i), e.type] for i, e in enumerate(events)], "each event once"
    assert [(r.method, r.last_event_id) for r in server.requests] == [("GET", None), ("GET", "2")]
