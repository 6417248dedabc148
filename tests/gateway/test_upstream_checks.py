"""``surestream.gateway.upstream_checks``: an upstream's finish_reason and usage, checked."""

from __future__ import annotations

from typing import Any

import pytest

from surestream.events import Done
from surestream.gateway.upstream_checks import (
    MAX_USAGE_ENTRIES,
    checked_done,
    clean_usage,
    finish_reason,
    outcome_label,
)


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"n": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("given", "ours"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("max_tokens", "length"),
        ("end_turn", "stop"),
        ("cancelled", "stop"),
        ("x" * 5000, "stop"),
        ("", "stop"),
        (7, "stop"),
        (None, "stop"),
        (" Length ", "length"),
    ],
)
def test_finish_reason_is_on_the_closed_list(given: object, ours: str) -> None:
    assert finish_reason(given) == ours


@pytest.mark.parametrize(
    ("usage", "kept"),
    [
        (
            {"prompt_tokens": 3, "completion_tokens": 2},
            {"prompt_tokens": 3, "completion_tokens": 2},
        ),
        (
            {"completion_tokens_details": {"reasoning_tokens": 5, "deep": {"x": 1}}},
            {"completion_tokens_details": {"reasoning_tokens": 5}},
        ),
        ({"cost": 0.25, "bad": float("nan"), "flag": True, "s": "7"}, {"cost": 0.25}),
        (deep(300), None),
        ({"x" * 65: 1, "ok": 1}, {"ok": 1}),
        ([1, 2], None),
        ("tokens", None),
        ({}, None),
    ],
)
def test_usage_keeps_only_counts(usage: object, kept: object) -> None:
    assert clean_usage(usage) == kept


def test_usage_keeps_at_most_max_usage_entries() -> None:
    usage = {f"k{i}": i for i in range(1000)}
    assert clean_usage(usage) == {f"k{i}": i for i in range(MAX_USAGE_ENTRIES)}


def test_checked_done() -> None:
    plain = Done("stop", {"prompt_tokens": 1})
    assert checked_done(plain) is plain
    assert checked_done(Done("cancelled", deep(300))) == Done("stop", None)


@pytest.mark.parametrize(
    ("outcome", "code", "label"),
    [
        ("done", "length", "length"),
        ("done", "x" * 100, "other"),
        ("error", "upstream_error", "upstream_error"),
        ("error", "made_up", "other"),
        ("weird", "stop", "other"),
    ],
)
def test_outcome_labels_are_bounded(outcome: str, code: str, label: str) -> None:
    assert outcome_label(outcome, code) == label
