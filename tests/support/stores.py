"""Stores for tests: ``make_store``, one factory per store kind, so every behaviour test runs
against both (``tests/store`` and ``tests/hub`` use it as a fixture).

The Redis variant uses the session's real redis-server with a fresh key prefix per store,
and short block / lease-check intervals so that liveness checks happen quickly.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from surestream.store import MemoryStore, Store
from surestream.store.redis import RedisStore

__all__ = ["StoreFactory", "make_store"]

StoreFactory = Callable[..., Store]
"""``make_store(**options) -> Store``."""


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """A factory ``make_store(**options) -> Store`` of the parametrized kind."""
    made: list[Store] = []
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else ""

    def factory(**options: Any) -> Store:
        store: Store
        if request.param == "memory":
            options.setdefault("lease_check", 0.05)
            store = MemoryStore(**options)
        else:
            options.setdefault("read_block", 0.05)
            options.setdefault("prefix", f"t{uuid.uuid4().hex[:12]}:")
            store = RedisStore(url, **options)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.aclose()
