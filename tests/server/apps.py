"""An app for the server tests that need uvicorn in its own process (signals, shutdown).

``GET /silent`` waits for a first token that never comes, ``/midstream`` says two words and then
waits, ``/busy`` says a word every 50 ms. Each source prints ``source closed: <name>`` from its
``finally``, so the test can see in the server's output that it was cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from surestream.server import EventStreamResponse


async def _source(name: str) -> AsyncIterator[str]:
    try:
        if name == "midstream":
            yield "one"
            yield "two"
        while name == "busy":
            yield "word"
            await asyncio.sleep(0.05)
        await asyncio.Event().wait()
    finally:
        print(f"source closed: {name}", flush=True)


async def stream(request: Request) -> EventStreamResponse:
    return EventStreamResponse(_source(request.path_params["name"]), heartbeat=1.0)


app = Starlette(routes=[Route("/{name}", stream)])
