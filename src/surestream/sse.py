"""The sans-IO Server-Sent Events codec: bytes in, events out; events in, bytes out.

Strategy: ``Decoder`` implements the WHATWG HTML "interpreting an event stream" algorithm
(https://html.spec.whatwg.org/multipage/server-sent-events.html) as a state machine over
bytes. It never touches a socket, never blocks and never holds back an event: the ``feed``
call whose bytes complete an event returns it. Memory is bounded by ``max_event_size``.
``encode`` is the inverse for every string: decoding its output gives back the same data.
No I/O and no asyncio are imported here.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

from surestream.errors import LocalProtocolError, SSEProtocolError

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "Decoder",
    "SSEProtocolError",
    "ServerSentEvent",
    "encode",
    "encode_comment",
]

DEFAULT_MAX_EVENT_SIZE = 1024 * 1024
"""Largest event (its pending line plus its data so far), in decoded characters."""


class ServerSentEvent(NamedTuple):
    """One dispatched event, as a browser's ``MessageEvent`` would see it.

    ``event`` is the type (``message`` when the block had no ``event`` field), ``data`` the
    joined ``data`` lines, ``id`` the last event ID at dispatch time (None if never set) and
    ``retry`` the latest reconnection time seen so far (None if never).
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def encode(self) -> bytes:
        """The wire bytes of this event (``event`` omitted when it is ``message``)."""
        return encode(
            self.data,
            event=None if self.event == "message" else self.event,
            id=self.id,
            retry=self.retry,
        )


def _check_field(name: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise LocalProtocolError(f"SSE {name} must not contain a line break: {value!r}")


def encode(
    data: str | None = "",
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Encode one event block; ``data=None`` writes no data (an id- or retry-only block).

    Data with CR, LF or CRLF inside becomes several ``data:`` lines, so ``Decoder`` gives
    back exactly ``data``. An ``event`` or ``id`` with a line break, an ``id`` with NUL, or a
    negative ``retry`` raises ``LocalProtocolError`` (a ``ValueError``).
    """
    parts: list[str] = []
    if comment is not None:
        parts.append(_comment_lines(comment))
    if retry is not None:
        if retry < 0:
            raise LocalProtocolError(f"SSE retry must be >= 0, got {retry}")
        parts.append(f"retry: {int(retry)}\n")
    if id is not None:
        _check_field("id", id)
        if "\0" in id:
            raise LocalProtocolError("SSE id must not contain NUL")
        parts.append(f"id: {id}\n")
    if event is not None:
        _check_field("event", event)
        parts.append(f"event: {event}\n")
    if data is not None:
        if "\n" in data or "\r" in data:
            lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            parts.append("".join([f"data: {line}\n" for line in lines]))
        else:
            parts.append(f"data: {data}\n")
    parts.append("\n")
    return "".join(parts).encode()


def _comment_lines(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join([f": {line}\n" if line else ":\n" for line in lines])


def encode_comment(text: str = "") -> bytes:
    """A comment block (``: text``), e.g. a heartbeat; decoders ignore it."""
    return _comment_lines(text).encode()


class Decoder:
    """Incremental WHATWG-exact SSE decoder.

    ``feed(bytes)`` returns the events its bytes complete; ``close()`` ends the stream and
    discards an unterminated final block. ``last_event_id`` and ``retry`` expose the state a
    reconnecting client needs. A pending event larger than ``max_event_size`` characters
    raises ``SSEProtocolError``.
    """

    __slots__ = (
        "_cr_pending",
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_id_seen",
        "_line",
        "_started",
        "_utf8",
        "last_event_id",
        "max_event_size",
        "retry",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        if max_event_size < 1:
            raise ValueError("max_event_size must be >= 1")
        self.max_event_size = max_event_size
        self.last_event_id: str | None = None
        self.retry: int | None = None
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False
        self._cr_pending = False
        self._line = ""
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None
        self._id_seen = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk`` and return every event it completes, in order."""
        return self._feed_text(self._utf8.decode(chunk))

    def close(self) -> list[ServerSentEvent]:
        """End of stream: flush the UTF-8 decoder and discard any unterminated block."""
        out = self._feed_text(self._utf8.decode(b"", final=True))
        self._line = ""
        self._reset_block()
        self._cr_pending = False
        return out

    def _reset_block(self) -> None:
        self._data = []
        self._data_size = 0
        self._event = ""

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            # WHATWG: "One leading U+FEFF BYTE ORDER MARK character must be ignored if any
            # are present."
            if text[0] == "\ufeff":
                text = text[1:]
        if self._cr_pending:
            self._cr_pending = False
            if text[:1] == "\n":
                text = text[1:]
        if self._line:
            text = self._line + text
        if "\r" in text:
            if text[-1] == "\r":
                self._cr_pending = True
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        self._line = lines.pop()
        if len(self._line) + self._data_size > self.max_event_size:
            self._line = ""
            raise SSEProtocolError(
                f"SSE line exceeds max_event_size ({self.max_event_size} characters)"
            )
        out: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                self._dispatch(out)
            elif line[0] != ":":
                self._field(line)
        return out

    def _field(self, line: str) -> None:
        # WHATWG: "If the line contains a U+003A COLON character (:) ... Collect the
        # characters on the line before the first U+003A COLON character (:), and let field
        # be that string. ... If value starts with a U+0020 SPACE character, remove it."
        # "Otherwise, the string is not empty but does not contain a U+003A COLON character
        # (:) ... using the whole line as the field name, and the empty string as the value."
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self.max_event_size:
                self._reset_block()
                raise SSEProtocolError(
                    f"SSE event exceeds max_event_size ({self.max_event_size} characters)"
                )
        elif name == "event":
            self._event = value
        elif name == "id":
            # WHATWG: "If the field value does not contain U+0000 NULL, then set the last
            # event ID buffer to the field value. Otherwise, ignore the field."
            if "\0" not in value:
                self._id = value
                self._id_seen = True
        # WHATWG: "If the field value consists of only ASCII digits, then interpret the field
        # value as an integer in base ten ... Otherwise, ignore the field."
        elif name == "retry" and value and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        # WHATWG: "Set the last event ID string of the event source to the value of the last
        # event ID buffer." -- this happens even when no event is dispatched.
        if self._id_seen:
            self.last_event_id = self._id
        # WHATWG: "If the data buffer is an empty string, set the data buffer and the event
        # type buffer to the empty string and return."
        if self._data:
            out.append(
                ServerSentEvent(
                    self._event or "message",
                    "\n".join(self._data),
                    self.last_event_id,
                    self.retry,
                )
            )
        self._reset_block()
