"""``create_app``: an ADK agents directory served like ``adk api_server``, plus streams that
end with a verdict, are journaled and resume (``surestream adk AGENTS_DIR`` runs it).

Strategy: ``create_app`` builds ADK's own ``ApiServer`` from the same services
``adk api_server`` builds (``google.adk.cli.fast_api.get_fast_api_app`` with ``web=False``:
agent loader, session, artifact, memory and credential services), so every ADK route --
sessions, ``/list-apps``, ``/run``, ADK's own ``/run_sse`` for adk-web -- works unchanged.
Beside them ``adk_router`` with a ``Hub`` serves ``POST /surestream/run_sse`` (the same
request body) and its resume and cancel routes, using the server's own runners. The hub and
its store live as long as the app (closed in its lifespan: open runs end with
``server_shutdown``).
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from google.adk.auth.credential_service.in_memory_credential_service import (
    InMemoryCredentialService,
)
from google.adk.cli.api_server import ApiServer
from google.adk.cli.service_registry import load_services_module
from google.adk.cli.utils.agent_loader import AgentLoader, is_single_agent_directory
from google.adk.cli.utils.service_factory import (
    create_artifact_service_from_options,
    create_memory_service_from_options,
    create_session_service_from_options,
)
from google.adk.evaluation.local_eval_set_results_manager import LocalEvalSetResultsManager
from google.adk.evaluation.local_eval_sets_manager import LocalEvalSetsManager

from surestream.hub import DEFAULT_ORPHAN_GRACE, Hub
from surestream.integrations.adk._router import adk_router
from surestream.server import DEFAULT_HEARTBEAT, DEFAULT_IDLE_TIMEOUT
from surestream.store import MemoryStore, Store

__all__ = ["ROUTE_PREFIX", "create_app"]

ROUTE_PREFIX = "/surestream"
"""Where ``create_app`` mounts surestream's routes beside ADK's own."""


def create_app(
    agents_dir: str | Path,
    *,
    session_service_uri: str | None = None,
    artifact_service_uri: str | None = None,
    memory_service_uri: str | None = None,
    use_local_storage: bool = True,
    allow_origins: list[str] | None = None,
    bind_host: str | None = None,
    auto_create_session: bool = False,
    store: Store | None = None,
    orphan_grace: float = DEFAULT_ORPHAN_GRACE,
    heartbeat: float | None = DEFAULT_HEARTBEAT,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    expose_errors: bool = False,
    max_llm_calls: int | None = None,
) -> FastAPI:
    """ADK's API server for ``agents_dir`` plus surestream's routes under ``/surestream``.

    - ``POST /surestream/run_sse?dialect=native|openai|vercel-ai``: ADK's ``RunAgentRequest``
      body; the run streamed with exactly one terminal event, heartbeats and
      ``idle_timeout``, journaled in ``store`` (a ``MemoryStore`` by default; a
      ``RedisStore`` lets another instance resume it). ``Location`` names its events URL.
    - ``GET /surestream/streams/{id}/events``: the run again, or after ``Last-Event-ID``.
    - ``DELETE /surestream/streams/{id}``: cancel it.

    A run that nobody reads for ``orphan_grace`` seconds is cancelled. The ADK arguments mean
    what they mean to ``adk api_server`` (``bind_host``: a loopback address turns on ADK's
    DNS-rebinding protection). Like ADK's server, the app has no authentication:
    serve it on a trusted network or behind your own auth; a stream id (176 random bits) is
    what lets a client read a run.
    """
    agents_path = Path(agents_dir).resolve()
    loader = AgentLoader(str(agents_path))
    base_dir = str(agents_path)
    single_agent = None
    if is_single_agent_directory(agents_path):
        single_agent = agents_path.name
        base_dir = str(agents_path.parent)
    load_services_module(str(agents_path))
    server = ApiServer(
        agent_loader=loader,
        session_service=create_session_service_from_options(
            base_dir=base_dir,
            session_service_uri=session_service_uri,
            use_local_storage=use_local_storage,
        ),
        artifact_service=create_artifact_service_from_options(
            base_dir=base_dir,
            artifact_service_uri=artifact_service_uri,
            strict_uri=True,
            use_local_storage=use_local_storage,
        ),
        memory_service=create_memory_service_from_options(
            base_dir=base_dir, memory_service_uri=memory_service_uri
        ),
        credential_service=_credential_service(),
        eval_sets_manager=LocalEvalSetsManager(agents_dir=base_dir),
        eval_set_results_manager=LocalEvalSetResultsManager(agents_dir=base_dir),
        agents_dir=base_dir,
        auto_create_session=auto_create_session,
        max_llm_calls=max_llm_calls,
    )
    if single_agent is not None:
        server.default_app_name = single_agent
    journal = store if store is not None else MemoryStore()
    hub = Hub(journal, orphan_grace=orphan_grace)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.aclose()
            await journal.aclose()

    app = server.get_fast_api_app(
        lifespan=lifespan, allow_origins=allow_origins, bind_host=bind_host
    )
    app.include_router(
        adk_router(
            server.get_runner_async,
            prefix=ROUTE_PREFIX,
            default_app_name=server.default_app_name,
            hub=hub,
            expose_errors=expose_errors,
            heartbeat=heartbeat,
            idle_timeout=idle_timeout,
            max_llm_calls=max_llm_calls,
        )
    )
    return app


def _credential_service() -> InMemoryCredentialService:
    """ADK's default credential service, without its "experimental" warnings (as
    ``adk api_server`` uses it, the user did not choose it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"\[EXPERIMENTAL\]", UserWarning)
        return InMemoryCredentialService()
