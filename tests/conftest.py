"""Shared fixtures: the anyio backend, a session redis-server on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import ServerProcess, redis_process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerProcess]:
    """A real redis-server for the whole session; ``.url`` is its redis:// URL."""
    with redis_process() as server:
        yield server
