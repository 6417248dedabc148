"""Make a real redis-server refuse writes the ways production Redis does, and undo it.

``oom``: ``maxmemory`` 1 byte under ``noeviction``, so every write answers ``-OOM``;
``readonly``: ``REPLICAOF`` a master that is not there, as after a failover that demoted
this node: it keeps its data and serves reads, and every write answers ``-READONLY``.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from tests.support.servers import free_port

REFUSALS = ("oom", "readonly")


async def refuse_writes(url: str, how: str) -> None:
    """Make the redis-server at ``url`` refuse writes (``how``: one of ``REFUSALS``)."""
    admin = aioredis.Redis.from_url(url)
    try:
        if how == "oom":
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", 1)
        else:
            await admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
    finally:
        await admin.aclose()


async def accept_writes(url: str, how: str) -> None:
    """Undo ``refuse_writes``."""
    admin = aioredis.Redis.from_url(url)
    try:
        if how == "oom":
            await admin.config_set("maxmemory", 0)
        else:
            await admin.execute_command("REPLICAOF", "NO", "ONE")
    finally:
        await admin.aclose()
