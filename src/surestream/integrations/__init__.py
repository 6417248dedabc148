"""Adapters from agent frameworks' streams to surestream's typed events.

Each framework has its own module behind its own extra, and importing one never imports
another framework:

- ``surestream.integrations.adk`` (``pip install 'surestream[adk]'``): ``adk_events`` over
  Google ADK's ``Runner.run_async``, a FastAPI router with ADK's own request body, and
  ``surestream adk AGENTS_DIR``;
- ``surestream.integrations.langgraph`` (``[langgraph]``): ``langgraph_events`` over
  ``astream_events(version="v2")``, ``langgraph_messages`` over
  ``astream(stream_mode="messages")``;
- ``surestream.integrations.openai_agents`` (``[openai-agents]``): ``openai_agents_events``
  over ``Runner.run_streamed(...)``;
- ``surestream.integrations.pydantic_ai`` (``[pydantic-ai]``): ``pydantic_ai_events`` over
  ``Agent.run_stream_events(...)``.

Every adapter is an async generator with the same rules: it ends with its own
``Done(finish_reason)``; a framework exception becomes ``SourceFailed("upstream_error")``
with a safe message (details in the ``surestream.integrations`` log only; ``expose_errors=True``
puts the exception text in the message); a tool failure the framework reports as data is a
``ToolResult`` with ``error``, not the stream's error; repeated content (a final event that
repeats its streamed parts) is sent once; each model call starts with a ``Step``; closing the
adapter (a client that left, an idle timeout) closes the framework's generator, which
cancels the model call.
"""

from __future__ import annotations

__all__: list[str] = []
