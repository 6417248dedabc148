"""``StreamSlots`` and the request checks on their own, without a server."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge

from surestream.gateway.auth import ANONYMOUS
from surestream.gateway.errors import ApiError
from surestream.gateway.limits import StreamSlots
from surestream.gateway.settings import Settings
from surestream.gateway.validation import check_chat, check_metadata


def _slots(max_streams: int, per_key: int) -> tuple[StreamSlots, Gauge]:
    gauge = Gauge("active", "streams", registry=CollectorRegistry())
    return StreamSlots(max_streams, per_key, gauge), gauge


def test_a_key_at_its_limit_is_refused_and_a_release_frees_its_slot() -> None:
    slots, gauge = _slots(max_streams=10, per_key=2)
    slots.reserve("a")
    slots.reserve("a")
    with pytest.raises(ApiError) as refused:
        slots.reserve("a")
    assert refused.value.status == 429 and "max_streams_per_key (2)" in refused.value.message
    assert refused.value.headers == {"Retry-After": "1"}
    slots.reserve("b")
    slots.release("a")
    slots.reserve("a")
    assert (slots.active, slots.held_by("a"), gauge._value.get()) == (3, 2, 3)


def test_without_api_keys_callers_share_no_per_key_cap() -> None:
    slots, _ = _slots(max_streams=5, per_key=2)
    for _ in range(5):
        slots.reserve(ANONYMOUS)
    with pytest.raises(ApiError, match=r"max_streams \(5\)"):
        slots.reserve(ANONYMOUS)


def test_the_process_limit_counts_every_key_and_releases_leave_nothing_behind() -> None:
    slots, gauge = _slots(max_streams=2, per_key=5)
    slots.reserve("a")
    slots.reserve("b")
    with pytest.raises(ApiError, match=r"max_streams \(2\)"):
        slots.reserve("c")
    slots.release("a")
    slots.release("b")
    assert (slots.active, slots.held_by("a"), gauge._value.get()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"messages": [{"role": "user", "content": "x"}] * 3}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 101}, "max_tokens"),
        (
            {"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 101},
            "max_completion_tokens",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "ok"},
                    {"role": "user", "content": "\ud800"},
                ]
            },
            "messages.1.content",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}],
            },
            "messages.0.content.0.text",
        ),
        (
            {
                "messages": [{"role": "user", "content": "ok"}],
                "tools": [{"type": "function", "function": {"name": "f", "description": "\ud800"}}],
            },
            "tools.0.function.description",
        ),
    ],
)
def test_a_chat_over_a_limit_names_the_field(request_: dict[str, Any], field: str) -> None:
    settings = Settings(max_messages=2, max_tokens_limit=100)
    with pytest.raises(ApiError) as refused:
        check_chat(settings, request_)
    assert (refused.value.status, refused.value.field) == (422, field)
    check_chat(settings, {"messages": [], "max_tokens": 100, "max_completion_tokens": 100})


def test_metadata_over_a_limit_names_the_setting() -> None:
    settings = Settings(max_metadata_items=1, max_metadata_chars=3)
    check_metadata(settings, None)
    check_metadata(settings, {"k": "abc"})
    with pytest.raises(ApiError, match="max_metadata_items"):
        check_metadata(settings, {"a": "1", "b": "2"})
    with pytest.raises(ApiError, match="max_metadata_chars") as refused:
        check_metadata(settings, {"k": "abcd"})
    assert refused.value.field == "metadata.k"
