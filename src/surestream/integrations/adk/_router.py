"""``adk_router``: ADK's ``/run_sse`` request body, answered by a stream that ends with a verdict.

Strategy: the route does what ADK's own ``run_agent_sse`` does before the response starts
(pick the app and its runner, build the ``RunConfig``, check that the session exists), so a
bad request is an HTTP error and never a broken stream, then streams ``adk_events`` over
``runner.run_async(...)`` through ``EventStreamResponse`` in the dialect ``?dialect=``
names. Without a hub the run belongs to the connection: a client that leaves, or a run
silent for ``idle_timeout``, closes it. With a ``Hub`` the run is a journaled stream: it is
generated apart from the connection (under ``idle_timeout`` too), the response names it in
``Location``, and ``GET /streams/{id}/events`` with ``Last-Event-ID`` resumes it, in any
dialect; a run nobody reads for the hub's ``orphan_grace`` is cancelled.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import Response
from google.adk.agents._streaming_mode import StreamingMode
from google.adk.agents.run_config import RunConfig
from google.adk.cli.api_server import RunAgentRequest
from google.adk.runners import Runner
from google.adk.sessions.base_session_service import GetSessionConfig
from pydantic import ValidationError

from surestream._watchdog import idle_limited
from surestream.events import Event
from surestream.hub import Hub, HubClosed
from surestream.integrations.adk._events import adk_events
from surestream.server import (
    DEFAULT_HEARTBEAT,
    DEFAULT_IDLE_TIMEOUT,
    RETRY_AFTER,
    EventStreamResponse,
)
from surestream.store import (
    InvalidResumePoint,
    StoreUnavailable,
    StreamExpired,
    StreamNotFound,
    TooManySubscribers,
    parse_last_event_id,
)

__all__ = ["RunnerFor", "adk_router"]

RunnerFor = Callable[[str], Runner | Awaitable[Runner]]
"""App name -> its ``Runner`` (sync or async), e.g. ADK's ``ApiServer.get_runner_async``."""

DialectName = Literal["native", "openai", "vercel-ai"]
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "the run as Server-Sent Events"}
}


def adk_router(
    runner: Runner | RunnerFor,
    *,
    prefix: str = "",
    default_app_name: str | None = None,
    hub: Hub | None = None,
    expose_errors: bool = False,
    heartbeat: float | None = DEFAULT_HEARTBEAT,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    max_llm_calls: int | None = None,
) -> APIRouter:
    """A router with ``POST /run_sse`` (ADK's ``RunAgentRequest`` body) streaming the run.

    ``runner`` is one ``Runner`` (``app_name`` must then be its app or left out) or a
    function from app name to runner. ``?dialect=native|openai|vercel-ai`` picks the wire
    (``vercel-ai`` for a ``useChat`` front end). Every stream ends with exactly one ``done``
    or ``error`` (see ``adk_events``), with heartbeats every ``heartbeat`` seconds and
    ``error idle_timeout`` after ``idle_timeout`` seconds without an event, which also
    cancels the run. With ``hub`` the runs are journaled and resumable: the router adds
    ``GET /streams/{stream_id}/events`` (``Last-Event-ID`` resumes) and
    ``DELETE /streams/{stream_id}`` (under ``prefix``, which ``Location`` names too); close
    the hub yourself at shutdown. The request is checked before the response starts: 400
    without an app name, 404 for an unknown app or session, 422 for a bad body or run
    config; a journal store that fails is 503 and a reader past the hub's
    ``max_subscribers`` 429, both with ``Retry-After``. ``max_llm_calls`` goes to the
    ``RunConfig``.
    """
    router = APIRouter(prefix=prefix)
    runner_for = _runner_for(runner)
    fixed_app = runner.app_name if isinstance(runner, Runner) else default_app_name

    async def open_run(req: RunAgentRequest) -> tuple[str, AsyncGenerator[Event, None]]:
        app_name = req.app_name or fixed_app
        if not app_name:
            raise HTTPException(400, "app_name is required (no default app)")
        if isinstance(runner, Runner) and app_name != runner.app_name:
            raise HTTPException(404, f"unknown app {app_name!r}")
        run = await runner_for(app_name)
        options: dict[str, Any] = {
            "streaming_mode": StreamingMode.SSE if req.streaming else StreamingMode.NONE,
            "custom_metadata": req.custom_metadata,
            "service_tier": req.service_tier,
        }
        if max_llm_calls is not None:
            options["max_llm_calls"] = max_llm_calls
        try:
            run_config = RunConfig(**options)
        except ValidationError as exc:
            raise HTTPException(422, str(exc)) from None
        if not run.auto_create_session:
            session = await run.session_service.get_session(
                app_name=app_name,
                user_id=req.user_id,
                session_id=req.session_id,
                config=GetSessionConfig(num_recent_events=0),
            )
            if session is None:
                raise HTTPException(404, f"Session not found: {req.session_id}")
        events = run.run_async(
            user_id=req.user_id,
            session_id=req.session_id,
            invocation_id=req.invocation_id,
            new_message=req.new_message,
            state_delta=req.state_delta,
            run_config=run_config,
        )
        return app_name, adk_events(events, expose_errors=expose_errors)

    @router.post("/run_sse", response_class=Response, responses=_SSE, tags=["adk"])
    async def run_sse(
        req: RunAgentRequest,
        dialect: Annotated[DialectName, Query(description="wire dialect")] = "native",
    ) -> Response:
        """Run the agent and stream its events; the stream always ends with a verdict."""
        app_name, source = await open_run(req)
        if hub is None:
            return EventStreamResponse(
                source,
                dialect=dialect,
                heartbeat=heartbeat,
                idle_timeout=idle_timeout,
                model=app_name,
            )
        try:
            stream_id = await hub.start(
                idle_limited(source, idle_timeout, "the agent"), owner=None, model=app_name
            )
        except StoreUnavailable:
            raise _retry_later("the journal store is unavailable") from None
        except HubClosed:
            raise _retry_later("the server is shutting down") from None
        location = f"{prefix}/streams/{stream_id}/events"
        headers = {"Location": location, "Surestream-Stream-Id": stream_id}
        return await _subscribe(hub, stream_id, app_name, None, dialect, heartbeat, headers)

    if hub is None:
        return router

    @router.get("/streams/{stream_id}/events", response_class=Response, responses=_SSE)
    async def stream_events(
        stream_id: str,
        dialect: Annotated[DialectName, Query(description="wire dialect")] = "native",
        last_event_id: Annotated[str, Query(max_length=40)] = "",
        last_event_id_header: Annotated[str, Header(alias="Last-Event-ID", max_length=40)] = "",
    ) -> Response:
        """A run's stream from its start, or after ``Last-Event-ID`` (header or query)."""
        try:
            after = parse_last_event_id(last_event_id_header, last_event_id)
            info = await hub.info(stream_id)
        except InvalidResumePoint as exc:
            raise HTTPException(400, str(exc)) from None
        except StreamNotFound:
            raise HTTPException(404, f"no stream {stream_id!r}") from None
        except StreamExpired:
            raise HTTPException(410, f"stream {stream_id!r} has expired") from None
        if info.terminal and after is not None and after == info.length - 1:
            return Response(status_code=204)
        return await _subscribe(hub, stream_id, info.model, after, dialect, heartbeat, None)

    @router.delete("/streams/{stream_id}")
    async def cancel_stream(stream_id: str) -> dict[str, Any]:
        """Cancel a run: its readers get ``done`` with ``finish_reason: "cancelled"``."""
        try:
            cancelled = await hub.cancel(stream_id)
        except StreamNotFound:
            raise HTTPException(404, f"no stream {stream_id!r}") from None
        except StreamExpired:
            raise HTTPException(410, f"stream {stream_id!r} has expired") from None
        return {"id": stream_id, "cancelled": cancelled}

    return router


def _retry_later(message: str, *, status: int = 503) -> HTTPException:
    return HTTPException(status, message, headers={"Retry-After": str(RETRY_AFTER)})


def _runner_for(runner: Runner | RunnerFor) -> Callable[[str], Awaitable[Runner]]:
    async def get(app_name: str) -> Runner:
        if isinstance(runner, Runner):
            return runner
        found = runner(app_name)
        return await found if inspect.isawaitable(found) else found

    return get


async def _subscribe(
    hub: Hub,
    stream_id: str,
    model: str | None,
    after: int | None,
    dialect: str,
    heartbeat: float | None,
    headers: dict[str, str] | None,
) -> EventStreamResponse:
    try:
        subscription, history = await hub.subscribe_in(dialect, stream_id, after)
    except StreamNotFound:
        raise HTTPException(404, f"no stream {stream_id!r}") from None
    except StreamExpired:
        raise HTTPException(410, f"stream {stream_id!r} has expired") from None
    except InvalidResumePoint as exc:
        raise HTTPException(400, str(exc)) from None
    except TooManySubscribers:
        raise _retry_later("the stream has its most readers already", status=429) from None
    except StoreUnavailable:
        raise _retry_later("the journal store is unavailable") from None
    return EventStreamResponse(
        subscription,
        dialect=dialect,
        headers=headers,
        heartbeat=heartbeat,
        idle_timeout=None,
        stream_id=stream_id,
        model=model,
        journal=True,
        first_seq=0 if after is None else after + 1,
        history=history,
    )
