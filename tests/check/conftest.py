"""The gallery of real servers, started once for all ``tests/check`` tests.

The gallery runs in its own uvicorn process, so the server's timers and the recorder's clock
do not share one interpreter (and its GIL) with each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import uvicorn_process


@pytest.fixture(scope="session")
def gallery() -> Iterator[str]:
    """The base URL of the gallery app (``tests.check.gallery``) under real uvicorn."""
    with uvicorn_process(
        "tests.check.gallery:create_gallery", args=["--factory", "--no-access-log"]
    ) as server:
        yield server.url
