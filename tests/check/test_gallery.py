"""``inspect`` against the gallery: real servers on loopback, each one real failure.

Every finding is asserted by its code. Timeouts and silences are scaled down through the
gallery's query parameters and ``Thresholds``; the rules are scale-free (see findings.py).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from surestream.check import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREACHABLE,
    PROBLEM,
    WARNING,
    Thresholds,
    inspect,
)
from tests.check.gallery import HEALTHY_EVENTS

LOWERED = Thresholds(proxy_idle_limits=(0.25, 0.5))
"""Proxy idle limits of 0.25 s and 0.5 s stand in for 30 s and 60 s."""


def test_content_vs_complete_name_mismatch(gallery: str) -> None:
    report = inspect(f"{gallery}/mismatch", expect_events=["complete"])
    missing = report.finding("expected_event_missing")
    assert missing is not None
    assert 'event: content with {"isFinal": true}' in missing.message
    assert missing.fix is not None and "isFinal" in missing.fix
    assert report.end is not None and report.end.kind == "final_flag"
    assert "named_events_only" in report.codes
    assert report.exit_code == EXIT_PROBLEM


def test_no_end_marker(gallery: str) -> None:
    report = inspect(f"{gallery}/no-end")
    assert "no_terminal_signal" in report.codes
    assert report.end is None and report.end_how == "closed"
    assert report.exit_code == EXIT_PROBLEM


def test_gzip_middleware_that_flushes_every_event_is_a_warning(gallery: str) -> None:
    report = inspect(f"{gallery}/gzip/")
    finding = report.finding("compressed")
    assert finding is not None and finding.verdict == WARNING
    assert "one by one" in finding.message
    assert "terminal_signal" in report.codes  # httpx decompressed it: the stream itself is fine
    assert report.exit_code == EXIT_OK


def test_gzip_that_holds_the_events_back_is_a_problem(gallery: str) -> None:
    report = inspect(f"{gallery}/gzip-buffered")
    finding = report.finding("compressed")
    assert finding is not None and finding.verdict == PROBLEM
    assert "6 events arrived in one chunk" in finding.message
    assert "terminal_signal" in report.codes
    assert report.exit_code == EXIT_PROBLEM


def test_server_side_inter_chunk_timeout(gallery: str) -> None:
    report = inspect(f"{gallery}/inter-chunk-timeout?timeout=1")
    finding = report.finding("round_silence_close")
    assert finding is not None and "close to 1 s" in finding.message
    assert "no_terminal_signal" in report.codes


def test_long_silence_without_heartbeat(gallery: str) -> None:
    report = inspect(f"{gallery}/silent?silence=0.7", thresholds=LOWERED)
    finding = report.finding("silence_without_heartbeat")
    assert finding is not None and finding.verdict == WARNING
    assert "0.25 s and 0.5 s" in finding.message
    assert report.exit_code == EXIT_OK


def test_the_same_silence_with_heartbeats(gallery: str) -> None:
    report = inspect(f"{gallery}/silent?silence=0.7&heartbeat=0.1", thresholds=LOWERED)
    assert "heartbeat_seen" in report.codes
    assert "silence_without_heartbeat" not in report.codes
    assert report.timing.heartbeats >= 5


def test_content_type_text_plain(gallery: str) -> None:
    report = inspect(f"{gallery}/text-plain")
    assert "content_type_not_sse" in report.codes
    assert report.exit_code == EXIT_UNREACHABLE


def test_named_events_only(gallery: str) -> None:
    report = inspect(f"{gallery}/named-only", expect_events=["message"])
    assert "named_events_only" in report.codes
    assert "expected_event_missing" in report.codes
    assert [n.name for n in report.names] == ["token", "done"]


def test_fixed_content_length(gallery: str) -> None:
    assert "fixed_content_length" in inspect(f"{gallery}/fixed-length").codes


def test_a_stream_that_never_ends_is_reported_at_the_timeout(gallery: str) -> None:
    report = inspect(f"{gallery}/forever", timeout=0.5)
    assert "timed_out" in report.codes
    assert report.end_how == "timeout" and report.event_count > 0


def test_healthy_sse_starlette_stream(gallery: str) -> None:
    report = inspect(f"{gallery}/healthy", resume=True, expect_fields=["done"])
    assert report.verdict == "ok", report.dumps()
    assert {"terminal_signal", "resume_ok", "expected_field_seen"} <= set(report.codes)
    assert report.event_count == HEALTHY_EVENTS + 1


@pytest.mark.parametrize(
    ("mode", "code"), [("ignore", "resume_repeated_events"), ("skip", "resume_lost_events")]
)
def test_resume_that_repeats_or_loses_events(gallery: str, mode: str, code: str) -> None:
    report = inspect(f"{gallery}/healthy?resume={mode}", resume=True)
    assert code in report.codes
    assert report.exit_code == EXIT_PROBLEM


@pytest.mark.parametrize(
    ("dialect", "kind", "resume"),
    [
        ("native", "native_done", True),
        ("openai", "openai_done", False),
        ("vercel-ai", "vercel_finish", True),
    ],
)
def test_our_own_server_in_each_dialect_is_healthy(
    gallery: str, dialect: str, kind: str, resume: bool
) -> None:
    report = inspect(f"{gallery}/ours/{dialect}", resume=resume)
    assert report.problems == [], report.dumps()
    assert report.dialect == dialect
    assert report.end is not None and report.end.kind == kind
    if resume:
        assert "resume_ok" in report.codes
    else:  # the openai dialect writes no ids, by design: the OpenAI SDKs have no resume
        assert report.codes.count("no_event_ids") == 1


CLIENT_START_UP = 1000.0
"""Seconds the clock jumps while ``check`` builds its HTTP client (a stand-in for the TLS
context and imports, about 100 ms of its own start-up that once counted as the server's)."""


def test_times_count_from_the_request_not_from_check_starting_up(
    gallery: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    offset = 0.0
    real_clock = time.perf_counter
    real_client = httpx.AsyncClient

    class SlowToBuild(real_client):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            nonlocal offset
            offset += CLIENT_START_UP
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(time, "perf_counter", lambda: real_clock() + offset)
    monkeypatch.setattr(httpx, "AsyncClient", SlowToBuild)
    report = inspect(f"{gallery}/healthy")
    assert offset == CLIENT_START_UP
    assert report.timing.headers is not None and report.timing.end is not None
    assert report.timing.headers < CLIENT_START_UP and report.timing.end < CLIENT_START_UP
