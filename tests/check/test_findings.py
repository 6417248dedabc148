"""The rules of ``surestream check`` on synthetic recordings: literal bytes, literal times."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from surestream.check import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREACHABLE,
    OK,
    PROBLEM,
    WARNING,
    Recording,
    Request,
    ResumeRecording,
    Thresholds,
    analyse,
    replay,
)
from surestream.check.findings import resume_cut_point
from surestream.check.recording import END_BROKEN, END_CLOSED, END_CUT, END_TIMEOUT, Recorder
from surestream.check.timing import round_value
from surestream.dialects import EncoderOptions, get_dialect
from surestream.events import Done, Error, ErrorCode, Reasoning, Start, Text

SSE = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
]
Timeline = Sequence[tuple[float, bytes]]


def rec(
    timeline: Timeline,
    headers: Sequence[tuple[str, str]] = SSE,
    *,
    status: int = 200,
    end: str = END_CLOSED,
    t_end: float | None = None,
    url: str = "http://example.test/stream",
) -> Recording:
    recording = replay(Request(url), status, headers, timeline, end=end, t_end=t_end)
    recording.timeout = 30.0
    return recording


def paced(*blocks: bytes, step: float = 0.1, start: float = 0.1) -> list[tuple[float, bytes]]:
    return [(start + i * step, block) for i, block in enumerate(blocks)]


DONE = b'data: {"done": true}\n\n'


def text(t: str, id: int | None = None) -> bytes:
    head = f"id: {id}\n" if id is not None else ""
    return f'{head}data: {{"text": "{t}"}}\n\n'.encode()


def healthy(n: int = 4) -> list[tuple[float, bytes]]:
    return paced(*[text(f"t{i}", i) for i in range(n)], f"id: {n}\n".encode() + DONE)


def codes(recording: Recording, **kw: object) -> list[str]:
    return analyse(recording, **kw).codes  # type: ignore[arg-type]


# -- response -----------------------------------------------------------------------------


def test_a_healthy_stream_has_no_problem_and_no_warning() -> None:
    report = analyse(rec(healthy()))
    assert report.verdict == "ok" and report.exit_code == EXIT_OK
    assert {"status_ok", "content_type_sse", "cache_control_ok", "x_accel_buffering_ok"} <= set(
        report.codes
    )
    assert "terminal_signal" in report.codes and "silence_ok" in report.codes


def test_no_response_is_connect_failed_and_exit_2() -> None:
    recorder = Recorder(Request("http://127.0.0.1:9/"))
    report = analyse(recorder.on_end(0.01, "no_response", "ConnectError: refused"))
    assert report.codes == ["connect_failed"]
    assert "refused" in report.findings[0].message
    assert report.exit_code == EXIT_UNREACHABLE


def test_http_error_status_shows_the_body_and_exits_2() -> None:
    report = analyse(rec([(0.1, b'{"detail": "model not found"}')], [], status=404))
    finding = report.finding("status_not_ok")
    assert finding is not None and "model not found" in finding.message
    assert report.exit_code == EXIT_UNREACHABLE
    assert "no_events" not in report.codes  # no stream to judge


def test_a_fixed_content_length_breaks_streaming() -> None:
    report = analyse(rec(healthy(), [*SSE, ("content-length", "120")]))
    finding = report.finding("fixed_content_length")
    assert finding is not None and finding.verdict == PROBLEM and finding.fix
    assert report.exit_code == EXIT_PROBLEM


def _at_once(timeline: Timeline, t: float) -> Timeline:
    return [(t, b"".join(block for _, block in timeline))]


@pytest.mark.parametrize("encoding", ["gzip", "br"])
@pytest.mark.parametrize(
    ("timeline", "verdict", "says"),
    [
        (healthy(), WARNING, "one by one"),
        (_at_once(healthy(), 0.2), PROBLEM, "5 events arrived in one chunk"),
        (
            _at_once(healthy(9)[:5], 0.2) + _at_once(healthy(9)[5:], 0.4),
            PROBLEM,
            "10 events arrived in 2 chunks",
        ),
        (_at_once(healthy(), 2.0), PROBLEM, "all 5 events arrived at once, late"),
    ],
)
def test_compression_is_a_problem_only_when_events_came_late_or_batched(
    encoding: str, timeline: Timeline, verdict: str, says: str
) -> None:
    report = analyse(rec(timeline, [*SSE, ("content-encoding", encoding)]))
    finding = report.finding("compressed")
    assert finding is not None and finding.verdict == verdict and finding.fix
    assert f"Content-Encoding: {encoding}" in finding.message and says in finding.message
    assert report.exit_code == (EXIT_PROBLEM if verdict == PROBLEM else EXIT_OK)


def test_missing_cache_control_and_accel_buffering_are_warnings() -> None:
    report = analyse(rec(healthy(), [("content-type", "text/event-stream")]))
    assert {"cache_control_missing", "x_accel_buffering_missing"} <= set(report.codes)
    assert report.verdict == WARNING and report.exit_code == EXIT_OK


def test_text_plain_is_not_sse_but_the_body_is_still_read() -> None:
    report = analyse(rec(healthy(), [("content-type", "text/plain")]))
    finding = report.finding("content_type_not_sse")
    assert finding is not None and "text/plain" in finding.message
    assert "5 SSE events" in finding.message
    assert report.exit_code == EXIT_UNREACHABLE


# -- events -------------------------------------------------------------------------------


def test_named_events_only_and_the_names_table() -> None:
    report = analyse(
        rec(paced(b'event: token\ndata: {"t": "a"}\n\n', b"event: token\ndata: b\n\n", DONE))
    )
    assert "onmessage_misses" in report.codes  # `message` (the done) is seen, `token` is not
    report = analyse(rec(paced(b'event: token\ndata: {"t": "a"}\n\n', b"event: end\ndata: x\n\n")))
    assert "named_events_only" in report.codes
    token = report.names[0]
    assert (token.name, token.count, token.onmessage) == ("token", 1, False)
    assert token.shapes == ((("t",), 1),)


def test_no_ids_no_events_and_events_after_the_end() -> None:
    assert "no_event_ids" in codes(rec(paced(text("a"), DONE)))
    assert "no_events" in codes(rec(paced(b"data: never terminated")))
    report = analyse(rec(paced(text("a", 0), b'id: 1\ndata: {"done": true}\n\n', text("late", 2))))
    assert "events_after_end" in report.codes


def test_everything_arriving_at_once_long_after_the_headers_is_buffered() -> None:
    burst = b"".join(text(f"t{i}", i) for i in range(6)) + DONE
    assert "buffered" in codes(rec([(2.5, burst)]))
    assert "buffered" not in codes(rec(paced(*[text(f"t{i}", i) for i in range(6)], DONE)))
    assert "buffered" not in codes(rec([(0.01, burst)]))  # fast, not held back


# -- the end, by dialect ------------------------------------------------------------------

OPENAI_CHUNK = (
    'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
    '"delta":{"content":"%s"},"finish_reason":%s}]}\n\n'
)


@pytest.mark.parametrize(
    ("headers", "blocks", "kind", "outcome"),
    [
        (
            [("surestream-protocol", "1")],
            [
                b'id: 0\ndata: {"type":"text","text":"hi"}\n\n',
                b'id: 1\ndata: {"type":"done","done":true,"finish_reason":"stop"}\n\n',
            ],
            "native_done",
            "done",
        ),
        (
            [("surestream-protocol", "1")],
            [
                b'data: {"type":"text","text":"hi"}\n\n',
                b'data: {"type":"error","error":{"code":"upstream_error","message":"boom",'
                b'"retryable":false}}\n\n',
            ],
            "native_error",
            "error",
        ),
        (
            [],
            [
                (OPENAI_CHUNK % ("hi", "null")).encode(),
                (OPENAI_CHUNK % ("", '"stop"')).encode(),
                b"data: [DONE]\n\n",
            ],
            "openai_done",
            "done",
        ),
        (
            [],
            [
                (OPENAI_CHUNK % ("hi", "null")).encode(),
                b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n',
            ],
            "openai_error",
            "error",
        ),
        (
            [("x-vercel-ai-ui-message-stream", "v1")],
            [
                b'data: {"type":"start"}\n\n',
                b'data: {"type":"text-delta","id":"1","delta":"hi"}\n\n',
                b'data: {"type":"finish"}\n\n',
                b"data: [DONE]\n\n",
            ],
            "vercel_finish",
            "done",
        ),
        (
            [("x-vercel-ai-ui-message-stream", "v1")],
            [
                b'data: {"type":"start"}\n\n',
                b'data: {"type":"text-delta","id":"1","delta":"hi"}\n\n',
                b'data: {"type":"error","errorText":"nope"}\n\n',
            ],
            "vercel_error",
            "error",
        ),
        (
            [],
            [
                b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n',
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                b'"delta":{"type":"text_delta","text":"hi"}}\n\n',
                b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
                b'"end_turn"}}\n\n',
                b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
            ],
            "anthropic_message_stop",
            "done",
        ),
        ([], [text("hi"), DONE], "final_flag", "done"),
        ([], [text("hi"), b"event: complete\ndata: {}\n\n"], "end_event", "done"),
        ([], [text("hi"), b"event: end\ndata: bye\n\n"], "end_event", "done"),
        ([], [text("hi"), b"data: [DONE]\n\n"], "done_marker", "done"),
        ([], [text("hi"), b'event: error\ndata: {"message": "quota"}\n\n'], "error_event", "error"),
        ([], [text("hi"), b'data: {"error": "Stream timeout"}\n\n'], "error_object", "error"),
    ],
)
def test_the_terminal_signal_of_each_dialect(
    headers: list[tuple[str, str]], blocks: list[bytes], kind: str, outcome: str
) -> None:
    report = analyse(rec(paced(*blocks), [*SSE, *headers]))
    assert report.end is not None
    assert (report.end.kind, report.end.outcome) == (kind, outcome)
    assert report.end.index == len(blocks) - 1 - (kind == "vercel_finish")
    code = "terminal_signal" if outcome == "done" else "terminal_error"
    assert code in report.codes
    assert "no_terminal_signal" not in report.codes
    assert report.timing.first_text is not None


def test_openai_finish_reason_without_done_is_a_warning() -> None:
    blocks = [(OPENAI_CHUNK % ("hi", "null")).encode(), (OPENAI_CHUNK % ("", '"length"')).encode()]
    report = analyse(rec(paced(*blocks)))
    assert report.dialect == "openai"
    finding = report.finding("finish_reason_without_done")
    assert finding is not None and "'length'" in finding.message
    assert "no_terminal_signal" not in report.codes


def test_how_a_stream_without_an_end_finished() -> None:
    closed = analyse(rec(paced(text("a"), text("b"))))
    finding = closed.finding("no_terminal_signal")
    assert finding is not None and finding.verdict == PROBLEM
    assert "clients cannot tell success from failure" in finding.message
    broken = rec(paced(text("a")), end=END_BROKEN)
    broken.error = "RemoteProtocolError: incomplete chunked read"
    assert "connection_broken" in codes(broken)
    assert "timed_out" in codes(rec(paced(text("a")), end=END_TIMEOUT, t_end=30.0))
    after_end = codes(rec(paced(text("a"), DONE), end=END_TIMEOUT, t_end=30.0))
    assert "open_after_end" in after_end and "timed_out" not in after_end


def _anthropic_blocks(*events: object) -> list[bytes]:
    """The SSE blocks the anthropic dialect writes for ``events``, one per list item."""
    encoder = get_dialect("anthropic").encoder(EncoderOptions(stream_id="st_1", model="m"))
    body = b"".join(encoder.encode(e, seq) for seq, e in enumerate(events))  # type: ignore[arg-type]
    return [block + b"\n\n" for block in body.split(b"\n\n") if block]


ANTHROPIC_TURN = (Start(), Reasoning("hm"), Text("Hel"), Text("lo"), Done("length"))


def test_our_anthropic_stream_is_ok_and_ends_at_message_stop() -> None:
    blocks = _anthropic_blocks(*ANTHROPIC_TURN)
    report = analyse(rec(paced(*blocks)))
    assert report.dialect == "anthropic" and report.verdict == OK, report.dumps()
    assert report.end is not None and report.end.kind == "anthropic_message_stop"
    assert (report.end.index, report.end.detail) == (len(blocks) - 1, "length")
    named = report.finding("named_events_only")
    assert named is not None and named.verdict == OK


@pytest.mark.parametrize("cut", ["event: message_delta", "event: message_stop"])
def test_an_anthropic_stream_cut_before_message_stop_has_no_terminal(cut: str) -> None:
    blocks = _anthropic_blocks(*ANTHROPIC_TURN)
    kept = blocks[: next(i for i, b in enumerate(blocks) if cut.encode() in b)]
    report = analyse(rec(paced(*kept)))
    assert report.dialect == "anthropic" and report.end is None
    assert "no_terminal_signal" in report.codes and report.verdict == PROBLEM


def test_an_anthropic_error_event_is_an_explicit_error() -> None:
    error = Error.of(ErrorCode.UPSTREAM_TRUNCATED, "the model's stream broke off")
    report = analyse(rec(paced(*_anthropic_blocks(Start(), Text("Hel"), error))))
    assert report.end is not None
    assert (report.end.kind, report.end.outcome) == ("anthropic_error", "error")
    assert "terminal_error" in report.codes


# -- expectations -------------------------------------------------------------------------

SEED = paced(
    b'event: content\ndata: {"type": "status", "message": "Generating..."}\n\n',
    b'event: content\ndata: {"type": "content", "content": "Hel"}\n\n',
    b'event: content\ndata: {"type": "content", "content": "lo"}\n\n',
    b'event: content\ndata: {"type": "content", "content": "Hello", "isFinal": true}\n\n',
    b'event: content\ndata: {"type": "status", "message": "[DONE]"}\n\n',
)


def test_expected_event_missing_points_at_the_event_that_carried_the_end() -> None:
    report = analyse(rec(SEED), expect_events=["complete"])
    finding = report.finding("expected_event_missing")
    assert finding is not None and finding.verdict == PROBLEM
    assert "'complete'" in finding.message
    assert 'event #3 (event: content with {"isFinal": true})' in finding.message
    assert finding.fix is not None and "'content'" in finding.fix and "isFinal" in finding.fix
    assert report.timing.first_text == SEED[1][0]


def test_expected_event_found_only_as_a_json_type_says_so() -> None:
    blocks = paced(text("a"), b'event: content\ndata: {"type": "complete"}\n\n')
    finding = analyse(rec(blocks), expect_events=["complete"]).finding("expected_event_missing")
    assert finding is not None
    assert "appears only as a JSON type inside 'content' events" in finding.message


def test_expected_event_seen_counts_listener_calls() -> None:
    report = analyse(rec(healthy(3)), expect_events=["message"])
    finding = report.finding("expected_event_seen")
    assert finding is not None and "4 times" in finding.message


def test_expected_fields_by_key_and_dotted_path() -> None:
    report = analyse(rec(healthy()), expect_fields=["done", "text", "choices.0.delta"])
    assert [f.code for f in report.findings if f.code.startswith("expected_field")] == [
        "expected_field_seen",
        "expected_field_seen",
        "expected_field_missing",
    ]
    missing = analyse(rec(SEED), expect_fields=["done"]).finding("expected_field_missing")
    assert missing is not None and "isFinal" in missing.message


# -- timing -------------------------------------------------------------------------------


def test_time_to_headers_first_event_and_first_text() -> None:
    blocks = [(0.2, b'data: {"type": "status", "message": "thinking"}\n\n'), (0.9, text("hi"))]
    recording = replay(Request("http://x"), 200, SSE, [*blocks, (1.0, DONE)], t_headers=0.05)
    timing = analyse(recording).timing
    assert (timing.headers, timing.first_event, timing.first_text, timing.end) == (
        0.05,
        0.2,
        0.9,
        1.0,
    )


def test_silence_beyond_proxy_limits_without_heartbeat_warns() -> None:
    report = analyse(rec([(0.1, text("a", 0)), (45.1, text("b", 1)), (45.2, b"id: 2\n" + DONE)]))
    finding = report.finding("silence_without_heartbeat")
    assert finding is not None and finding.verdict == WARNING
    assert "30 s" in finding.message and "60 s" not in finding.message
    assert "after event #0" in finding.message
    assert report.timing.longest_silence_bytes == pytest.approx(45.0)
    report = analyse(rec([(0.1, text("a", 0)), (70.1, text("b", 1)), (70.2, b"id: 2\n" + DONE)]))
    finding = report.finding("silence_without_heartbeat")
    assert finding is not None and "30 s and 60 s" in finding.message


def test_heartbeats_keep_a_long_silence_below_the_limits() -> None:
    pings = [(0.1 + 15 * k, b": ping\n\n") for k in range(1, 4)]
    timeline = [(0.1, text("a", 0)), *pings, (45.5, text("b", 1)), (45.6, b"id: 2\n" + DONE)]
    report = analyse(rec(timeline))
    assert "silence_without_heartbeat" not in report.codes
    assert "heartbeat_seen" in report.codes
    assert report.timing.heartbeats == 3
    assert report.timing.longest_silence_events == pytest.approx(45.4)
    assert report.timing.longest_silence_bytes == pytest.approx(15.0)


def test_proxy_limits_are_parameters() -> None:
    timeline = [(0.1, text("a", 0)), (0.8, text("b", 1)), (0.9, b"id: 2\n" + DONE)]
    assert "silence_without_heartbeat" not in codes(rec(timeline))
    lowered = Thresholds(proxy_idle_limits=(0.25, 0.5))
    assert "silence_without_heartbeat" in codes(rec(timeline), thresholds=lowered)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (10.0, 10.0),
        (10.55, 10.0),
        (9.45, 10.0),
        (10.7, None),
        (12.7, None),
        (30.9, 30.0),
        (58.0, 60.0),
        (1.0, 1.0),
        (1.14, 1.0),
        (1.3, None),
        (2.05, 2.0),
        (0.4, None),
    ],
)
def test_round_values_and_their_tolerance(gap: float, expected: float | None) -> None:
    assert round_value(gap, Thresholds()) == expected


@pytest.mark.parametrize("silence", [10.02, 30.1, 60.0, 1.02])
def test_closing_after_a_round_silence_is_a_server_side_timeout(silence: float) -> None:
    timeline = paced(text("a"), text("b"), text("c"), step=0.05)
    report = analyse(rec(timeline, t_end=timeline[-1][0] + silence))
    finding = report.finding("round_silence_close")
    assert finding is not None and finding.verdict == WARNING
    assert "inter-chunk timeout" in finding.message and "no_terminal_signal" in report.codes


def test_an_error_event_right_after_a_round_silence_is_a_server_side_timeout_too() -> None:
    timeline = [(0.1, text("a")), (10.12, b'data: {"error": "Stream timeout"}\n\n')]
    report = analyse(rec(timeline, t_end=10.13))
    assert {"terminal_error", "round_silence_close"} <= set(report.codes)


def test_no_round_silence_for_ordinary_gaps_or_finished_streams() -> None:
    timeline = paced(text("a"), text("b"), step=0.05)
    assert "round_silence_close" not in codes(rec(timeline, t_end=timeline[-1][0] + 7.3))
    finished = [(0.1, text("a")), (10.1, DONE)]
    assert "round_silence_close" not in codes(rec(finished, t_end=10.1))


# -- resume -------------------------------------------------------------------------------


def _resume(reference: Recording, second_blocks: Sequence[bytes]) -> ResumeRecording:
    cut = resume_cut_point(reference)
    assert cut is not None
    first = replay(Request("http://x"), 200, SSE, [(0.1, b"".join(_raw(reference)[:cut]))])
    first.end = END_CUT
    last = first.events[-1].id
    assert last is not None
    second = replay(Request("http://x"), 200, SSE, paced(*second_blocks))
    return ResumeRecording(first, second, last)


def _raw(reference: Recording) -> list[bytes]:
    out = []
    for ev in reference.events:
        name = "" if ev.event == "message" else f"event: {ev.event}\n"
        out.append(f"id: {ev.id}\n{name}data: {ev.data}\n\n".encode())
    return out


def test_resume_cut_point_is_mid_stream_on_an_event_with_an_id() -> None:
    reference = rec(healthy(6))  # 7 events, ids 0..6
    assert resume_cut_point(reference) == 3
    assert resume_cut_point(rec(paced(text("a"), text("b")))) is None
    assert resume_cut_point(rec(paced(b"id: 0\n" + DONE))) is None


@pytest.mark.parametrize(
    ("rest", "code"),
    [
        (slice(3, None), "resume_ok"),
        (slice(0, None), "resume_repeated_events"),
        (slice(5, None), "resume_lost_events"),
    ],
)
def test_resume_outcomes_by_id(rest: slice, code: str) -> None:
    reference = rec(healthy(6))
    report = analyse(
        reference, resume=_resume(reference, _raw(reference)[rest]), resume_requested=True
    )
    assert code in report.codes
    assert report.resume is not None and report.resume["last_event_id"] == "2"


def test_resume_outcomes_by_content_when_ids_are_not_numbers() -> None:
    blocks = [f"id: k{i}\n".encode() + text(f"t{i}") for i in range(6)]
    reference = rec(paced(*blocks, b"id: kend\n" + DONE))
    raw = _raw(reference)
    for rest, code in [
        (raw[3:], "resume_ok"),
        (raw, "resume_repeated_events"),
        (raw[5:], "resume_lost_events"),
        ([text("other"), DONE], "resume_diverged"),
    ]:
        report = analyse(reference, resume=_resume(reference, rest), resume_requested=True)
        assert code in report.codes, code


def test_resume_cannot_be_tested_without_ids_or_a_long_enough_stream() -> None:
    assert "resume_no_ids" in codes(rec(paced(text("a"), DONE)), resume_requested=True)
    short = rec(paced(b"id: 0\n" + DONE))
    assert "resume_not_tested" in codes(short, resume_requested=True)


def test_resume_failed_when_the_reconnect_is_not_sse() -> None:
    reference = rec(healthy(6))
    resumed = _resume(reference, [])
    resumed.second = replay(Request("http://x"), 404, [], [(0.1, b"gone")])
    assert "resume_failed" in codes(reference, resume=resumed, resume_requested=True)


# -- the report ---------------------------------------------------------------------------


def test_the_json_document() -> None:
    report = analyse(rec(SEED), expect_events=["complete"])
    doc = json.loads(report.dumps())
    assert doc["exit_code"] == EXIT_PROBLEM and doc["verdict"] == "problem"
    assert doc["end"]["signal"]["kind"] == "final_flag"
    assert doc["events"]["names"][0]["name"] == "content"
    assert doc["events"]["names"][0]["types"] == {"status": 2, "content": 3}
    assert {f["code"] for f in doc["findings"]} >= {"expected_event_missing", "named_events_only"}
    assert all(f["fix"] for f in doc["findings"] if f["verdict"] == "problem")
    assert set(doc["timing"]) >= {
        "headers_s",
        "first_event_s",
        "first_text_s",
        "longest_silence_events_s",
        "longest_silence_bytes_s",
    }


def test_a_resumed_connection_that_never_ends_is_stalled() -> None:
    reference = rec(healthy(6))
    resumed = _resume(reference, _raw(reference)[3:-1])
    resumed.second.end, resumed.second.error = END_TIMEOUT, "still open after 30 s"
    report = analyse(reference, resume=resumed, resume_requested=True)
    assert {"resume_ok", "resume_stalled"} <= set(report.codes)


def test_a_connection_broken_after_a_round_silence_is_flagged_too() -> None:
    broken = rec([(0.1, text("a"))], end=END_BROKEN, t_end=60.1)
    broken.error = "RemoteProtocolError: peer closed connection"
    assert {"connection_broken", "round_silence_close"} <= set(codes(broken))
