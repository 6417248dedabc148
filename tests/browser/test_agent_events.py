"""Reasoning, tool calls, tool results and steps in Chromium: ``stream()``'s answer and the
chat page's collapsible reasoning block and tool cards, updated in place as events stream."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import ask, open_page
from tests.browser.test_surestream_js import STREAM
from tests.support.browser import Gateway, expected_answer

REASONING = "The user asks about the weather. I should call get_weather for Paris."
ANSWER_TEXT = "It is 21 °C and clear in Paris."
CONTENT = ".message.assistant .content"

# Records every part added, every data-state a tool card had before a change (attribute
# records keep each change's old value, even for several in one task) and every text its
# arguments showed, so the test sees the parts grow in place.
PARTS_RECORDER = """() => {
  window.__added = [];
  window.__toolStates = [];
  window.__argTexts = [];
  window.__reasoningOpen = [];
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'childList') {
        for (const n of r.addedNodes) {
          if (n.classList?.contains('part')) window.__added.push(n.className);
          if (n.nodeType === 3 && r.target.classList?.contains('tool-args'))
            window.__argTexts.push(n.data);
        }
      } else if (r.attributeName === 'data-state' && r.target.classList.contains('tool-card')) {
        window.__toolStates.push(r.oldValue);  // the value before this change
      } else if (r.attributeName === 'open') {
        window.__reasoningOpen.push(r.target.open);
      }
    }
  }).observe(document.getElementById('transcript'), {subtree: true, childList: true,
             attributes: true, attributeOldValue: true, attributeFilter: ['data-state', 'open']});
}"""


def test_chat_page_shows_reasoning_and_tool_cards_streaming_in_place(
    page: Page, gateway: Gateway
) -> None:
    open_page(page, gateway.url)
    page.evaluate(PARTS_RECORDER)

    ask(page, "What is the weather in Paris?", model="agent")

    reasoning = page.locator(f"{CONTENT} details.reasoning")
    expect(reasoning).to_have_attribute("open", "")  # open while the model thinks
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    expect(page.locator("#status-text")).to_contain_text("Done")

    parts = page.locator(f"{CONTENT} > .part")
    classes = [c.split()[1] for c in parts.evaluate_all("ns => ns.map(n => n.className)")]
    assert classes == ["reasoning", "tool-card", "tool-card", "step", "text"]
    assert page.evaluate("window.__added") == [
        "part reasoning",
        "part tool-card",
        "part tool-card",
        "part step",
        "part text",
    ], "each part was created once and then updated in place"

    # Reasoning: collapsed once the answer moved on, dimmed, its text behind the summary.
    expect(reasoning).not_to_have_attribute("open", "")
    expect(reasoning.locator("summary")).to_have_text("Reasoning")
    expect(reasoning.locator(".reasoning-text")).to_be_hidden()
    assert page.evaluate("window.__reasoningOpen") == [False]
    style = reasoning.evaluate(
        """n => { const s = getComputedStyle(n), t = getComputedStyle(n.closest('.content'));
                 return {opacity: Number(s.opacity), color: s.color, text: t.color}; }"""
    )
    assert style["opacity"] < 1 and style["color"] != style["text"], style
    reasoning.locator("summary").click()
    expect(reasoning.locator(".reasoning-text")).to_have_text(REASONING)
    expect(reasoning.locator(".reasoning-text")).to_be_visible()

    # The streamed call: arguments shown as they came, then the complete call and its result.
    weather = page.locator(f"{CONTENT} .tool-card").nth(0)
    expect(weather.locator(".tool-name")).to_have_text("get_weather")
    expect(weather.locator(".tool-state")).to_have_text("done")
    assert json.loads(weather.locator(".tool-args").inner_text()) == {"city": "Paris"}
    output = weather.locator(".tool-output").inner_text()
    assert json.loads(output) == {"temperature": 21, "sky": "clear"}
    # The states both cards left, in order (None: before a card's first state): the first
    # went through input-streaming and input-available; the second came complete.
    assert page.evaluate("window.__toolStates") == [
        None,
        "input-streaming",
        "input-available",
        None,
        "input-available",
    ]
    arg_texts: list[str] = page.evaluate("window.__argTexts")
    assert arg_texts[:2] == ['{"city"', '{"city": "Paris"}'], arg_texts

    # The complete call whose tool failed: an error, not a stream failure.
    clock = page.locator(f"{CONTENT} .tool-card").nth(1)
    expect(clock).to_have_attribute("data-state", "output-error")
    expect(clock.locator(".tool-name")).to_have_text("get_time")
    expect(clock.locator(".tool-state")).to_have_text("failed")
    expect(clock.locator(".tool-error")).to_have_text("unknown time zone: Mars")
    expect(clock.locator(".tool-output")).to_have_count(0)

    expect(page.locator(f"{CONTENT} .part.step")).to_have_text("answer")
    expect(page.locator(f"{CONTENT} .part.text")).to_have_text(ANSWER_TEXT)


def test_stream_resolves_with_reasoning_tool_calls_and_parts(page: Page, gateway: Gateway) -> None:
    page.goto(gateway.url + "/")
    body = {"model": "agent", "messages": [{"role": "user", "content": "weather?"}]}
    result = page.evaluate(STREAM, ["/v1/chat/stream", {"method": "POST", "body": body}])

    done = result["ok"]
    assert done["finish_reason"] == "stop"
    assert done["text"] == ANSWER_TEXT
    assert done["reasoning"] == REASONING
    calls = [(c["id"], c["name"], c["args"], c["state"]) for c in done["toolCalls"]]
    assert calls == [
        ("call_1", "get_weather", {"city": "Paris"}, "output-available"),
        ("call_2", "get_time", {"zone": "Mars"}, "output-error"),
    ]
    assert done["toolCalls"][0]["output"] == {"temperature": 21, "sky": "clear"}
    assert done["toolCalls"][1]["error"] == "unknown time zone: Mars"
    assert [p["type"] for p in done["parts"]] == ["reasoning", "tool", "tool", "step", "text"]

    seen: list[tuple[dict[str, Any], dict[str, Any]]] = result["seen"]
    kinds = [e["type"] for e, _ in seen if e["type"] != "state"]
    assert kinds == [
        "start",
        "reasoning",
        "reasoning",
        "tool_call_start",
        "tool_call_delta",
        "tool_call_delta",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "step",
        "text",
        "text",
        "done",
    ]
    assert all("part" not in meta for e, meta in seen if e["type"] in ("start", "done"))


SNAPSHOTS = """async (body) => {
  const { stream } = await import('/static/surestream.js');
  const snapshots = [];
  await stream('/v1/chat/stream', { method: 'POST', body, onEvent(event, meta) {
    if (meta.part) snapshots.push([event.type, structuredClone(meta.part)]);
  }});
  return snapshots;
}"""


def test_on_event_gets_the_part_each_event_changed(page: Page, gateway: Gateway) -> None:
    """``meta.part`` is the live part; a snapshot per event shows it grow in place."""
    page.goto(gateway.url + "/")
    body = {"model": "agent", "messages": [{"role": "user", "content": "weather?"}]}
    snapshots: list[tuple[str, dict[str, Any]]] = page.evaluate(SNAPSHOTS, body)

    tool = [(kind, part["state"], part["argsText"]) for kind, part in snapshots[2:6]]
    assert tool == [
        ("tool_call_start", "input-streaming", ""),
        ("tool_call_delta", "input-streaming", '{"city"'),
        ("tool_call_delta", "input-streaming", '{"city": "Paris"}'),
        ("tool_call", "input-available", '{"city":"Paris"}'),
    ]
    reasoning = [part["text"] for kind, part in snapshots if kind == "reasoning"]
    assert reasoning == ["The user asks about the weather.", REASONING]
    texts = [part["text"] for kind, part in snapshots if kind == "text"]
    assert texts == ["It is 21 °C", ANSWER_TEXT]


def test_the_demo_model_s_reasoning_and_tool_call_on_the_chat_page(
    page: Page, gateway: Gateway
) -> None:
    """The built-in demo model, offered a tool, reasons and then calls it: a reasoning block
    and a tool card with the arguments it built from the tool's schema; the stream ends
    ``tool_calls``, the call waiting for its result."""
    open_page(page, gateway.url)
    ask(page, "What is the weather in Lisbon today?", model="demo-tools")

    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    expect(page.locator("#status-text")).to_contain_text("Done — the model asked for a tool")
    parts = page.locator(f"{CONTENT} > .part")
    classes = [c.split()[1] for c in parts.evaluate_all("ns => ns.map(n => n.className)")]
    assert classes == ["reasoning", "tool-card"]
    reasoning = page.locator(f"{CONTENT} details.reasoning")
    reasoning.locator("summary").click()
    expect(reasoning.locator(".reasoning-text")).not_to_be_empty()
    card = page.locator(f"{CONTENT} .tool-card")
    expect(card.locator(".tool-name")).to_have_text("get_weather")
    expect(card).to_have_attribute("data-state", "input-available")
    expect(card.locator(".tool-state")).to_have_text("called")
    args = json.loads(card.locator(".tool-args").inner_text())
    assert isinstance(args["city"], str) and args["city"]
    expect(card.locator(".tool-result")).to_have_count(0)


def test_the_demo_model_s_reasoning_before_a_text_answer(page: Page, gateway: Gateway) -> None:
    open_page(page, gateway.url)
    prompt = "Why do streams need a verdict?"
    ask(page, prompt, model="demo-thinking")

    reasoning = page.locator(f"{CONTENT} details.reasoning")
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    expect(reasoning).not_to_have_attribute("open", "")
    parts = page.locator(f"{CONTENT} > .part")
    classes = [c.split()[1] for c in parts.evaluate_all("ns => ns.map(n => n.className)")]
    assert classes == ["reasoning", "text"]
    expect(page.locator(f"{CONTENT} .part.text")).to_have_text(expected_answer(prompt))
