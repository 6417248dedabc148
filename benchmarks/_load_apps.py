"""The two server apps of ``benchmarks/load.py``, as uvicorn factories.

- ``gateway``: the surestream gateway (``create_app``) with the stamped demo model as its
  ``demo`` upstream, on the store named by ``LOAD_STORE`` (``memory`` or a ``redis://`` URL).
  The only settings changed from the defaults are the stream-count limits, so the load is not
  refused (``max_streams``, ``max_streams_per_key``) and the log level.
- ``starlette``: what users typically run today, a FastAPI endpoint that validates the same
  request body with pydantic and streams the same demo model's events through sse-starlette's
  ``EventSourceResponse``: a dict per event, ``json.dumps`` data, an id per event, library
  defaults otherwise (15 s ping, ``\\r\\n`` line separator).

Both read the demo's pace and answer length from the environment (``LOAD_TPS``,
``LOAD_TOKENS``); a request's ``max_tokens`` shortens the answer (the warm-up uses it). The
stamped demo's words are never sent (each token's text is its stamp), so ``StampedDemo``
does not compose them: the built-in demo keeps every word of its answer for the whole stream
(about 60 bytes a word), which a real upstream (an HTTP response read as it arrives) does
not, and which would otherwise count in both apps' RSS per stream.

Run: ``uvicorn _load_apps:gateway --factory --app-dir benchmarks`` (``load.py`` does it).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from surestream.events import Done, Error, Text
from surestream.gateway.app import create_app
from surestream.gateway.settings import Settings
from surestream.upstream import ChatMessage, ChatRequest, DemoModel

STREAM_LIMIT = 1_000_000
"""``max_streams`` and ``max_streams_per_key`` of the gateway under load: no refusals."""


class StampedDemo(DemoModel):
    """The stamped demo model without the answer's words (see the module docstring)."""

    def answer(self, request: ChatRequest) -> list[str]:
        """``answer_tokens`` references to one empty word."""
        return [""] * (self.answer_tokens or 1)


def _demo() -> DemoModel:
    return StampedDemo(
        tokens_per_second=float(os.environ.get("LOAD_TPS", "30")),
        answer_tokens=int(os.environ.get("LOAD_TOKENS", "300")),
        max_tokens=None,
        stamp=True,
    )


def gateway() -> FastAPI:
    """The surestream gateway serving the stamped demo model."""
    settings = Settings(
        store=os.environ.get("LOAD_STORE", "memory"),
        max_streams=STREAM_LIMIT,
        max_streams_per_key=STREAM_LIMIT,
        log_level="warning",
    )
    return create_app(settings, upstreams={"demo": _demo()})


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatBody(BaseModel):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)


def starlette() -> FastAPI:
    """A typical FastAPI + sse-starlette streaming endpoint over the same demo model."""
    model = _demo()
    app = FastAPI()

    @app.post("/v1/chat/stream")
    async def chat_stream(body: ChatBody) -> EventSourceResponse:
        request = ChatRequest(
            model=body.model,
            messages=[ChatMessage(m.role, m.content) for m in body.messages],
            max_tokens=body.max_tokens,
        )
        stream = await model.open(request)

        async def events() -> AsyncIterator[dict[str, str]]:
            seq = 0
            data: dict[str, object]
            async with stream:
                async for event in stream:
                    seq += 1
                    if isinstance(event, Text):
                        data = {"type": "text", "text": event.text}
                    elif isinstance(event, Done):
                        data = {"type": "done", "done": True, "finish_reason": event.finish_reason}
                    elif isinstance(event, Error):
                        data = {"type": "error", "error": {"code": event.code}}
                    else:
                        continue
                    yield {"id": str(seq), "data": json.dumps(data)}

        return EventSourceResponse(events())

    return app
