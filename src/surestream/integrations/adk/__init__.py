"""Serve a Google ADK agent with surestream's guarantees (``pip install 'surestream[adk]'``).

- ``adk_events(runner.run_async(...))``: the run as typed events ending with ``Done``;
- ``adk_router(runner)``: a FastAPI router taking ADK's own ``/run_sse`` request body
  (``RunAgentRequest``) for apps that build their own ``Runner``;
- ``create_app(agents_dir)`` and ``surestream adk AGENTS_DIR``: an agents directory served the
  way ``adk api_server`` serves it, plus journaled, resumable streams in every dialect.

``adk_events`` needs nothing from ADK at import time; the router and the app import ADK (a
few seconds) when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from surestream._extras import require

require("adk", __name__)

from surestream.integrations.adk._events import (  # noqa: E402
    CONTENT_FILTER_CODES,
    AdkMapper,
    adk_events,
)

if TYPE_CHECKING:
    from surestream.integrations.adk._router import RunnerFor, adk_router
    from surestream.integrations.adk._serve import ROUTE_PREFIX, create_app

__all__ = [
    "CONTENT_FILTER_CODES",
    "ROUTE_PREFIX",
    "AdkMapper",
    "RunnerFor",
    "adk_events",
    "adk_router",
    "create_app",
]

_LAZY = {
    "RunnerFor": "_router",
    "adk_router": "_router",
    "ROUTE_PREFIX": "_serve",
    "create_app": "_serve",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
