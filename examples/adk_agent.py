"""Serve a Google ADK agent whose streams always end with ``done`` or ``error``.

``pip install 'surestream[adk]'``, set ``GOOGLE_API_KEY`` for the agent's Gemini model, then::

    .venv/bin/uvicorn examples.adk_agent:app
    curl -N 127.0.0.1:8000/run_sse -H 'Content-Type: application/json' -d '{"user_id": "u",
      "session_id": "s1", "streaming": true,
      "new_message": {"role": "user", "parts": [{"text": "Weather in Paris?"}]}}'

The body is ADK's own ``/run_sse`` body (``RunAgentRequest``). The stream is surestream's
native protocol: ``start``, ``step``, ``reasoning``, ``text``, ``tool_call``,
``tool_result``..., then exactly one ``done`` or ``error``, with ``: ping`` heartbeats and an
idle timeout that cancels the model call. ``?dialect=vercel-ai`` serves a ``useChat`` front
end, ``?dialect=openai`` the OpenAI SDKs. To serve a whole agents directory the way
``adk api_server`` does, with resumable streams: ``surestream adk path/to/agents``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from google.adk.agents import LlmAgent
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService

from surestream.integrations.adk import adk_router
from surestream.server import DetachStreams


def get_weather(city: str) -> dict[str, Any]:
    """The current weather in ``city``."""
    return {"city": city, "sky": "sunny", "celsius": 21}


agent = LlmAgent(
    name="weather",
    model="gemini-2.5-flash",
    instruction="Answer questions about the weather; use get_weather.",
    tools=[get_weather],
)
runner = Runner(
    app_name="weather",
    agent=agent,
    session_service=InMemorySessionService(),
    auto_create_session=True,  # the example needs no session call first
)

app = FastAPI(title="an ADK agent served by surestream")
app.add_middleware(DetachStreams)
app.include_router(
    adk_router(
        runner,
        heartbeat=15,  # a ": ping" after 15 s without a write keeps proxies open
        idle_timeout=120,  # error idle_timeout (and the model call cancelled) after 120 s
    )
)
