"""The fake upstream's key and waiting for it to finish a request."""

from __future__ import annotations

import anyio

from surestream.testing import ReceivedRequest

__all__ = ["API_KEY", "WAIT_LIMIT", "wait_ended"]


API_KEY = "sk-test-0123456789abcdef"

WAIT_LIMIT = 10.0


async def wait_ended(record: ReceivedRequest) -> bool:
    """Wait (in a worker thread, at most WAIT_LIMIT s) until the fake finished ``record``."""
    return await anyio.to_thread.run_sync(record.wait_ended, WAIT_LIMIT)
