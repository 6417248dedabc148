"""Browser tests: Debian's Chromium driven by Playwright against the real gateway under uvicorn.

One browser per module (launching costs about half a second), one fresh context (cookies,
sessionStorage) per test. ``make test`` installs ``/usr/bin/chromium`` when it is missing;
no browser is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    Gateway,
    ThreadedProxy,
    serve_gateway,
)

expect.set_options(timeout=WAIT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: run `make test` (it installs chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """``serve_gateway()``, once per module."""
    with serve_gateway() as gateway:
        yield gateway


@pytest.fixture
def proxy(gateway: Gateway) -> Iterator[ThreadedProxy]:
    with ThreadedProxy(gateway.port) as proxy:
        yield proxy
