"""A FastAPI route streaming an answer from an async generator with ``EventStreamResponse``.

Needs ``pip install 'surestream[server]' fastapi uvicorn``. Run it and watch the stream
(every stream ends with ``done`` or ``error``)::

    .venv/bin/uvicorn examples.fastapi_app:app
    curl -N 'http://127.0.0.1:8000/chat?q=hello'
    curl -N 'http://127.0.0.1:8000/chat?q=hello&fail=1'

In a browser, ``new EventSource("/chat?q=hello").onmessage = (e) => ...`` gets every event;
``JSON.parse(e.data).type`` is ``start``, ``status``, ``text``, then ``done`` or ``error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import FastAPI

from surestream.errors import SourceFailed
from surestream.events import Done, Event, Status
from surestream.server import DetachStreams, EventStreamResponse

app = FastAPI(title="surestream example")
# Streams run after FastAPI's routing and the endpoint have returned: less memory per open
# stream. Added first, so any middleware added later still sees the whole stream.
app.add_middleware(DetachStreams)


async def answer(question: str, *, fail: bool) -> AsyncIterator[Event | str]:
    """The event source: a status note, then the answer word by word (a ``str`` is text)."""
    yield Status("thinking")
    words = f"You asked: {question}".split(" ")
    try:
        for i, word in enumerate(words):
            await asyncio.sleep(0.05)  # stands in for waiting on the model's next token
            if fail and i == 2:
                raise SourceFailed("upstream_error", "the model provider failed")
            yield word if i == 0 else " " + word
        yield Done("stop", {"prompt_tokens": 1, "completion_tokens": len(words)})
    finally:
        pass  # close the upstream HTTP response here: this runs when the client goes away too


@app.get("/chat", response_class=EventStreamResponse)
async def chat(q: str = "hello", fail: bool = False) -> EventStreamResponse:
    """Stream the answer to ``q`` as native SSE; ``fail=1`` shows an ``error`` verdict."""
    return EventStreamResponse(
        answer(q, fail=fail),
        model="echo",
        heartbeat=15,  # a ": ping" comment after 15 s without a write
        idle_timeout=60,  # error idle_timeout after 60 s without a token
        first_event_timeout=120,  # a slow first token may take longer
    )
