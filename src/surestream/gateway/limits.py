"""How many streams generate at once: ``StreamSlots``, the accounting behind 429.

Strategy: one counter for the process and one per owner (API key). An open gateway (no API
keys) has one owner for every caller, ``ANONYMOUS``, which no per-key cap applies to: the
callers are not one client, and ``max_streams`` alone holds. ``reserve`` takes a slot
or refuses with ``429 rate_limited`` and ``Retry-After``, naming the setting that refused;
``release`` gives it back. The caller releases exactly once per reservation, in a
``finally`` (the gateway's producer does), so the counts and the ``active_streams`` gauge
never drift.
"""

from __future__ import annotations

from prometheus_client import Gauge

from surestream.gateway.auth import ANONYMOUS
from surestream.gateway.errors import retry_later

__all__ = ["StreamSlots"]


class StreamSlots:
    """Concurrent generating streams: at most ``max_streams``, ``max_streams_per_key`` per API
    key (none for ``ANONYMOUS``, the owner when no keys are configured)."""

    def __init__(self, max_streams: int, max_streams_per_key: int, gauge: Gauge) -> None:
        self.max_streams = max_streams
        self.max_streams_per_key = max_streams_per_key
        self._gauge = gauge
        self._per_owner: dict[str, int] = {}
        self._active = 0

    @property
    def active(self) -> int:
        """Streams generating now."""
        return self._active

    def held_by(self, owner: str) -> int:
        """Streams ``owner`` has generating now."""
        return self._per_owner.get(owner, 0)

    def reserve(self, owner: str) -> None:
        """Take a slot for ``owner``; ``ApiError`` 429 when a limit is reached."""
        if self._active >= self.max_streams:
            raise retry_later(
                429,
                "rate_limited",
                f"the gateway is at max_streams ({self.max_streams}); retry later",
            )
        if owner != ANONYMOUS and self.held_by(owner) >= self.max_streams_per_key:
            raise retry_later(
                429,
                "rate_limited",
                f"this key has max_streams_per_key ({self.max_streams_per_key}) "
                "streams running; retry later",
            )
        self._active += 1
        self._per_owner[owner] = self.held_by(owner) + 1
        self._gauge.inc()

    def release(self, owner: str) -> None:
        """Give back a slot ``reserve`` took for ``owner``."""
        self._active -= 1
        left = self._per_owner.get(owner, 1) - 1
        if left:
            self._per_owner[owner] = left
        else:
            self._per_owner.pop(owner, None)
        self._gauge.dec()
