"""The chat page renders the model's Markdown safely, in Chromium: hostile output never
becomes HTML, scripts or unsafe links; code, lists, tables and links render; a streamed
answer ends as the same DOM as the whole text; a failure before any text is shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import ask, open_page
from tests.support.browser import FAKE_ERROR_MESSAGE, Gateway

TEXT = ".message.assistant .content > .part.text"

HOSTILE = "\n".join(
    [
        'Hi <img src=x onerror="window.__pwned=1"> there',
        "<script>window.__pwned = 2</script>",
        '<a href="javascript:window.__pwned=3">raw anchor</a>',
        "[md link](javascript:window.__pwned=4) [mixed case](JaVaScRiPt:window.__pwned=5)",
        "[data](data:text/html,<script>window.__pwned=6</script>)",
        "[split](java\tscript:window.__pwned=7) [vb](vbscript:msgbox)",
        "![pixel](https://tracker.invalid/p.png) ![x](javascript:window.__pwned=8)",
        '<iframe src="javascript:window.__pwned=9"></iframe><svg onload="window.__pwned=10">',
        '<style>body{display:none}</style><div style="position:fixed">x</div>',
        "&lt;b&gt; and &#106;avascript:",
        "",
        "```html",
        '<img src=x onerror="window.__pwned=11">',
        "```",
    ]
)

# Everything the page built from the model's text, as facts the test can assert on.
SURVEY = """() => {
  const root = document.querySelector('.message.assistant .content');
  const all = [...root.querySelectorAll('*')];
  return {
    tags: [...new Set(all.map((n) => n.tagName.toLowerCase()))].sort(),
    handlers: all.flatMap((n) => [...n.attributes].map((a) => a.name))
      .filter((name) => name.startsWith('on') || name === 'style' || name === 'src'),
    links: [...root.querySelectorAll('a')].map((a) => ({
      href: a.getAttribute('href'), protocol: a.protocol, rel: a.rel, target: a.target,
      text: a.textContent })),
    pwned: window.__pwned ?? null,
    text: root.textContent,
  };
}"""


def test_hostile_model_output_never_reaches_the_dom_as_html(page: Page, gateway: Gateway) -> None:
    open_page(page, gateway.url)
    ask(page, HOSTILE, model="echo")
    expect(page.locator("#status")).to_have_attribute("data-state", "done")

    survey = page.evaluate(SURVEY)
    assert set(survey["tags"]) <= {"div", "p", "br", "a", "pre", "code"}, survey["tags"]
    assert survey["handlers"] == [], "no event handler, style or src attribute"
    assert survey["pwned"] is None
    # Only the http(s) image became a link (to the image, never loaded); the rest is text.
    assert survey["links"] == [
        {
            "href": "https://tracker.invalid/p.png",
            "protocol": "https:",
            "rel": "noopener noreferrer nofollow",
            "target": "_blank",
            "text": "pixel",
        }
    ]
    text = survey["text"]
    for literal in (
        "<script>window.__pwned = 2</script>",
        '<img src=x onerror="window.__pwned=1">',
        '<a href="javascript:window.__pwned=3">raw anchor</a>',
        "&lt;b&gt; and &#106;avascript:",
    ):
        assert literal in text
    assert "md link mixed case" in text, "an unsafe link keeps its label as text"
    code = page.locator(f"{TEXT} pre > code.language-html")
    expect(code).to_have_text('<img src=x onerror="window.__pwned=11">')


MARKDOWN = """# Streaming, summed up

Use **server-sent events** and end with `done`. See [the spec](SPEC) or <mailto:team@example.com>.

1. Send events
2. End with a verdict
   - `done`
   - `error`

> A closed connection is *not* an answer.

| event | terminal |
| --- | :-: |
| text | no |
| done | yes |

```python
for event in stream:
    print(event)
```
""".replace("SPEC", "https://html.spec.whatwg.org/multipage/server-sent-events.html")


def test_markdown_renders_code_lists_tables_and_safe_links(page: Page, gateway: Gateway) -> None:
    open_page(page, gateway.url)
    ask(page, MARKDOWN, model="echo")
    expect(page.locator("#status")).to_have_attribute("data-state", "done")

    part = page.locator(TEXT)
    expect(part.locator("h1")).to_have_text("Streaming, summed up")
    expect(part.locator("p strong")).to_have_text("server-sent events")
    expect(part.locator("p > code")).to_have_text("done")
    expect(part.locator("ol > li")).to_have_count(2)
    expect(part.locator("ol > li > ul > li > code")).to_have_text(["done", "error"])
    expect(part.locator("blockquote em")).to_have_text("not")
    expect(part.locator("table th")).to_have_text(["event", "terminal"])
    expect(part.locator("table tbody tr")).to_have_count(2)
    expect(part.locator("table td").nth(1)).to_have_css("text-align", "center")
    expect(part.locator("pre > code.language-python")).to_have_text(
        "for event in stream:\n    print(event)"
    )
    links = part.locator("a")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_attribute(
        "href", "https://html.spec.whatwg.org/multipage/server-sent-events.html"
    )
    expect(links.nth(1)).to_have_attribute("href", "mailto:team@example.com")
    for i in range(2):
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(links.nth(i)).to_have_attribute("target", "_blank")

    # Streamed five characters per event, the answer ends as the whole text rendered at once.
    same = page.evaluate(
        """async (text) => {
          const { renderMarkdown } = await import('/static/markdown.js');
          const whole = document.createElement('div');
          renderMarkdown(whole, text);
          return whole.innerHTML === document.querySelector('.part.text').innerHTML;
        }""",
        MARKDOWN.strip(),
    )
    assert same


# MarkdownView keeps the blocks before the last settled boundary and rebuilds the rest: fed
# a text in every split (and in many small pieces), it must end as the whole text rendered.
INCREMENTAL = """async (samples) => {
  const { MarkdownView, renderMarkdown } = await import('/static/markdown.js');
  const failures = [];
  for (const text of samples) {
    const whole = document.createElement('div');
    renderMarkdown(whole, text);
    const splits = [];
    for (let i = 1; i < text.length; i++) splits.push([text.slice(0, i), text]);
    splits.push(Array.from(text, (_, i) => text.slice(0, i + 1)));
    for (const steps of splits) {
      const node = document.createElement('div');
      const view = new MarkdownView(node);
      for (const step of steps) view.update(step);
      if (node.innerHTML !== whole.innerHTML) {
        failures.push({ text, at: steps[0].length, got: node.innerHTML, want: whole.innerHTML });
        break;
      }
    }
  }
  return failures;
}"""


@pytest.mark.parametrize(
    "sample",
    [
        MARKDOWN,
        "para one\n\n- a\n- b\n\n  still b\n\nafter\r\n\r\n1. x\n\n2. y\n\nend",
        "```\ncode\n\nmore code\n```\n\ntext\n\n~~~~\nunclosed\n\nfence",
        "> quote\n\n> another\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nfin",
    ],
    ids=["document", "lists", "fences", "quotes-tables"],
)
def test_incremental_rendering_ends_as_the_whole_text(
    page: Page, gateway: Gateway, sample: str
) -> None:
    page.goto(gateway.url + "/")
    assert page.evaluate(INCREMENTAL, [sample]) == []


def test_a_failure_before_any_text_shows_the_error_in_the_bubble(
    page: Page, gateway: Gateway
) -> None:
    open_page(page, gateway.url)
    ask(page, "Anything at all", model="broken-at-once")

    expect(page.locator("#status")).to_have_attribute("data-state", "failed")
    answer = page.locator(".message.assistant")
    expect(answer).to_have_attribute("data-state", "failed")
    problem = answer.locator(".content > .part.problem")
    expect(problem).to_contain_text(FAKE_ERROR_MESSAGE)
    expect(problem).to_be_visible()
    expect(answer.locator(".content > .part.text")).to_have_count(0)
    expect(answer.locator(".meta")).to_have_text("failed — no answer")
