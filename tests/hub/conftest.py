"""The hub tests reuse the store factory, so each runs on MemoryStore and RedisStore."""

from tests.store.conftest import make_store

__all__ = ["make_store"]
