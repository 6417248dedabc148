"""Serve an OpenAI Agents SDK agent whose streams always end with ``done`` or ``error``.

``pip install 'surestream[openai-agents]'``, set ``OPENAI_API_KEY``, then::

    .venv/bin/uvicorn examples.openai_agents_app:app
    curl -N 127.0.0.1:8000/chat -H 'Content-Type: application/json' \\
      -d '{"question": "Weather in Paris?"}'

Each model call is a ``step``; ``reasoning``, ``text`` and ``tool_call_*`` events follow as
the model streams, ``tool_result`` for each tool, and exactly one ``done`` or ``error`` at the
end, with heartbeats and an idle timeout. A client that leaves cancels the run
(``RunResultStreaming.cancel()``). ``?dialect=vercel-ai`` serves a ``useChat`` front end.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from agents import Agent, Runner, function_tool
from fastapi import FastAPI, Query
from pydantic import BaseModel

from surestream.integrations.openai_agents import openai_agents_events
from surestream.server import DetachStreams, EventStreamResponse


@function_tool
def get_weather(city: str) -> dict[str, Any]:
    """The current weather in ``city``."""
    return {"city": city, "sky": "sunny", "celsius": 21}


agent = Agent(
    name="weather",
    instructions="Answer questions about the weather; use get_weather.",
    tools=[get_weather],
    model="gpt-4.1-mini",
)


class Question(BaseModel):
    """The request body."""

    question: str


app = FastAPI(title="an OpenAI Agents SDK agent served by surestream")
app.add_middleware(DetachStreams)


@app.post("/chat", response_class=EventStreamResponse)
async def chat(
    body: Question,
    dialect: Annotated[Literal["native", "openai", "vercel-ai"], Query()] = "native",
) -> EventStreamResponse:
    """Run the agent on the question and stream the run."""
    result = Runner.run_streamed(agent, input=body.question)
    return EventStreamResponse(openai_agents_events(result), dialect=dialect, idle_timeout=120)
