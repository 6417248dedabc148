"""The gateway tests' fixtures: a package-wide ``FakeUpstream`` on its own uvicorn, reset for
every test (helpers: ``tests/support/gateways.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.servers import RunningFake, serve_in_thread

from surestream.testing import FakeUpstream


@pytest.fixture(scope="package")
def running_fake() -> Iterator[RunningFake]:
    fake = FakeUpstream(models=["fake-model"])
    with serve_in_thread(fake.app, timeout_graceful_shutdown=1) as server:
        yield RunningFake(fake, server.url)


@pytest.fixture
def fake(running_fake: RunningFake) -> Iterator[RunningFake]:
    running_fake.fake.reset()
    yield running_fake
    running_fake.fake.reset()
