"""``stream()`` in Chromium against misbehaving servers of another origin: the browser's own
fetch rules (opaque redirects, CORS) still end every stream with a verdict, and the caller's
credentials never reach another origin."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tests.browser.test_surestream_js import STREAM
from tests.jsclient.test_hostile_servers import (
    CREDENTIALS,
    DONE,
    FAST,
    REPLAYED,
    START,
    leaked,
    text,
    two_origins,
)
from tests.support.browser import Gateway
from tests.support.hostile import event, hostile_server, sse


def run(page: Page, gateway: Gateway, url: str, **options: Any) -> dict[str, Any]:
    page.goto(gateway.url + "/")
    result: dict[str, Any] = page.evaluate(STREAM, [url, {**FAST, **options}])
    return result


@pytest.mark.parametrize("how", ["location", "redirect"])
def test_credentials_never_go_to_another_origin(page: Page, gateway: Gateway, how: str) -> None:
    with two_origins(how) as (server, other):
        body = {"model": "demo"}
        result = run(
            page, gateway, server.url + "/v1/chat/stream", method="POST", body=body,
            headers=CREDENTIALS,
        )  # fmt: skip
    assert result["ok"]["text"] == "Hello", result
    assert leaked(server.requests[0].headers) == {"authorization", "x-api-key"}
    if how == "redirect":
        # A browser hides where a redirect leads (an opaque redirect): the resume is made
        # again without the caller's headers, and that one is followed.
        assert [leaked(r.headers) for r in server.requests[1:]] == [
            {"authorization", "x-api-key"},
            set(),
        ]
    else:
        assert len(server.requests) == 1
    assert [leaked(r.headers) for r in other.requests] == [set()]
    assert other.requests[0].last_event_id == "1"


def test_a_redirect_loop_while_resuming_ends_interrupted(page: Page, gateway: Gateway) -> None:
    def answer(request: Request, n: int) -> Response:
        if n == 0:
            return sse(event(START, "0"), event(text("Hel"), "1"))
        return RedirectResponse(f"/events?hop={n}", status_code=302)

    with hostile_server(answer) as server:
        result = run(page, gateway, server.url + "/events", maxRetries=2)
    assert result["name"] == "StreamInterrupted", result
    assert "gave up after 2 attempts in a row" in result["reason"]
    assert result["text"] == "Hel"
    assert len(server.requests) < 1 + 2 * 25, "each attempt ends at the browser's redirect limit"


def test_a_server_that_replays_from_the_start_delivers_each_event_once(
    page: Page, gateway: Gateway
) -> None:
    def answer(request: Request, n: int) -> Response:
        if n < 2:
            return sse("retry: 0\n\n", *REPLAYED)
        return sse(*REPLAYED, event(text("!"), "d"), event(DONE, "e"))

    with hostile_server(answer) as server:
        result = run(page, gateway, server.url + "/events")
    assert result["ok"]["text"] == "Hello!", result
    texts = [e["text"] for e, _ in result["seen"] if e["type"] == "text"]
    assert texts == ["Hel", "lo", "!"]
    assert [r.last_event_id for r in server.requests] == [None, "c", "c"]
