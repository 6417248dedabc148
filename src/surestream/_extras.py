"""Which extra each I/O layer needs, and the ImportError that says so.

Strategy: ``pip install surestream`` is the sans-IO core (``sse``, ``events``, ``lifecycle``,
``dialects``, ``conformance``; orjson only). Every layer with a socket comes with an extra of
``pyproject.toml``, and imports its packages inside ``with needs(extra):`` (or, for a package
that imports them later, calls ``require(extra, name)`` first), so that a missing extra is an
ImportError naming what to install rather than a bare "No module named 'httpx'".
``EXTRAS`` lists the import names each extra provides; ``tests/test_wheel.py`` checks it
against the installed wheel.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from surestream.errors import MissingExtra

__all__ = ["EXTRAS", "MissingExtra", "needs", "require"]

EXTRAS: dict[str, frozenset[str]] = {
    "client": frozenset({"anyio", "h11", "httpx"}),
    "server": frozenset({"anyio", "starlette"}),
    "redis": frozenset({"redis"}),
    "check": frozenset({"anyio", "h11", "httpx", "rich"}),
    "gateway": frozenset(
        {
            "anyio",
            "fastapi",
            "h11",
            "httpx",
            "prometheus_client",
            "pydantic",
            "redis",
            "rich",
            "starlette",
            "uvicorn",
        }
    ),
    "adk": frozenset({"google.adk"}),
    "langgraph": frozenset({"langchain_core"}),
    "openai-agents": frozenset({"agents"}),
    "pydantic-ai": frozenset({"pydantic_ai"}),
}
"""Extra -> the top-level modules it installs that surestream imports (a framework's own
package where its top-level name is shared, as ``google.adk``)."""


def require(extra: str, what: str) -> None:
    """Raise ``MissingExtra`` when a module of ``extra`` cannot be imported."""
    for module in sorted(EXTRAS[extra]):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent of a dotted name is missing
            found = False
        if not found:
            raise MissingExtra(what, extra, module)


@contextmanager
def needs(extra: str, what: str | None = None) -> Iterator[None]:
    """Turn a failed import of one of ``extra``'s modules into ``MissingExtra``.

    ``what`` names the importing layer (default: the extra's name). Other import errors,
    including a broken module of ours, pass through unchanged.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in EXTRAS[extra]:
            raise
        raise MissingExtra(what or f"surestream ({extra})", extra, top) from exc
