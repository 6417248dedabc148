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

from surestream.lifecycle._consumer import ConsumerState
from surestream.lifecycle._limits import (
    DEFAULT_CLIENT_IDLE_TIMEOUT,
    DEFAULT_HEARTBEAT,
    DEFAULT_IDLE_TIMEOUT,
    MAX_SEQ_DIGITS,
    NO_TIMEOUTS,
    Clock,
    Timeouts,
    parse_seq,
)
from surestream.lifecycle._producer import ProducerState
from surestream.lifecycle._verdicts import Ending, failure_verdict, verdict

__all__ = [
    "DEFAULT_CLIENT_IDLE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_IDLE_TIMEOUT",
    "MAX_SEQ_DIGITS",
    "NO_TIMEOUTS",
    "Clock",
    "ConsumerState",
    "Ending",
    "ProducerState",
    "Timeouts",
    "failure_verdict",
    "parse_seq",
    "verdict",
]
