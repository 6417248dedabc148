"""Issue 4 "Must show": 200 streams, each subscriber cut 1-5 times at random points and
resumed from its last seq, on both stores; every stream's received text equals its text.

The seed is random per run and printed on failure; set ``SURESTREAM_SEED`` to replay one.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest

from surestream.events import Text, is_terminal
from surestream.hub import Hub
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.anyio

STREAMS = 200
CONCURRENCY = 50
WORDS = ["alpha ", "beta ", "γάμμα ", "δ\n", "emoji 🎉 ", "", "x", " ", "end. "]


async def source(pieces: list[str], rng: random.Random) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece
        if rng.random() < 0.3:
            await asyncio.sleep(0)


async def read_with_cuts(hub: Hub, stream_id: str, cuts: set[int]) -> tuple[str, int]:
    """Read the stream, closing and resuming after each count in ``cuts``."""
    text: list[str] = []
    after: int | None = None
    received = 0
    resumes = 0
    while True:
        async with await hub.subscribe(stream_id, after) as sub:
            async for seq, event in sub:
                assert seq == (-1 if after is None else after) + 1, "gap or duplicate"
                after = seq
                received += 1
                if isinstance(event, Text):
                    text.append(event.text)
                if is_terminal(event):
                    return "".join(text), resumes
                if received in cuts:
                    break
        resumes += 1


async def test_randomly_cut_subscribers_get_exactly_the_produced_text(
    make_store: StoreFactory,
) -> None:
    seed = int(os.environ.get("SURESTREAM_SEED", random.randrange(2**32)))
    limit = asyncio.Semaphore(CONCURRENCY)
    total_resumes = 0

    async def one(hub: Hub, index: int) -> None:
        nonlocal total_resumes
        rng = random.Random(seed * 1_000 + index)
        pieces = [rng.choice(WORDS) for _ in range(rng.randint(4, 60))]
        events = len(pieces) + 2
        cuts = set(rng.sample(range(1, events), rng.randint(1, 5)))
        async with limit:
            stream_id = await hub.start(source(pieces, rng), model="demo")
            got, resumes = await read_with_cuts(hub, stream_id, cuts)
        assert got == "".join(pieces), f"seed={seed} stream #{index}"
        assert resumes == len(cuts), f"seed={seed} stream #{index}"
        total_resumes += resumes

    async with Hub(make_store()) as hub:
        await asyncio.gather(*(one(hub, i) for i in range(STREAMS)))
    assert STREAMS <= total_resumes <= 5 * STREAMS
