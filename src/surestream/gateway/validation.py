"""Request checks beyond the body's schema: the limits a chat request and its metadata obey.

Strategy: pydantic (``surestream.gateway.models``) checks types and shapes; these functions
check what depends on the settings or on the text itself, and refuse with ``422
invalid_request`` naming the field and the setting, so a client knows what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from surestream.gateway.errors import ApiError
from surestream.gateway.settings import Settings

__all__ = ["check_chat", "check_metadata"]


def check_chat(settings: Settings, request: Mapping[str, Any]) -> None:
    """422 when the chat ``request`` (its wire fields) has more ``messages`` than
    ``max_messages``, a ``max_tokens`` or ``max_completion_tokens`` over
    ``max_tokens_limit``, or a string UTF-8 cannot carry (a lone surrogate)."""
    messages = request.get("messages") or ()
    if len(messages) > settings.max_messages:
        raise _invalid("messages", f"at most {settings.max_messages} messages (max_messages)")
    for name in ("max_tokens", "max_completion_tokens"):
        value = request.get(name)
        if isinstance(value, int) and value > settings.max_tokens_limit:
            raise _invalid(name, f"at most {settings.max_tokens_limit} (max_tokens_limit)")
    where = _lone_surrogate(request)
    if where is not None:
        raise _invalid(where, "not valid Unicode (a lone surrogate)")


def _lone_surrogate(value: object, path: str = "") -> str | None:
    """The dotted path of the first string in ``value`` that UTF-8 cannot carry, or None."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path
        return None
    items: Iterable[tuple[object, object]] = ()
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        found = _lone_surrogate(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def check_metadata(settings: Settings, metadata: Mapping[str, str] | None) -> None:
    """422 when ``metadata`` is over ``max_metadata_items`` or ``max_metadata_chars``."""
    if metadata is None:
        return
    if len(metadata) > settings.max_metadata_items:
        limit = settings.max_metadata_items
        raise _invalid("metadata", f"at most {limit} entries (max_metadata_items)")
    for key, value in metadata.items():
        if len(value) > settings.max_metadata_chars:
            limit = settings.max_metadata_chars
            raise _invalid(f"metadata.{key}", f"at most {limit} characters (max_metadata_chars)")


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError(422, "invalid_request", f"{field}: {problem}", field=field)
