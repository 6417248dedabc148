"""The stream's lifecycle, sans-IO: every rule about what a stream says and when it ends.

Strategy: like h11's ``_state.py``, everything that decides the shape of a stream lives here,
once; ``EventStreamResponse``, the hub's producer and the client's ``EventStream`` drive it and
do only the I/O. Nothing here reads a clock, sleeps or touches a socket: time is an argument
(``now``, in seconds of any monotonic clock), so the tests are tables.

The grammar. ``Start? (content)* (Done | Error)``: at most one ``Start``, first; any number of
content events (``Text``, ``Reasoning``, ``ToolCallStart``, ``ToolCallDelta``, ``ToolCall``,
``ToolResult``, ``Step``, ``Status``, ``Data``, and ``Unknown`` passed through); exactly one
terminal event, always last, then nothing.

The producer side (``ProducerState``, ``verdict``, ``failure_verdict``):

- *seqs*. Events are numbered from ``first_seq``; the seq is the SSE ``id:``. A journal
  source brings its own seqs, ``(seq, event)`` pairs, and the state follows them.
- *the verdict id*. A verdict the producer makes up (a timeout, a shutdown, a failure) takes
  the next seq in a plain stream that has written an event. In a journal, or before any
  event, it is *made up at the resume point*: it carries the id of the last event written
  (``first_seq - 1`` before any, the client's own ``Last-Event-ID``), or no id when there is
  none, so a client resuming from it loses nothing.
- *the failure -> verdict table* (``Ending``): how every way a stream can end, other than its
  source's own terminal event, becomes the one terminal event.
- *activity and deadlines*. Any event from the source is activity (reasoning and
  tool-argument deltas included: a model that thinks aloud is not idle). Until the first
  event other than ``Start``, ``first_event_timeout`` replaces ``idle_timeout``;
  ``max_duration`` counts from the start; ``heartbeat`` from the last write.

The consumer side (``ConsumerState``), what a client concludes from what it received:

- *outcome*: the first terminal event it accepts ends the stream, and is its outcome;
- *held retryable error*: an ``Error`` with ``retryable`` while the stream can still resume is
  held back and the client reconnects from the id *before* it. The server's answer decides:
  new events drop the held error (the stream went on); the same error again at the same id
  (a verdict made up at the resume point) becomes the outcome; no answer at all (resuming
  failed) delivers the held error as the outcome rather than an interruption;
- *interruption*: a stream that ends without an outcome (and nothing held) is interrupted,
  never done, and says why.

Resume ids (``parse_seq``): a seq is 1 to ``MAX_SEQ_DIGITS`` ASCII digits, nothing else.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from surestream.errors import SourceFailed
from surestream.events import (
    EVENT_TYPES,
    RETRYABLE,
    Done,
    Error,
    ErrorCode,
    Event,
    FinishReason,
    Start,
    Text,
)

__all__ = [
    "DEFAULT_CLIENT_IDLE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_IDLE_TIMEOUT",
    "MAX_SEQ_DIGITS",
    "Clock",
    "ConsumerState",
    "Ending",
    "ProducerState",
    "Timeouts",
    "failure_verdict",
    "parse_seq",
    "verdict",
]

Clock: TypeAlias = Callable[[], float]
"""A monotonic clock in seconds (``time.monotonic``); the I/O layers take one to be testable."""

DEFAULT_HEARTBEAT = 15.0
"""Seconds without a write after which a ``: ping`` comment is sent (proxies keep the line)."""

DEFAULT_IDLE_TIMEOUT = 300.0
"""Seconds a stream's source may go without any event before the stream ends with ``error``
``idle_timeout``. Every event counts, ``Reasoning`` and ``ToolCallDelta`` included."""

DEFAULT_CLIENT_IDLE_TIMEOUT = DEFAULT_IDLE_TIMEOUT + 30.0
"""Seconds a client waits on the network without a complete event (heartbeats do not count)
before it ends the stream as interrupted: longer than ``DEFAULT_IDLE_TIMEOUT``, so the
server's own ``idle_timeout`` verdict arrives first."""

MAX_SEQ_DIGITS = 18
"""Digits of the largest seq an id may name (below 2**63, so every store can hold it)."""


def parse_seq(event_id: str | None) -> int | None:
    """The seq an SSE ``id`` (or ``Last-Event-ID``) names, or None when it names none.

    A seq is 1 to ``MAX_SEQ_DIGITS`` ASCII digits: ``"³"``, ``"٣"`` (digits to ``isdigit``),
    ``"-1"``, ``" 7"``, ``"1e3"`` and ``""`` are not seqs.
    """
    if (
        event_id is None
        or not 0 < len(event_id) <= MAX_SEQ_DIGITS
        or not event_id.isascii()
        or not event_id.isdigit()
    ):
        return None
    return int(event_id)


# -- the failure -> verdict table ---------------------------------------------------------------


class Ending(enum.Enum):
    """Every way a stream ends other than with its source's own terminal event."""

    SOURCE_ENDED = "source_ended"
    """The source ran out without a terminal event: ``done`` ``stop``."""
    SOURCE_LOST = "source_lost"
    """The source stopped and nothing ended the stream (a bug): ``error`` ``internal_error``."""
    JOURNAL_FULL = "journal_full"
    """The journal reached ``max_events``: ``done`` ``length``."""
    CANCELLED = "cancelled"
    """Someone cancelled the stream: ``done`` ``cancelled``."""
    ORPHANED = "orphaned"
    """No subscriber anywhere for ``orphan_grace``: ``done`` ``cancelled``."""
    SHUTDOWN = "shutdown"
    """The server shuts down: ``error`` ``server_shutdown`` (retryable)."""
    PRODUCER_LOST = "producer_lost"
    """The producer's lease ran out (its process died): ``error`` ``producer_lost``."""
    MAX_DURATION = "max_duration"
    """The stream ran for ``max_duration``: ``error`` ``max_duration``."""
    IDLE = "idle"
    """The source sent nothing for ``idle_timeout``: ``error`` ``idle_timeout``."""
    FIRST_EVENT = "first_event"
    """No first event within ``first_event_timeout``: ``error`` ``first_event_timeout``."""


_INTERNAL_ERROR = Error.of(ErrorCode.INTERNAL_ERROR, "internal error")
_FIXED: dict[Ending, Done | Error] = {
    Ending.SOURCE_ENDED: Done(),
    Ending.SOURCE_LOST: _INTERNAL_ERROR,
    Ending.JOURNAL_FULL: Done(FinishReason.LENGTH),
    Ending.CANCELLED: Done(FinishReason.CANCELLED),
    Ending.ORPHANED: Done(FinishReason.CANCELLED),
    Ending.SHUTDOWN: Error.of(ErrorCode.SERVER_SHUTDOWN, "the server is shutting down"),
    Ending.PRODUCER_LOST: Error.of(
        ErrorCode.PRODUCER_LOST, "the process generating this stream stopped"
    ),
}


def verdict(ending: Ending, limit: float | None = None) -> Done | Error:
    """The terminal event for ``ending``; ``limit`` (seconds) for the three time limits."""
    fixed = _FIXED.get(ending)
    if fixed is not None:
        return fixed
    if limit is None:
        raise ValueError(f"the verdict for {ending.name} needs its limit")
    if ending is Ending.MAX_DURATION:
        return Error.of(ErrorCode.MAX_DURATION, f"the stream ran for {limit:g} s")
    code = ErrorCode.IDLE_TIMEOUT if ending is Ending.IDLE else ErrorCode.FIRST_EVENT_TIMEOUT
    return Error.of(code, f"the source sent nothing for {limit:g} s")


def failure_verdict(exc: BaseException) -> Error:
    """The terminal event for a source that raised ``exc``.

    ``SourceFailed``: an ``error`` with its code and message (retryable as the code's
    documented default unless it says). Anything else: ``internal_error``, with no detail
    (the caller logs the traceback; the client never sees it).
    """
    if not isinstance(exc, SourceFailed):
        return _INTERNAL_ERROR
    retryable = exc.code in RETRYABLE if exc.retryable is None else exc.retryable
    return Error(exc.code, exc.message or exc.code.replace("_", " "), retryable)


# -- the producer side -----------------------------------------------------------------------


def _check_timeout(name: str, value: float | None) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number or None")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The time limits of one stream, in seconds; None disables one.

    ``heartbeat``: a ``: ping`` after that long without a write. ``idle_timeout``: ``error``
    ``idle_timeout`` after that long without an event from the source. ``first_event_timeout``:
    ``error`` ``first_event_timeout`` when the source yields nothing but ``Start`` for that long
    (until then it replaces ``idle_timeout``, so a slow first token may take longer than later
    silences). ``max_duration``: ``error`` ``max_duration`` once the stream is that old.
    """

    heartbeat: float | None = DEFAULT_HEARTBEAT
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    first_event_timeout: float | None = None
    max_duration: float | None = None

    def __post_init__(self) -> None:
        for name in ("heartbeat", "idle_timeout", "first_event_timeout", "max_duration"):
            _check_timeout(name, getattr(self, name))


NO_TIMEOUTS = Timeouts(heartbeat=None, idle_timeout=None)
"""No time limit at all (the hub's producers: the gateway bounds its sources itself)."""


class ProducerState:
    """One stream on the producing side: its seqs, its terminal event and its deadlines.

    ``now`` is the time the stream starts; ``first_seq`` the seq of its first event (a
    resumed journal starts after the client's ``Last-Event-ID``); ``journal`` says the source
    yields ``(seq, event)`` pairs with their own seqs instead of events.

    A driver calls ``opening`` when it writes ``Start`` itself, ``accept`` for each source
    item (``next_text`` for a plain ``str``, the hot path), ``activity`` when events arrived,
    ``conclude`` with a verdict when something other than the source ends the stream, and
    ``due``/``next_deadline`` to know when to look again.
    """

    __slots__ = (
        "content_from",
        "first_seq",
        "journal",
        "last_activity",
        "next_seq",
        "started_at",
        "terminal",
        "timeouts",
    )

    def __init__(
        self,
        now: float,
        *,
        timeouts: Timeouts = NO_TIMEOUTS,
        first_seq: int = 0,
        journal: bool = False,
    ) -> None:
        if first_seq < 0:
            raise ValueError("first_seq must be >= 0")
        self.timeouts = timeouts
        self.first_seq = first_seq
        self.journal = journal
        self.next_seq = first_seq
        """The seq of the next event; ``next_seq - 1`` is the last one written (or given)."""
        self.content_from = first_seq
        """Seqs from here on are content; a ``Start`` moves it past itself."""
        self.terminal: Done | Error | None = None
        """The stream's one terminal event, once there is one."""
        self.started_at = now
        self.last_activity = now

    @property
    def has_content(self) -> bool:
        """True once an event other than ``Start`` was written."""
        return self.next_seq > self.content_from

    def opening(self, stream: str | None, model: str | None) -> tuple[int, Start]:
        """The ``Start`` event the driver writes itself, first, with its seq."""
        if self.next_seq != self.first_seq:
            raise RuntimeError("Start must be the first event of a stream")
        seq = self.next_seq
        self.next_seq = self.content_from = seq + 1
        return seq, Start(stream, model)

    def next_text(self) -> int:
        """The seq of the next content event; the fast path of ``accept`` for ``str`` items.

        A driver's per-token loop may inline it (``seq = state.next_seq; state.next_seq =
        seq + 1``) where a call per token shows in its throughput.
        """
        seq = self.next_seq
        self.next_seq = seq + 1
        return seq

    def accept(self, item: object) -> tuple[int, Event] | None:
        """The seq and event to write for one source item, or None to skip it.

        A plain source yields events or ``str`` (taken as ``Text``); a journal source
        ``(seq, event)`` pairs. A ``Start`` after the first event is skipped (the driver, or
        the journal, has written one). After a terminal event nothing is accepted (None).
        Anything else raises ``TypeError``.
        """
        if self.terminal is not None:
            return None
        if self.journal:
            if not (
                type(item) is tuple
                and len(item) == 2
                and type(item[0]) is int
                and isinstance(item[1], EVENT_TYPES)
            ):
                raise TypeError(f"a journal source yielded {_name(item)}, not a (seq, event) pair")
            seq: int = item[0]
            event: Event = item[1]
            if type(event) is Start:
                self.content_from = seq + 1
            self.next_seq = seq + 1
        else:
            if type(item) is str:
                event = Text(item)
            elif isinstance(item, EVENT_TYPES):
                event = item
            elif type(item) is tuple and len(item) == 2:
                raise TypeError("a source of (seq, event) pairs needs journal=True")
            else:
                raise TypeError(f"event source yielded {_name(item)}, not an event or a str")
            seq = self.next_seq
            if type(event) is Start:
                if seq != self.first_seq:
                    return None
                self.content_from = seq + 1
            self.next_seq = seq + 1
        if isinstance(event, Done | Error):
            self.terminal = event
        return seq, event

    def conclude(self, event: Done | Error) -> bool:
        """Make ``event`` the terminal event unless there is one already; True if it now is."""
        if self.terminal is not None:
            return False
        self.terminal = event
        return True

    def verdict_id(self) -> int | None:
        """The id a verdict made up by the producer carries on the wire (None: no id).

        The next seq in a plain stream that wrote an event; else the last seq written (made
        up at the resume point), or none when there is none.
        """
        if not self.journal and self.next_seq > self.first_seq:
            return self.next_seq
        last = self.next_seq - 1
        return last if last >= 0 else None

    def activity(self, now: float) -> None:
        """The source produced events at ``now`` (every event counts)."""
        self.last_activity = now

    def silence_limit(self) -> tuple[float, Ending] | None:
        """How long the source may stay silent now, and how the stream ends when it does."""
        timeouts = self.timeouts
        if timeouts.first_event_timeout is not None and not self.has_content:
            return timeouts.first_event_timeout, Ending.FIRST_EVENT
        if timeouts.idle_timeout is not None:
            return timeouts.idle_timeout, Ending.IDLE
        return None

    def due(
        self, now: float, *, shutting_down: bool = False, source_stopped: bool = False
    ) -> Done | Error | None:
        """The verdict the state calls for at ``now``, if any (checked in this order).

        ``shutting_down``: the server is going away. ``source_stopped``: the source's task
        ended without a verdict. Then ``max_duration``, then the silence limit.
        """
        if self.terminal is not None:
            return None
        if shutting_down:
            return verdict(Ending.SHUTDOWN)
        if source_stopped:
            return verdict(Ending.SOURCE_LOST)
        max_duration = self.timeouts.max_duration
        if max_duration is not None and now - self.started_at >= max_duration:
            return verdict(Ending.MAX_DURATION, max_duration)
        silence = self.silence_limit()
        if silence is not None and now - self.last_activity >= silence[0]:
            return verdict(silence[1], silence[0])
        return None

    def heartbeat_due(self, now: float, last_write: float) -> bool:
        """Whether a heartbeat is due at ``now`` after a write at ``last_write``."""
        heartbeat = self.timeouts.heartbeat
        return heartbeat is not None and now - last_write >= heartbeat

    def next_deadline(self, last_write: float) -> float | None:
        """When the next heartbeat or limit falls due (None: never, absent new events)."""
        timeouts = self.timeouts
        deadline = math.inf
        if timeouts.heartbeat is not None:
            deadline = last_write + timeouts.heartbeat
        if timeouts.max_duration is not None:
            deadline = min(deadline, self.started_at + timeouts.max_duration)
        silence = self.silence_limit()
        if silence is not None:
            deadline = min(deadline, self.last_activity + silence[0])
        return None if deadline == math.inf else deadline


def _name(item: object) -> str:
    return type(item).__name__


# -- the consumer side -----------------------------------------------------------------------


class ConsumerState:
    """What a client concludes from one logical stream, across its connections.

    A driver (the client's ``EventStream``) reports what happens: ``arrived`` when a
    connection brought SSE events and ``progress`` when they are new (not replays),
    ``received`` before decoding each SSE event with its ``id`` field, ``terminal`` for a
    decoded terminal event, ``lost`` when a connection ended or failed, and ``finish`` when
    it will not connect again. It reads ``outcome``, ``interruption``,
    ``last_event_id`` (what to send as ``Last-Event-ID``) and ``can_resume``.

    ``resumable`` is False when the caller turned resuming off or the stream has no URL to
    resume from; ``give_up_resuming`` turns it off later.
    """

    __slots__ = (
        "_held",
        "_held_id",
        "_id_before",
        "_reason",
        "_received_any",
        "interruption",
        "last_event_id",
        "outcome",
        "resumable",
    )

    def __init__(self, *, resumable: bool = True) -> None:
        self.outcome: Done | Error | None = None
        """The terminal event the stream ended with (None before, and when interrupted)."""
        self.interruption: str | None = None
        """Why the stream ended without an outcome (None otherwise)."""
        self.last_event_id: str | None = None
        """The id of the last event received: what a reconnection sends as Last-Event-ID."""
        self.resumable = resumable
        self._received_any = False
        self._id_before: str | None = None
        self._held: Error | None = None
        self._held_id: str | None = None
        self._reason = "the connection ended without a terminal event"

    @property
    def held(self) -> Error | None:
        """The retryable error held back while the stream resumes, if any."""
        return self._held

    @property
    def can_resume(self) -> bool:
        """Whether a new connection may continue the stream.

        Only with an id to resume from, or before the first event: a stream whose events
        carry no id cannot be resumed without repeating them.
        """
        return self.resumable and (self.last_event_id is not None or not self._received_any)

    def received(self, event_id: str | None) -> None:
        """An SSE event is about to be decoded; ``event_id`` is its ``id`` field (None: none)."""
        self._id_before = self.last_event_id
        if event_id is not None:
            self.last_event_id = event_id

    def arrived(self) -> None:
        """A connection brought SSE events (replays included): the stream has begun."""
        self._received_any = True

    def progress(self) -> None:
        """A connection brought new events (not replays): the stream went on after a held
        error, which is dropped."""
        self._received_any = True
        self._held = None

    def terminal(self, event: Done | Error) -> bool:
        """A terminal event arrived; True when it is held back (reconnect), False when it is
        the outcome (the stream is over).

        A retryable ``Error`` is held while the stream can resume, and the client resumes
        from the id before it. If the same error comes back at the same id, the server made
        it up at the resume point and means it: it is the outcome.

        Why resuming from the id *before* the error is safe: a journaled error is replayed
        (the same id: the outcome), a made-up one is not in the journal, so what the server
        sends next is either newer events (``progress`` drops the held error) or the verdict.
        """
        if isinstance(event, Error) and event.retryable and self.can_resume:
            replayed = self._held is not None and self.last_event_id == self._held_id
            if not replayed:
                self._held, self._held_id = event, self.last_event_id
                self.last_event_id = self._id_before
                self._reason = f"the server sent a retryable error ({event.code})"
                return True
        self.outcome = event
        self._held = None
        return False

    def lost(self, reason: str) -> None:
        """A connection ended or failed without a terminal event, because of ``reason``."""
        self._reason = reason

    @property
    def reason(self) -> str:
        """Why the last connection ended without a terminal event."""
        return self._reason

    def give_up_holding(self) -> None:
        """Drop a held error: the stream ends for a reason of the client's own (idle)."""
        self._held = None

    def finish(self) -> Error | None:
        """No more connections. A held error becomes the outcome and is returned (deliver
        it); otherwise the stream is interrupted (``interruption`` says why) and None."""
        held, self._held = self._held, None
        if held is not None:
            self.resumable = False
            self.outcome = held
            return held
        if self.outcome is None:
            self.interruption = self._reason
        return None
