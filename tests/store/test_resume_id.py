"""``parse_last_event_id``: the header wins, ``?last_event_id=`` is the fallback."""

from __future__ import annotations

import pytest

from surestream.store import InvalidResumePoint, parse_last_event_id


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("  ", "", None),
        ("0", None, 0),
        ("41", None, 41),
        (" 7 ", None, 7),
        (None, "12", 12),
        ("", "12", 12),
        ("3", "12", 3),
        ("-1", None, None),
        ("999999999999999999", None, 999_999_999_999_999_999),
    ],
)
def test_valid(header: str | None, query: str | None, expected: int | None) -> None:
    assert parse_last_event_id(header, query) == expected


@pytest.mark.parametrize(
    "bad", ["abc", "1.5", "-2", "+3", "1e3", "0x10", "١٢", "12 13", "9999999999999999999"]
)
def test_not_a_number_is_invalid(bad: str) -> None:
    with pytest.raises(InvalidResumePoint):
        parse_last_event_id(bad, None)
    with pytest.raises(InvalidResumePoint):
        parse_last_event_id(None, bad)
    with pytest.raises(ValueError):
        parse_last_event_id(bad)
