"""The consuming side of a stream: what a client concludes from what it received.

Strategy: ``ConsumerState`` is what the client's ``EventStream`` drives across the
connections of one logical stream; it decides the outcome, holds a retryable error while the
stream resumes, and says why a stream was interrupted (the rules are in the package
docstring, ``surestream.lifecycle``). Sans-IO.
"""

from __future__ import annotations

from surestream.events import Done, Error

__all__ = ["ConsumerState"]


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
