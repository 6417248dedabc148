"""Shared fixtures: the anyio backend, a session redis-server on a free port; hypothesis
without deadlines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support.servers import ServerProcess, redis_process

# Two shared, noisy cores: a property test asserts properties, never how fast an example ran.
settings.register_profile("surestream", deadline=None)
settings.load_profile("surestream")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerProcess]:
    """A real redis-server for the whole session; ``.url`` is its redis:// URL."""
    with redis_process() as server:
        yield server
