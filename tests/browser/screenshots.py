"""Remake docs/screenshots/: the chat page mid-stream, after done, resumed in dark mode, and
an agent's answer (reasoning, tool cards, text).

Run ``.venv/bin/python -m tests.browser.screenshots`` from the repository root. It starts
the gateway and a breakable proxy on loopback and drives /usr/bin/chromium like the tests.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from surestream.gateway.app import create_app
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import Settings
from tests.support.browser import AGENT_EVENTS, CHROMIUM, CHROMIUM_ARGS, ThreadedProxy
from tests.support.scripted import ScriptedModel
from tests.support.servers import serve_in_thread

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FIRST = "What is server-sent events streaming good for?"
SECOND = "Why should every LLM stream end with an explicit verdict?"
AGENT = "What is the weather in Paris?"
VIEWPORT = {"width": 960, "height": 720}


def send(page: Page, prompt: str) -> None:
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")


def words_at_least(page: Page, n: int) -> None:
    page.wait_for_function(
        f"""() => {{
          const all = document.querySelectorAll('.message.assistant .content');
          return all.length && all[all.length - 1].textContent.split(' ').length >= {n};
        }}"""
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    settings = Settings(demo_tokens_per_second=7, models={"agent": "agent"})
    agent = ScriptedModel(AGENT_EVENTS, pause=0.1, name="agent")
    app = create_app(settings, upstreams={**build_upstreams(settings), "agent": agent})
    with serve_in_thread(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for scheme in ("light", "dark"):
            context = browser.new_context(
                viewport=VIEWPORT, color_scheme=scheme, reduced_motion="reduce"
            )
            page = context.new_page()
            if scheme == "light":
                page.goto(server.url + "/")
                expect(page.locator("#model")).to_be_enabled()
                send(page, FIRST)
                expect(page.locator("#status")).to_have_attribute("data-state", "done")
                send(page, SECOND)
                words_at_least(page, 14)
                page.screenshot(path=OUT / "chat-streaming.png")
                expect(page.locator("#status")).to_have_attribute("data-state", "done")
                page.screenshot(path=OUT / "chat-done.png")
                page.reload()
                expect(page.locator("#model")).to_be_enabled()
                page.select_option("#model", "agent")
                send(page, AGENT)
                expect(page.locator("#status")).to_have_attribute("data-state", "done")
                page.locator(".reasoning summary").click()
                page.screenshot(path=OUT / "chat-agent.png")
            else:
                with ThreadedProxy(server.port) as proxy:
                    page.goto(proxy.url + "/")
                    expect(page.locator("#model")).to_be_enabled()
                    send(page, FIRST)
                    expect(page.locator("#status")).to_have_attribute("data-state", "done")
                    proxy.cut_after(500, after=b"\r\n\r\n")
                    send(page, SECOND)
                    expect(page.locator("#status")).to_have_attribute("data-state", "resumed")
                    words_at_least(page, 24)
                    page.screenshot(path=OUT / "chat-dark-resumed.png")
            context.close()
        browser.close()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(OUT.parents[1]), path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
