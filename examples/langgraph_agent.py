"""Serve a LangGraph / LangChain agent whose streams always end with ``done`` or ``error``.

``pip install 'surestream[langgraph]' langchain langchain-openai``, set ``OPENAI_API_KEY``::

    .venv/bin/uvicorn examples.langgraph_agent:app
    curl -N 127.0.0.1:8000/chat -H 'Content-Type: application/json' \\
      -d '{"question": "Weather in Paris?"}'

Each model call is a ``step``, then ``reasoning`` / ``text`` / ``tool_call_*`` events as the
model streams, ``tool_result`` for each tool, and exactly one ``done`` or ``error`` at the
end, with heartbeats and an idle timeout that cancels the model call. ``?dialect=vercel-ai``
serves a ``useChat`` front end. ``langgraph_messages`` does the same over
``astream(stream_mode="messages")``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from surestream.integrations.langgraph import langgraph_events
from surestream.server import DetachStreams, EventStreamResponse

MODEL: str | BaseChatModel = "openai:gpt-4.1-mini"
"""Any ``init_chat_model`` id, or a chat model."""


def get_weather(city: str) -> dict[str, Any]:
    """The current weather in ``city``."""
    return {"city": city, "sky": "sunny", "celsius": 21}


class Question(BaseModel):
    """The request body."""

    question: str


app = FastAPI(title="a LangGraph agent served by surestream")
app.add_middleware(DetachStreams)


@app.post("/chat", response_class=EventStreamResponse)
async def chat(
    body: Question,
    dialect: Annotated[Literal["native", "openai", "vercel-ai"], Query()] = "native",
) -> EventStreamResponse:
    """Run the agent on the question and stream the run."""
    agent = create_agent(MODEL, tools=[get_weather])
    run = agent.astream_events(
        {"messages": [{"role": "user", "content": body.question}]}, version="v2"
    )
    return EventStreamResponse(langgraph_events(run), dialect=dialect, idle_timeout=120)
