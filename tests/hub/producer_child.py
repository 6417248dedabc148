"""A producer in its own process for the producer-lost test: ``producer_child.py URL PREFIX``.

Starts one endless stream on the shared Redis with a short lease, prints its id and keeps
producing until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

from surestream.hub import Hub
from surestream.store.redis import RedisStore


async def ticks() -> AsyncIterator[str]:
    index = 0
    while True:
        yield f"tick{index} "
        index += 1
        await asyncio.sleep(0.02)


async def main(url: str, prefix: str) -> None:
    store = RedisStore(url, prefix=prefix)
    hub = Hub(store, lease_ttl=0.6, orphan_grace=60)
    stream_id = await hub.start(ticks(), model="child")
    print(stream_id, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
