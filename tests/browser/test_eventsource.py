"""The browser's own EventSource on a native stream, with the ``readStream`` snippet of
docs/browser.md run verbatim: every event arrives, the terminal one last, then the source is
CLOSED; the same reader without ``close()`` shows why closing matters (it reconnects)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, Request

from tests.support.browser import Gateway, expected_answer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "browser.md"

READ = """async ([code, url]) => {
  const readStream = new Function(code + "\\nreturn readStream;")();
  const events = [];
  const opened = [];
  const { source, result } = readStream(url, { onEvent: (e, id) => events.push([e, id]) });
  const errors = [];
  source.addEventListener("open", () => opened.push(source.readyState));
  source.addEventListener("error", () => errors.push(source.readyState));
  window.__errors = errors;
  const done = await result;
  return { done, events, readyState: source.readyState, opened: opened.length };
}"""


def read_stream_snippet() -> str:
    blocks = re.findall(r"```js\n(.*?)```", DOCS.read_text(), re.S)
    block = next(b for b in blocks if "function readStream" in b)
    return block.split("// Usage:")[0]


def create_stream(gateway: Gateway, prompt: str) -> dict[str, Any]:
    body = {"model": "demo", "messages": [{"role": "user", "content": prompt}]}
    response = httpx.post(f"{gateway.url}/v1/streams", json=body, timeout=10)
    assert response.status_code == 201
    created: dict[str, Any] = response.json()
    return created


def test_eventsource_gets_every_event_then_closes(page: Page, gateway: Gateway) -> None:
    prompt = "Does EventSource see unnamed events?"
    page.goto(gateway.url + "/")
    created = create_stream(gateway, prompt)
    url = gateway.url + created["events_url"]
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if r.url == url else None)

    result = page.evaluate(READ, [read_stream_snippet(), url])

    events = [event for event, _ in result["events"]]
    ids = [event_id for _, event_id in result["events"]]
    assert ids == [str(i) for i in range(len(events))], "every event, in order, none missing"
    assert events[0] == {"type": "start", "stream": created["id"], "model": "demo"}
    assert {e["type"] for e in events[1:-1]} == {"text"}
    assert events[-1]["type"] == "done" and events[-1]["finish_reason"] == "stop"
    assert "".join(e["text"] for e in events[1:-1]) == expected_answer(prompt)
    assert result["done"]["text"] == expected_answer(prompt)
    assert result["readyState"] == 2, "CLOSED: a closed EventSource never reconnects"
    assert result["opened"] == 1
    assert len(requests) == 1


def test_eventsource_without_close_reconnects_after_done(page: Page, gateway: Gateway) -> None:
    """The control: the same reader minus ``source.close()`` comes back after the verdict.

    The gateway answers that reconnection ``204 No Content``, which per the HTML spec makes
    EventSource give up (CLOSED) instead of retrying forever, but the page still gets an
    ``error`` event after its stream was done: a naive ``onerror`` would report a failure.
    """
    page.goto(gateway.url + "/")
    created = create_stream(gateway, "What if nobody closes the source?")
    url = gateway.url + created["events_url"]
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if r.url == url else None)
    careless = read_stream_snippet().replace("source.close();", "")

    result = page.evaluate(READ, [careless, url])
    assert result["done"]["finish_reason"] == "stop"
    assert result["readyState"] != 2, "still open after done"

    # After the server's retry (3 s) the browser asks again, with the terminal event's id.
    page.wait_for_function("() => window.__errors.includes(EventSource.CLOSED)")
    terminal_id = result["events"][-1][1]
    assert len(requests) == 2
    assert requests[1].all_headers().get("last-event-id") == terminal_id
    response = requests[1].response()
    assert response is not None and response.status == 204
