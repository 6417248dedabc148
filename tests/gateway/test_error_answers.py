"""The gateway's one table from store, hub and upstream errors to HTTP answers."""

from __future__ import annotations

import pytest

from surestream.errors import (
    ApiError,
    HubClosed,
    InvalidResumePoint,
    SourceFailed,
    StoreUnavailable,
    StreamExpired,
    StreamNotFound,
    SurestreamError,
    UpstreamHTTPError,
)
from surestream.gateway.errors import RETRY_AFTER, api_error, retry_later

RETRY = {"Retry-After": str(RETRY_AFTER)}


@pytest.mark.parametrize(
    ("exc", "stream_id", "answer"),
    [
        (StreamNotFound("redis key x:y"), "st_1", (404, "not_found", "no stream 'st_1'", {})),
        (StreamNotFound("x"), None, (404, "not_found", "no such stream", {})),
        (StreamExpired("x"), "st_1", (410, "gone", "stream 'st_1' has expired", {})),
        (
            InvalidResumePoint("resume point 9 is in the future"),
            "st_1",
            (400, "invalid_last_event_id", "resume point 9 is in the future", {}),
        ),
        (
            StoreUnavailable("redis://10.0.0.7:6379 refused"),
            "st_1",
            (503, "unavailable", "the stream store is unavailable", RETRY),
        ),
        (HubClosed("x"), None, (503, "unavailable", "the gateway is shutting down", RETRY)),
        (
            UpstreamHTTPError(429, "rate_limited", "slow down", 6.6),
            None,
            (429, "rate_limited", "slow down", {"Retry-After": "7"}),
        ),
        (
            UpstreamHTTPError(504, "upstream_timeout", "late"),
            None,
            (504, "upstream_timeout", "late", {}),
        ),
        (
            ApiError(418, "teapot", "short and stout"),
            "st_1",
            (418, "teapot", "short and stout", {}),
        ),
    ],
)
def test_the_table(
    exc: SurestreamError, stream_id: str | None, answer: tuple[int, str, str, dict[str, str]]
) -> None:
    got = api_error(exc, stream_id)
    assert (got.status, got.code, got.message, got.headers) == answer


def test_the_store_field_names_the_header() -> None:
    assert api_error(InvalidResumePoint("x")).field == "Last-Event-ID"


def test_every_own_429_and_503_has_the_one_retry_after() -> None:
    assert retry_later(429, "rate_limited", "full").headers == RETRY


def test_an_error_without_an_answer_is_a_bug() -> None:
    with pytest.raises(TypeError):
        api_error(SourceFailed("upstream_error"))
