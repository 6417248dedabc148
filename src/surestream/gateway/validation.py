"""Request checks beyond the body's schema: the limits a chat request and its metadata obey.

Strategy: pydantic (``surestream.gateway.models``) checks types and shapes; these functions
check what depends on the settings or on the text itself, and refuse with ``422
invalid_request`` naming the field and the setting, so a client knows what to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from surestream.gateway.errors import ApiError
from surestream.gateway.settings import Settings

__all__ = ["check_chat", "check_metadata"]


def check_chat(
    settings: Settings, messages: Sequence[Mapping[str, str]], max_tokens: int | None
) -> None:
    """422 when ``messages`` are over ``max_messages`` or not valid Unicode, or
    ``max_tokens`` is over ``max_tokens_limit``."""
    if len(messages) > settings.max_messages:
        raise _invalid("messages", f"at most {settings.max_messages} messages (max_messages)")
    if max_tokens is not None and max_tokens > settings.max_tokens_limit:
        raise _invalid("max_tokens", f"at most {settings.max_tokens_limit} (max_tokens_limit)")
    for index, message in enumerate(messages):
        try:
            message["content"].encode()
        except UnicodeEncodeError:
            raise _invalid(
                f"messages.{index}.content", "not valid Unicode (a lone surrogate)"
            ) from None


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
