"""The openai npm SDK in a page of another origin streams through the gateway (CORS with its
``x-stainless-*`` headers); from an origin the gateway does not allow, it cannot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from surestream.gateway.app import create_app
from surestream.gateway.settings import Settings
from tests.support.browser import expected_answer
from tests.support.node import bundle_for_browser
from tests.support.servers import ServerThread, free_port, serve_in_thread

OPENAI_BUNDLE = 'import OpenAI from "openai"; globalThis.OpenAI = OpenAI;'

STREAM = """async ([baseURL, prompt]) => {
  const client = new OpenAI({ baseURL, apiKey: "sk-browser", dangerouslyAllowBrowser: true,
                              maxRetries: 0 });
  try {
    const stream = await client.chat.completions.create({
      model: "demo", stream: true, messages: [{ role: "user", content: prompt }],
    });
    let text = "", finish = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    return { text, finish };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}"""


def _site(script: str) -> Starlette:
    async def index(_: object) -> HTMLResponse:
        return HTMLResponse('<!doctype html><script src="/openai.js"></script><p>app</p>')

    async def bundle(_: object) -> Response:
        return Response(script, media_type="text/javascript")

    return Starlette(routes=[Route("/", index), Route("/openai.js", bundle)])


@pytest.fixture(scope="module")
def site() -> Iterator[ServerThread]:
    """A page on its own origin (another port) that loads the openai npm SDK."""
    with serve_in_thread(_site(bundle_for_browser(OPENAI_BUNDLE))) as server:
        yield server


@contextlib.contextmanager
def _gateway_for(origin: str) -> Iterator[ServerThread]:
    settings = Settings(demo_tokens_per_second=0, cors_origins=[origin])
    with serve_in_thread(create_app(settings)) as server:
        yield server


def test_openai_npm_sdk_streams_from_an_allowed_origin(page: Page, site: ServerThread) -> None:
    prompt = "Stream across origins"
    with _gateway_for(site.url) as gateway:
        page.goto(site.url + "/")
        result = page.evaluate(STREAM, [gateway.url + "/v1", prompt])
    assert result == {"text": expected_answer(prompt), "finish": "stop"}


def test_a_disallowed_origin_is_refused_by_the_browser(page: Page, site: ServerThread) -> None:
    with _gateway_for(f"http://127.0.0.1:{free_port()}") as gateway:
        page.goto(site.url + "/")
        result = page.evaluate(STREAM, [gateway.url + "/v1", "hello"])
    assert "error" in result and "Connection error" in result["error"]
