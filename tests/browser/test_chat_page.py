"""The chat page at ``/`` in a real Chromium: streaming, done, resume, Stop, failure, keyboard."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, Request, expect

from surestream.sse import Decoder
from tests.support.browser import FAKE_ERROR_MESSAGE, Gateway, ThreadedProxy, expected_answer

ANSWER = ".message.assistant .content"

# Records, inside the page, every length the answer had and every state the status line had
# (with the answer's length at that moment), so a test can see the answer grow event by event.
RECORDER = """() => {
  window.__lengths = [];
  window.__states = [];
  const answer = () => {
    const all = document.querySelectorAll('.message.assistant .content');
    return all.length ? all[all.length - 1].textContent : '';
  };
  new MutationObserver(() => {
    const n = answer().length;
    if (window.__lengths.at(-1) !== n) window.__lengths.push(n);
  }).observe(document.getElementById('transcript'),
             {subtree: true, childList: true, characterData: true});
  const status = document.getElementById('status');
  new MutationObserver(() => {
    window.__states.push({state: status.dataset.state, length: answer().length});
  }).observe(status, {attributes: true, attributeFilter: ['data-state']});
}"""


def open_page(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page.locator("#model")).to_be_enabled()
    page.evaluate(RECORDER)


def ask(page: Page, prompt: str, model: str = "demo") -> None:
    page.select_option("#model", model)
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")


def states(page: Page) -> list[str]:
    return [s["state"] for s in page.evaluate("window.__states")]


def test_answer_streams_in_progressively_and_ends_done(page: Page, gateway: Gateway) -> None:
    prompt = "How do server-sent events carry tokens to a browser?"
    expected = expected_answer(prompt)
    open_page(page, gateway.url)
    expect(page.get_by_role("heading", name="Every stream ends with a verdict.")).to_be_visible()

    ask(page, prompt)

    expect(page.locator(".message.user .content")).to_have_text(prompt)
    expect(page.locator("#status")).to_have_attribute("data-state", "streaming")
    expect(page.locator("#stop")).to_be_enabled()
    expect(page.locator(ANSWER)).to_have_text(expected)
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    done_text = re.compile(r"^Done · \d+ tokens · [0-9.]+ s$")
    expect(page.locator("#status-text")).to_have_text(done_text)
    expect(page.locator(".message.assistant")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#prompt")).to_be_focused()

    lengths: list[int] = page.evaluate("window.__lengths")
    assert lengths == sorted(lengths), "the answer only ever grows"
    assert lengths[-1] == len(expected)
    partial = [n for n in lengths if 0 < n < len(expected)]
    assert len(partial) >= 5, f"the answer should arrive in many steps, saw {lengths}"
    assert states(page) == ["connecting", "streaming", "done"]


def test_cut_connection_resumes_without_lost_or_doubled_text(
    page: Page, proxy: ThreadedProxy
) -> None:
    prompt = "Why must a dropped stream resume from its last event id?"
    expected = expected_answer(prompt)
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    open_page(page, proxy.url)
    # Break the next response (the stream) after 700 body bytes: about a dozen events in.
    proxy.cut_after(700, after=b"\r\n\r\n")

    ask(page, prompt)

    expect(page.locator("#status")).to_have_attribute("data-state", "resuming")
    expect(page.locator("#status")).to_contain_text("Connection lost — resuming (attempt 1 of 5)")
    expect(page.locator(ANSWER)).to_have_text(expected)
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    assert proxy.broken()

    recorded: list[dict[str, Any]] = page.evaluate("window.__states")
    assert [s["state"] for s in recorded] == [
        "connecting",
        "streaming",
        "resuming",
        "resumed",
        "done",
    ]
    at_cut = next(s["length"] for s in recorded if s["state"] == "resuming")
    assert 0 < at_cut < len(expected), "the cut happened mid-answer"

    posts = [r for r in requests if r.method == "POST"]
    assert [r.url for r in posts] == [proxy.url + "/v1/chat/stream"], "never re-POSTed"
    resumes = [r for r in requests if r.method == "GET" and "/events" in r.url]
    assert len(resumes) == 1
    last_event_id = resumes[0].all_headers().get("last-event-id")
    assert last_event_id is not None and last_event_id.isdigit()


def test_stop_cancels_on_the_server(page: Page, gateway: Gateway) -> None:
    prompt = "Tell me a long story about reliable streaming"
    expected = expected_answer(prompt)
    deletes: list[Request] = []
    page.on("request", lambda r: deletes.append(r) if r.method == "DELETE" else None)
    open_page(page, gateway.url)

    ask(page, prompt, model="slow")
    page.wait_for_function(
        "() => document.querySelector('.message.assistant .content').textContent.split(' ')"
        ".length >= 3"
    )
    page.get_by_role("button", name="Stop").click()

    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "stopped")
    expect(status).to_contain_text("Stopped — you cancelled the answer")
    expect(page.locator(".message.assistant .meta")).to_have_text("stopped")
    assert len(deletes) == 1
    stream_id = deletes[0].url.rsplit("/", 1)[-1]
    assert deletes[0].url == f"{gateway.url}/v1/streams/{stream_id}"
    shown = page.locator(ANSWER).text_content() or ""
    assert 0 < len(shown) < len(expected) and expected.startswith(shown)
    assert states(page)[-2:] == ["stopping", "stopped"]

    # The server's journal agrees: the stream ended with done / cancelled.
    body = httpx.get(f"{gateway.url}/v1/streams/{stream_id}/events", timeout=10).content
    events = Decoder().feed(body)
    assert events[-1].data == '{"type":"done","done":true,"finish_reason":"cancelled"}'


def test_upstream_failure_shows_the_reason(page: Page, gateway: Gateway) -> None:
    open_page(page, gateway.url)

    ask(page, "Anything at all", model="broken")

    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text(f"Failed: {FAKE_ERROR_MESSAGE}")
    expect(status).to_contain_text("(upstream_error)")
    expect(page.locator(ANSWER)).to_have_text("Hello from the")
    expect(page.locator(".message.assistant .meta")).to_have_text(
        "failed — the answer is incomplete"
    )
    assert "done" not in states(page)


def test_keyboard_and_labels(page: Page, gateway: Gateway) -> None:
    open_page(page, gateway.url)
    prompt = page.get_by_label("Message")
    expect(prompt).to_be_focused()
    expect(page.get_by_label("Model")).to_have_value("demo")
    options = page.locator("#model option").all_text_contents()
    assert options == [
        "agent",
        "broken",
        "broken-at-once",
        "demo",
        "demo-thinking",
        "demo-tools",
        "echo",
        "slow",
    ]
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")

    prompt.type("first line")
    prompt.press("Shift+Enter")
    prompt.type("second line")
    expect(prompt).to_have_value("first line\nsecond line")
    expect(page.locator(".message")).to_have_count(0)

    prompt.press("Enter")
    expect(page.locator(".message.user .content")).to_have_text("first line\nsecond line")
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    expect(page.locator(ANSWER)).to_have_text(expected_answer("first line\nsecond line"))
