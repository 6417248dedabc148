"""Journal stores: the ``Store`` contract, ``MemoryStore`` (default) and ``RedisStore``.

Strategy: this package only re-exports; ``base`` holds the contract and its exceptions,
``memory`` and ``redis`` the two implementations. ``RedisStore`` is imported lazily so that
``surestream.store`` does not import redis-py for users of ``MemoryStore``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from surestream.store.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_TOMBSTONES,
    DEFAULT_RETENTION,
    DEFAULT_TOMBSTONE_TTL,
    InvalidResumePoint,
    JournalClosed,
    JournalFull,
    LeaseState,
    Store,
    StoreUnavailable,
    StreamExists,
    StreamExpired,
    StreamInfo,
    StreamNotFound,
    TooManySubscribers,
    parse_last_event_id,
)
from surestream.store.memory import MemoryStore

if TYPE_CHECKING:
    from surestream.store.redis import RedisStore

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_MAX_TOMBSTONES",
    "DEFAULT_RETENTION",
    "DEFAULT_TOMBSTONE_TTL",
    "InvalidResumePoint",
    "JournalClosed",
    "JournalFull",
    "LeaseState",
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreUnavailable",
    "StreamExists",
    "StreamExpired",
    "StreamInfo",
    "StreamNotFound",
    "TooManySubscribers",
    "parse_last_event_id",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from surestream.store.redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
