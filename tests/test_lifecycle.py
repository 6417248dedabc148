"""The stream's lifecycle as tables: grammar, seqs, verdicts, deadlines, consumer rules, ids."""

from __future__ import annotations

from typing import Any

import pytest

from surestream.errors import SourceFailed
from surestream.events import (
    Data,
    Done,
    Error,
    Event,
    Reasoning,
    Start,
    Status,
    Step,
    Text,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResult,
    Unknown,
)
from surestream.lifecycle import (
    DEFAULT_CLIENT_IDLE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    MAX_SEQ_DIGITS,
    ConsumerState,
    Ending,
    ProducerState,
    Timeouts,
    failure_verdict,
    parse_seq,
    verdict,
)

CONTENT: list[Event] = [
    Text("a"),
    Reasoning("hmm"),
    ToolCallStart("c1", "search"),
    ToolCallDelta("c1", '{"q":'),
    ToolCall("c1", "search", {"q": 1}),
    ToolResult("c1", {"hits": 0}),
    Step("agent"),
    Status("searching"),
    Data({"k": 1}, "cite"),
    Unknown("future", {"type": "future"}),
]


def run(state: ProducerState, items: list[Any]) -> list[tuple[int, Event] | None]:
    return [state.accept(item) for item in items]


# -- the grammar and the seqs ------------------------------------------------------------------


def test_every_content_event_takes_the_next_seq() -> None:
    state = ProducerState(0.0)
    assert state.opening("st_1", "m") == (0, Start("st_1", "m"))
    got = run(state, [*CONTENT, "plain", Done()])
    assert got == [(seq, ev) for seq, ev in enumerate([*CONTENT, Text("plain"), Done()], 1)]
    assert state.terminal == Done()


@pytest.mark.parametrize(
    ("items", "expected", "terminal"),
    [
        ([Start("s"), "a"], [(0, Start("s")), (1, Text("a"))], None),
        (["a", Start("late")], [(0, Text("a")), None], None),
        (["a", Done(), "after", Error("x")], [(0, Text("a")), (1, Done()), None, None], Done()),
        ([Error("boom"), Done()], [(0, Error("boom")), None], Error("boom")),
        ([Start(), Start()], [(0, Start()), None], None),
    ],
    ids=["own-start", "late-start-skipped", "nothing-after-done", "first-terminal-wins", "two"],
)
def test_the_grammar(
    items: list[Any], expected: list[tuple[int, Event] | None], terminal: Event | None
) -> None:
    state = ProducerState(0.0)
    assert run(state, items) == expected
    assert state.terminal == terminal


def test_a_source_start_is_skipped_after_the_drivers_own() -> None:
    state = ProducerState(0.0, first_seq=5)
    state.opening(None, None)
    assert run(state, [Start("src"), "a"]) == [None, (6, Text("a"))]


def test_opening_must_come_first() -> None:
    state = ProducerState(0.0)
    state.accept("a")
    with pytest.raises(RuntimeError):
        state.opening(None, None)


@pytest.mark.parametrize(
    ("journal", "item", "message"),
    [
        (False, 42, "int, not an event or a str"),
        (False, (0, Text("a")), "needs journal=True"),
        (True, "a", "str, not a (seq, event) pair"),
        (True, (0, "a"), "tuple, not a (seq, event) pair"),
        (True, ("0", Text("a")), "tuple, not a (seq, event) pair"),
    ],
)
def test_bad_items_raise_type_error(journal: bool, item: object, message: str) -> None:
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ProducerState(0.0, journal=journal).accept(item)


def test_a_journal_keeps_its_own_seqs() -> None:
    state = ProducerState(0.0, first_seq=3, journal=True)
    assert run(state, [(3, Text("c")), (4, Done())]) == [(3, Text("c")), (4, Done())]
    assert state.terminal == Done()


def test_next_text_is_accept_without_the_text_object() -> None:
    fast, slow = ProducerState(0.0, first_seq=2), ProducerState(0.0, first_seq=2)
    accepted = [slow.accept(char) for char in "ab"]
    assert [fast.next_text(), fast.next_text()] == [pair[0] for pair in accepted if pair]
    assert fast.next_seq == slow.next_seq == 4


# -- the verdict id: next seq, or made up at the resume point -----------------------------------


@pytest.mark.parametrize(
    ("journal", "first_seq", "opening", "items", "verdict_id"),
    [
        (False, 0, True, [], 1),
        (False, 0, True, ["a", "b"], 3),
        (False, 0, False, [], None),
        (False, 4, False, [], 3),
        (False, 4, False, ["a"], 5),
        (True, 0, False, [], None),
        (True, 8, False, [], 7),
        (True, 7, False, [(7, Text("h"))], 7),
        (True, 0, False, [(0, Start()), (1, Text("a"))], 1),
    ],
    ids=[
        "plain-after-start",
        "plain-after-text",
        "plain-nothing-no-id",
        "plain-nothing-resumed",
        "plain-resumed-then-text",
        "journal-nothing-no-id",
        "journal-nothing-resumed",
        "journal-after-event",
        "journal-from-start",
    ],
)
def test_the_verdict_id(
    journal: bool, first_seq: int, opening: bool, items: list[Any], verdict_id: int | None
) -> None:
    state = ProducerState(0.0, first_seq=first_seq, journal=journal)
    if opening:
        state.opening(None, None)
    run(state, items)
    assert state.conclude(verdict(Ending.SHUTDOWN))
    assert state.verdict_id() == verdict_id
    assert not state.conclude(Done()), "exactly one terminal"
    assert state.terminal == verdict(Ending.SHUTDOWN)


# -- the failure -> verdict table -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "limit", "expected"),
    [
        (Ending.SOURCE_ENDED, None, Done("stop")),
        (Ending.SOURCE_LOST, None, Error("internal_error", "internal error", False)),
        (Ending.JOURNAL_FULL, None, Done("length")),
        (Ending.CANCELLED, None, Done("cancelled")),
        (Ending.ORPHANED, None, Done("cancelled")),
        (Ending.SHUTDOWN, None, Error("server_shutdown", "the server is shutting down", True)),
        (
            Ending.PRODUCER_LOST,
            None,
            Error("producer_lost", "the process generating this stream stopped", True),
        ),
        (Ending.MAX_DURATION, 60.0, Error("max_duration", "the stream ran for 60 s", False)),
        (Ending.IDLE, 0.5, Error("idle_timeout", "the source sent nothing for 0.5 s", False)),
        (
            Ending.FIRST_EVENT,
            30.0,
            Error("first_event_timeout", "the source sent nothing for 30 s", False),
        ),
    ],
)
def test_the_verdict_table(ending: Ending, limit: float | None, expected: Event) -> None:
    assert verdict(ending, limit) == expected


def test_every_ending_has_a_verdict() -> None:
    for ending in Ending:
        assert isinstance(verdict(ending, 1.0), Done | Error)


def test_a_time_limit_verdict_needs_its_limit() -> None:
    with pytest.raises(ValueError, match="needs its limit"):
        verdict(Ending.IDLE)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SourceFailed("upstream_error"), Error("upstream_error", "upstream error", False)),
        (SourceFailed("upstream_timeout", "slow"), Error("upstream_timeout", "slow", True)),
        (SourceFailed("rate_limited", retryable=False), Error("rate_limited", "rate limited")),
        (SourceFailed("my_code", "x", retryable=True), Error("my_code", "x", True)),
        (RuntimeError("secret /etc/passwd"), Error("internal_error", "internal error", False)),
        (TypeError("bad item"), Error("internal_error", "internal error", False)),
    ],
)
def test_a_failure_becomes_an_error(exc: BaseException, expected: Error) -> None:
    assert failure_verdict(exc) == expected


# -- activity and deadlines -------------------------------------------------------------------

LIMITS = Timeouts(heartbeat=15.0, idle_timeout=100.0, first_event_timeout=30.0, max_duration=500.0)


@pytest.mark.parametrize(
    ("events_at", "now", "flags", "expected"),
    [
        ([], 29.9, {}, None),
        ([], 30.0, {}, verdict(Ending.FIRST_EVENT, 30.0)),
        ([10.0], 39.9, {}, None),
        ([10.0], 109.9, {}, None),
        ([10.0], 110.0, {}, verdict(Ending.IDLE, 100.0)),
        ([10.0, 90.0, 180.0, 270.0, 360.0, 450.0], 500.0, {}, verdict(Ending.MAX_DURATION, 500.0)),
        ([], 1.0, {"shutting_down": True}, verdict(Ending.SHUTDOWN)),
        ([], 1.0, {"source_stopped": True}, verdict(Ending.SOURCE_LOST)),
        ([], 999.0, {"shutting_down": True}, verdict(Ending.SHUTDOWN)),
    ],
    ids=[
        "first-event-not-yet",
        "first-event-timeout",
        "first-event-replaced-by-idle",
        "idle-not-yet",
        "idle-timeout",
        "max-duration-despite-activity",
        "shutdown",
        "source-stopped",
        "shutdown-wins",
    ],
)
def test_due(
    events_at: list[float], now: float, flags: dict[str, bool], expected: Event | None
) -> None:
    state = ProducerState(0.0, timeouts=LIMITS)
    state.opening(None, None)
    for at in events_at:
        state.accept("tok")
        state.activity(at)
    assert state.due(now, **flags) == expected


@pytest.mark.parametrize("event", CONTENT, ids=lambda e: e.type)
def test_every_event_is_activity_for_the_idle_rule(event: Event) -> None:
    state = ProducerState(0.0, timeouts=Timeouts(heartbeat=None, idle_timeout=10.0))
    state.accept(event)
    state.activity(9.0)
    assert state.due(18.9) is None
    assert state.due(19.0) == verdict(Ending.IDLE, 10.0)


def test_nothing_is_due_after_the_terminal() -> None:
    state = ProducerState(0.0, timeouts=LIMITS)
    state.accept(Done())
    assert state.due(1e9, shutting_down=True) is None


@pytest.mark.parametrize(
    ("timeouts", "last_write", "events_at", "deadline"),
    [
        (LIMITS, 0.0, [], 15.0),
        (LIMITS, 20.0, [], 30.0),
        (LIMITS, 20.0, [25.0], 35.0),
        (Timeouts(heartbeat=None, first_event_timeout=30.0), 0.0, [], 30.0),
        (Timeouts(heartbeat=None), 0.0, [50.0], 350.0),
        (Timeouts(heartbeat=None, idle_timeout=None, max_duration=60.0), 0.0, [5.0], 60.0),
        (Timeouts(heartbeat=None, idle_timeout=None), 0.0, [], None),
    ],
    ids=["heartbeat", "first-event", "heartbeat-after-write", "first", "idle", "max", "none"],
)
def test_next_deadline(
    timeouts: Timeouts, last_write: float, events_at: list[float], deadline: float | None
) -> None:
    state = ProducerState(0.0, timeouts=timeouts)
    for at in events_at:
        state.accept("tok")
        state.activity(at)
    assert state.next_deadline(last_write) == deadline


@pytest.mark.parametrize(("now", "due"), [(14.9, False), (15.0, True)])
def test_heartbeat_due(now: float, due: bool) -> None:
    assert ProducerState(0.0, timeouts=LIMITS).heartbeat_due(now, 0.0) is due
    assert not ProducerState(0.0).heartbeat_due(1e9, 0.0), "no heartbeat without one set"


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["heartbeat", "idle_timeout", "first_event_timeout"])
def test_timeouts_must_be_positive(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=name):
        Timeouts(**{name: bad})


def test_one_idle_default_and_the_clients_is_longer() -> None:
    assert DEFAULT_IDLE_TIMEOUT == Timeouts().idle_timeout == 300.0
    assert DEFAULT_CLIENT_IDLE_TIMEOUT > DEFAULT_IDLE_TIMEOUT


# -- resume ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seq"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("9" * MAX_SEQ_DIGITS, int("9" * MAX_SEQ_DIGITS)),
        ("9" * (MAX_SEQ_DIGITS + 1), None),
        ("³", None),
        ("1³", None),
        ("٣", None),
        ("１", None),
        ("-1", None),
        (" 7", None),
        ("7 ", None),
        ("1e3", None),
        ("+1", None),
        ("1_000", None),
        ("", None),
        ("st_1", None),
        (None, None),
    ],
)
def test_parse_seq_takes_ascii_digits_only(text: str | None, seq: int | None) -> None:
    assert parse_seq(text) == seq


# -- the consumer side ----------------------------------------------------------------------

SHUTDOWN = verdict(Ending.SHUTDOWN)
assert isinstance(SHUTDOWN, Error)


def feed(state: ConsumerState, script: list[tuple[str, Any]]) -> list[str]:
    """Drive a ConsumerState the way the client does; what it decided at each terminal."""
    said = []
    for step, arg in script:
        if step == "event":
            event_id, event = arg
            state.arrived()
            state.progress()
            state.received(event_id)
            if isinstance(event, Done | Error):
                said.append("held" if state.terminal(event) else "outcome")
        elif step == "replay":
            state.arrived()
            state.received(arg[0])
            said.append("held" if state.terminal(arg[1]) else "outcome")
        elif step == "lost":
            state.lost(arg)
        elif step == "finish":
            said.append(f"finish:{state.finish()!r}")
    return said


@pytest.mark.parametrize(
    ("resumable", "script", "said", "outcome", "last_id", "interruption"),
    [
        (
            True,
            [("event", ("0", Text("a"))), ("event", ("1", Done()))],
            ["outcome"],
            Done(),
            "1",
            None,
        ),
        (
            True,
            [("event", ("0", Text("a"))), ("event", ("1", Error("upstream_error")))],
            ["outcome"],
            Error("upstream_error"),
            "1",
            None,
        ),
        (
            True,
            [("event", ("3", Text("a"))), ("event", ("4", SHUTDOWN))],
            ["held"],
            None,
            "3",
            None,
        ),
        (
            True,
            [("event", ("3", Text("a"))), ("event", ("3", SHUTDOWN)), ("replay", ("3", SHUTDOWN))],
            ["held", "outcome"],
            SHUTDOWN,
            "3",
            None,
        ),
        (
            True,
            [("event", ("3", SHUTDOWN)), ("event", ("4", Text("b"))), ("event", ("5", Done()))],
            ["held", "outcome"],
            Done(),
            "5",
            None,
        ),
        (
            True,
            [("event", ("3", Text("a"))), ("event", ("4", SHUTDOWN)), ("finish", None)],
            ["held", f"finish:{SHUTDOWN!r}"],
            SHUTDOWN,
            "3",
            None,
        ),
        (
            False,
            [("event", ("3", Text("a"))), ("event", ("4", SHUTDOWN))],
            ["outcome"],
            SHUTDOWN,
            "4",
            None,
        ),
        (
            True,
            [("event", (None, Text("a"))), ("event", (None, SHUTDOWN))],
            ["outcome"],
            SHUTDOWN,
            None,
            None,
        ),
        (
            True,
            [("event", ("0", Text("a"))), ("lost", "reset"), ("finish", None)],
            ["finish:None"],
            None,
            "0",
            "reset",
        ),
        (
            True,
            [("finish", None)],
            ["finish:None"],
            None,
            None,
            "the connection ended without a terminal event",
        ),
    ],
    ids=[
        "done",
        "final-error",
        "retryable-held-resume-before-it",
        "same-error-at-resume-point-is-the-outcome",
        "new-events-drop-the-held-error",
        "held-error-delivered-when-resuming-fails",
        "no-resume-no-hold",
        "no-ids-no-hold",
        "interrupted",
        "nothing-at-all",
    ],
)
def test_consumer_rules(
    resumable: bool,
    script: list[tuple[str, Any]],
    said: list[str],
    outcome: Event | None,
    last_id: str | None,
    interruption: str | None,
) -> None:
    state = ConsumerState(resumable=resumable)
    assert feed(state, script) == said
    assert state.outcome == outcome
    assert state.last_event_id == last_id
    assert state.interruption == interruption


def test_a_stream_without_ids_resumes_only_before_its_first_event() -> None:
    state = ConsumerState()
    assert state.can_resume
    state.arrived()
    assert not state.can_resume
    state.received("0")
    assert state.can_resume


def test_giving_up_holding_interrupts() -> None:
    state = ConsumerState()
    feed(state, [("event", ("1", SHUTDOWN))])
    assert state.held == SHUTDOWN
    state.give_up_holding()
    state.lost("no event for 5 s (idle_timeout)")
    assert state.finish() is None
    assert state.outcome is None
    assert state.interruption == "no event for 5 s (idle_timeout)"
