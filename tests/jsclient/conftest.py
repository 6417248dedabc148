"""The surestream npm package (``src/surestream/gateway/static``) in Node, against real servers.

``tests/js`` links the package as a dependency (``"surestream": "file:..."``), so a Node
script there imports it by name, through its ``exports``, as an application would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surestream.gateway.app import create_app
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import Settings
from tests.support.browser import AGENT_EVENTS, Gateway
from tests.support.scripted import ScriptedModel
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """The gateway with ``demo`` (unpaced) and ``agent`` (``AGENT_EVENTS``, unpaced)."""
    settings = Settings(demo_tokens_per_second=0, models={"agent": "agent"})
    upstreams = {**build_upstreams(settings), "agent": ScriptedModel(AGENT_EVENTS, name="agent")}
    with serve_in_thread(create_app(settings, upstreams=upstreams)) as server:
        yield Gateway(server.url, server.port)
