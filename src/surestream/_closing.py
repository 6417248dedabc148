"""``AsyncClosing``: ``async with`` for anything that has ``aclose()``; ``aclose_if_any``."""

from __future__ import annotations

from typing import Self

__all__ = ["AsyncClosing", "aclose_if_any"]


class AsyncClosing:
    """Mixin: ``async with obj`` gives ``obj`` and awaits ``obj.aclose()`` on the way out."""

    __slots__ = ()

    async def aclose(self) -> None:
        """Release what the object holds (each subclass says what)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def aclose_if_any(obj: object) -> None:
    """Await ``obj.aclose()`` if ``obj`` has one (an async generator, a store's iterator)."""
    close = getattr(obj, "aclose", None)
    if close is not None:
        await close()
