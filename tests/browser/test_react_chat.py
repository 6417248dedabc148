"""``examples/react-chat`` (``useChat`` from ``@ai-sdk/react``) built with the command of its
README and driven in Chromium against the gateway, served from another origin (CORS): an
answer streams and ends, a second turn answers the second question, a connection cut
mid-answer continues after a reload, an upstream failure shows its error, a tool the model
calls runs in the page and the answer goes on."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.support.browser import (
    FAKE_ERROR_MESSAGE,
    Gateway,
    ThreadedProxy,
    expected_answer,
    serve_gateway,
)
from tests.support.node import JS_DIR, run_esbuild
from tests.support.servers import ServerThread, serve_in_thread

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "react-chat"
ANSWER = ".message[data-role=assistant]"
CUT_AFTER = 1500
"""Body bytes (counted from the end of the stream's response head) after which the proxy cuts
the connection: a dozen or so words into the ``slow`` model's answer of about fifty."""


def readme_build_command() -> list[str]:
    """The esbuild command line of the example's README, without ``npx esbuild``."""
    for line in (EXAMPLE / "README.md").read_text().splitlines():
        if line.startswith("npx esbuild "):
            return shlex.split(line)[2:]
    raise AssertionError("no `npx esbuild ...` line in examples/react-chat/README.md")


def _site(bundle: str) -> Starlette:
    async def index(_: object) -> HTMLResponse:
        return HTMLResponse((EXAMPLE / "public" / "index.html").read_text())

    async def app_js(_: object) -> Response:
        return Response(bundle, media_type="text/javascript")

    return Starlette(routes=[Route("/", index), Route("/app.js", app_js)])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The example, built by its README's command, on its own origin."""
    out = tmp_path_factory.mktemp("react-chat") / "app.js"
    argv = [f"--outfile={out}" if a.startswith("--outfile=") else a for a in readme_build_command()]
    run_esbuild(argv, cwd=EXAMPLE)
    with serve_in_thread(_site(out.read_text())) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(site: ServerThread) -> Iterator[Gateway]:
    """The browser tests' gateway, allowing the example's origin."""
    with serve_gateway(cors_origins=[site.url]) as gateway:
        yield gateway


def _open(page: Page, site: ServerThread, gateway_url: str, model: str) -> str:
    """Open the example against ``gateway_url``; the chat id it put in the URL."""
    page.goto(f"{site.url}/?gateway={gateway_url}&model={model}")
    expect(page.locator("#send")).to_be_visible()
    chat_id = parse_qs(urlsplit(page.url).query)["chat"][0]
    assert chat_id
    return chat_id


def _ask(page: Page, prompt: str) -> None:
    page.locator("#prompt").fill(prompt)
    page.locator("#send").click()


def test_the_example_declares_the_versions_the_tests_run() -> None:
    example = json.loads((EXAMPLE / "package.json").read_text())
    kit = json.loads((JS_DIR / "package.json").read_text())["dependencies"]
    pinned = {**example["dependencies"], **example["devDependencies"]}
    assert pinned == {name: kit[name] for name in pinned}
    assert set(pinned) == {"@ai-sdk/react", "ai", "react", "react-dom", "esbuild"}
    assert example["scripts"]["build"] == shlex.join(["esbuild", *readme_build_command()])


def test_an_answer_streams_and_ends(page: Page, site: ServerThread, gateway: Gateway) -> None:
    prompt = "Tell me about resumable streams"
    _open(page, site, gateway.url, "demo")
    _ask(page, prompt)
    expect(page.locator("#status")).to_have_attribute("data-status", "streaming")
    expect(page.locator(ANSWER)).to_have_text(expected_answer(prompt))
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    expect(page.locator(".message[data-role=user]")).to_have_text(prompt)
    expect(page.locator("#error")).to_have_count(0)


def test_a_second_turn_answers_the_second_question(
    page: Page, site: ServerThread, gateway: Gateway
) -> None:
    first, second = "Tell me about streams", "And what about verdicts?"
    _open(page, site, gateway.url, "demo")
    _ask(page, first)
    expect(page.locator(ANSWER)).to_have_text(expected_answer(first))
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    _ask(page, second)
    expect(page.locator(".message[data-role=user]")).to_have_text([first, second])
    expect(page.locator(ANSWER)).to_have_text([expected_answer(first), expected_answer(second)])
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")


def test_a_cut_answer_continues_after_a_reload(
    page: Page, site: ServerThread, gateway: Gateway
) -> None:
    prompt = "Why should a stream survive a reload?"
    expected = expected_answer(prompt)
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    with ThreadedProxy(gateway.port) as proxy:
        chat_id = _open(page, site, proxy.url, "slow")
        proxy.cut_after(CUT_AFTER, after=b"\r\n\r\n")
        _ask(page, prompt)

        expect(page.locator("#error")).to_have_attribute("data-kind", "connection")
        assert proxy.broken()
        assert len(page.locator(ANSWER).text_content() or "") < len(expected)

        page.reload()
        expect(page.locator(".message[data-role=user]")).to_have_text(prompt)
        expect(page.locator(ANSWER)).to_have_text(expected)
        expect(page.locator("#status")).to_have_attribute("data-status", "ready")
        expect(page.locator(".message")).to_have_count(2)
        expect(page.locator("#error")).to_have_count(0)

    assert [r.url for r in requests if r.method == "POST"] == [f"{proxy.url}/v1/ui/chat"]
    # useChat asks on every load: nothing to resume on the first (204), the answer after the
    # reload (200).
    resumes = [r for r in requests if r.method == "GET" and "/v1/ui/chat/" in r.url]
    assert {r.url for r in resumes} == {f"{proxy.url}/v1/ui/chat/{chat_id}/stream"}
    assert [_status(r) for r in resumes] == [204, 200]


def _status(request: Request) -> int | None:
    response = request.response()
    return None if response is None else response.status


def test_an_upstream_failure_shows_its_error(
    page: Page, site: ServerThread, gateway: Gateway
) -> None:
    _open(page, site, gateway.url, "broken")
    _ask(page, "Tell me about failures")
    expect(page.locator("#error")).to_have_attribute("data-kind", "answer")
    expect(page.locator("#error")).to_contain_text(FAKE_ERROR_MESSAGE)
    expect(page.locator("#status")).to_have_attribute("data-status", "error")


def test_a_tool_call_runs_in_the_page_and_the_answer_continues(
    page: Page, site: ServerThread, gateway: Gateway
) -> None:
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    _open(page, site, gateway.url, "demo-tools")
    _ask(page, "What is the weather in Lisbon?")

    tool = page.locator(f"{ANSWER} .tool[data-tool=get_weather]")
    expect(tool).to_have_attribute("data-state", "output-available")
    expect(tool).to_contain_text('"temperature":21')
    expect(page.locator(f"{ANSWER} .text")).to_contain_text("21")
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    expect(page.locator(".message")).to_have_count(2)  # the answer continued its message
    expect(page.locator(f"{ANSWER} .reasoning")).to_have_count(1)
    expect(page.locator("#error")).to_have_count(0)
    posts = [r for r in requests if r.method == "POST"]
    assert len(posts) == 2, "the tool's output went back once"
    sent = json.loads(posts[1].post_data or "{}")
    assert sent["messages"][-1]["parts"][2]["output"]["temperature"] == 21
