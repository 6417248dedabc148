"""Shared fixtures: the anyio backend, a session redis-server on a free port, the check
gallery's uvicorn; hypothesis without deadlines (and with fewer examples in ``make
test-fast``); the ``multiprocess`` and ``slow`` markers (``tests/support/markers.py``); one
default TLS context for every httpx client (``tests/support/tls.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.markers import (
    FAST_EXAMPLES,
    FULL_EXAMPLES,
    fast_run,
    mark,
    refuse_processes,
    skip_in_fast_run,
)
from tests.support.servers import ServerProcess, redis_process, uvicorn_process
from tests.support.telemetry import newly_installed
from tests.support.tls import share_default_ssl_context

# Two shared, noisy cores: a property test asserts properties, never how fast an example ran.
settings.register_profile("surestream", deadline=None, max_examples=FULL_EXAMPLES)
settings.register_profile("fast", deadline=None, max_examples=FAST_EXAMPLES)
settings.load_profile("surestream")


def pytest_configure(config: pytest.Config) -> None:
    share_default_ssl_context()
    if fast_run(config):
        settings.load_profile("fast")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_process_wide_telemetry() -> Iterator[None]:
    """Fail the test that installs a process-wide OpenTelemetry provider (it would turn on
    FastAPI's telemetry for every later app: ``tests/support/telemetry.py``)."""
    yield
    installed = newly_installed()
    assert not installed, f"this test or its fixture installed OpenTelemetry {installed} providers"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerProcess]:
    """A real redis-server for the whole session; ``.url`` is its redis:// URL."""
    with redis_process() as server:
        yield server


@pytest.fixture(scope="session")
def gallery() -> Iterator[str]:
    """The base URL of the check gallery (``tests.check.gallery``) under real uvicorn, once for
    the ``check`` tests and ``surestream check``'s; in its own process, so the server's timers
    and the recorder's clock do not share one interpreter (and its GIL)."""
    with uvicorn_process(
        "tests.check.gallery:create_gallery", args=["--factory", "--no-access-log"]
    ) as server:
        yield server.url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark(items)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if fast_run(config) and skip_in_fast_run(str(collection_path)):
        return True
    return None


@pytest.fixture(autouse=True, scope="session")
def _no_processes_in_a_fast_run(request: pytest.FixtureRequest) -> Iterator[None]:
    if not fast_run(request.config):
        yield
        return
    with refuse_processes():
        yield
