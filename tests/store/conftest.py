"""The store tests run every behaviour against each store kind (``make_store``)."""

from tests.support.stores import make_store

__all__ = ["make_store"]
