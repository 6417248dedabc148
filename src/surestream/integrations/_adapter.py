"""What every framework adapter shares: the driver loop, failures, usage and the extra check.

Strategy: a framework's stream is read by ``adapt`` through a *mapper*, a plain object with
no I/O whose ``feed(item)`` returns the typed events an item of the framework's stream
stands for and whose ``end()`` returns the closing ``Done`` (or raises ``SourceFailed``).
``adapt`` owns the rest, once for every framework: it turns an exception of the framework
into ``SourceFailed("upstream_error")`` with a safe message and logs the details, and it
closes the framework's generator in every case, so a cancelled or closed adapter cancels
the model call inside it.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from surestream.errors import SourceFailed
from surestream.events import Done, ErrorCode, Event

__all__ = ["FAILED_MESSAGE", "Mapper", "UsageTotals", "adapt", "failure", "require"]

log = logging.getLogger("surestream.integrations")

FAILED_MESSAGE = "the agent failed"
"""The message a client gets when a framework raises and ``expose_errors`` is off."""

T_contra = TypeVar("T_contra", contravariant=True)


def require(module: str, extra: str) -> None:
    """ImportError naming the extra to install when ``module`` is not importable."""
    if importlib.util.find_spec(module.partition(".")[0]) is None or (
        "." in module and importlib.util.find_spec(module) is None
    ):
        raise ImportError(
            f"surestream.integrations.{extra.replace('-', '_')} needs {module!r}: "
            f"pip install 'surestream[{extra}]'"
        )


class Mapper(Protocol[T_contra]):
    """Turns one framework's stream items into typed events (sans-IO)."""

    def feed(self, item: T_contra) -> Iterable[Event]:
        """The events ``item`` stands for (often none)."""
        ...

    def end(self) -> Done:
        """The closing ``Done`` once the stream ended without an exception (or
        ``SourceFailed`` when what was seen means the run failed)."""
        ...


def failure(framework: str, detail: str, *, expose_errors: bool) -> SourceFailed:
    """``SourceFailed("upstream_error")``: ``detail`` only with ``expose_errors``."""
    message = f"{FAILED_MESSAGE}: {detail}" if expose_errors else FAILED_MESSAGE
    return SourceFailed(ErrorCode.UPSTREAM_ERROR, message)


async def adapt(
    source: AsyncIterable[T_contra],
    mapper: Mapper[T_contra],
    *,
    framework: str,
    expose_errors: bool,
) -> AsyncGenerator[Event, None]:
    """The events of ``source`` through ``mapper``, then ``mapper.end()``.

    An exception of ``source`` is logged (with its traceback, to the
    ``surestream.integrations`` logger) and raised as ``SourceFailed("upstream_error")``.
    ``source`` is closed (``aclose``) whatever happens, also when this generator is
    cancelled or closed early.
    """
    iterator = aiter(source)
    try:
        async for item in iterator:
            for event in mapper.feed(item):
                yield event
    except SourceFailed:
        raise
    except Exception as exc:
        log.exception("%s run failed; the stream ends with upstream_error", framework)
        raise failure(
            framework, f"{type(exc).__name__}: {exc}", expose_errors=expose_errors
        ) from None
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
    yield mapper.end()


class UsageTotals:
    """Token counts summed over the model calls of one run, in OpenAI's names."""

    __slots__ = ("_totals",)

    def __init__(self) -> None:
        self._totals: dict[str, int] = {}

    def add(self, prompt: int | None, completion: int | None, total: int | None = None) -> None:
        """Add one model call's counts (None: unknown)."""
        for key, value in (
            ("prompt_tokens", prompt),
            ("completion_tokens", completion),
            ("total_tokens", total),
        ):
            if isinstance(value, int):
                self._totals[key] = self._totals.get(key, 0) + value

    def mapping(self) -> Mapping[str, Any] | None:
        """The totals for ``Done.usage``, or None when no call reported any."""
        return dict(self._totals) if self._totals else None
