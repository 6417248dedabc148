"""Serve a pydantic-ai agent whose streams always end with ``done`` or ``error``.

``pip install 'surestream[pydantic-ai]' 'pydantic-ai-slim[openai]'``, set ``OPENAI_API_KEY``::

    .venv/bin/uvicorn examples.pydantic_ai_app:app
    curl -N 127.0.0.1:8000/chat -H 'Content-Type: application/json' \\
      -d '{"question": "Weather in Paris?"}'

Each model call is a ``step``; ``reasoning``, ``text`` and ``tool_call_*`` events follow as
the model streams, ``tool_result`` for each tool (a ``ModelRetry``: its ``error``), and exactly
one ``done`` or ``error`` at the end, with heartbeats and an idle timeout that cancels the
run. ``?dialect=vercel-ai`` serves a ``useChat`` front end.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel
from pydantic_ai import Agent

from surestream.integrations.pydantic_ai import pydantic_ai_events
from surestream.server import DetachStreams, EventStreamResponse


def get_weather(city: str) -> dict[str, Any]:
    """The current weather in ``city``."""
    return {"city": city, "sky": "sunny", "celsius": 21}


agent = Agent(
    "openai:gpt-4.1-mini",
    name="weather",
    instructions="Answer questions about the weather; use get_weather.",
    tools=[get_weather],
    defer_model_check=True,  # the model is built on the first run, not at import
)


class Question(BaseModel):
    """The request body."""

    question: str


app = FastAPI(title="a pydantic-ai agent served by surestream")
app.add_middleware(DetachStreams)


@app.post("/chat", response_class=EventStreamResponse)
async def chat(
    body: Question,
    dialect: Annotated[Literal["native", "openai", "vercel-ai"], Query()] = "native",
) -> EventStreamResponse:
    """Run the agent on the question and stream the run."""
    run = pydantic_ai_events(agent.run_stream_events(body.question), name=agent.name)
    return EventStreamResponse(run, dialect=dialect, idle_timeout=120)
