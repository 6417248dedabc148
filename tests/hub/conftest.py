"""The hub tests run on MemoryStore and RedisStore alike (``make_store``)."""

from tests.support.stores import make_store

__all__ = ["make_store"]
