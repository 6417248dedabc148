"""The producing side of a stream: its seqs, its one terminal event and its deadlines.

Strategy: ``ProducerState`` is what ``EventStreamResponse`` and the hub's producer drive; it
returns values (the seq and event to write, the verdict due at ``now``, the next deadline)
and does no I/O. The rules it applies (the verdict id, activity, which limit is running) are
in the package docstring (``surestream.lifecycle``). Sans-IO.
"""

from __future__ import annotations

import math

from surestream.events import EVENT_TYPES, TERMINAL_TYPES, Done, Error, Event, Start, Text
from surestream.lifecycle._limits import NO_TIMEOUTS, Timeouts
from surestream.lifecycle._verdicts import Ending, verdict

__all__ = ["ProducerState"]


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
        if isinstance(event, TERMINAL_TYPES):
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
