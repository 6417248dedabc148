"""The sans-IO Server-Sent Events codec: bytes in, events out; events in, bytes out.

Strategy: ``Decoder`` implements the WHATWG HTML "interpreting an event stream" algorithm
(https://html.spec.whatwg.org/multipage/server-sent-events.html) over bytes. It never
touches a socket, never blocks and never holds back an event: the ``feed`` call whose bytes
complete an event returns it. Memory is bounded by ``max_event_size``.

The hot path works on whole blocks, not lines. After UTF-8 decoding and CR/CRLF
normalisation, a compiled regex measures each run of consecutive blocks in one of the three
shapes servers send by the thousand (``id: N`` + ``data: X``, ``event: T`` + ``data: X``
as Anthropic's and OpenAI's Responses streams do, or a lone ``data: X``); such a run is
cut with one ``str.replace`` + ``str.split`` and becomes events through
``map(tuple.__new__, ...)``, with no Python code per event. Anything else (comments, an
empty ``event:``, ``retry:``, multi-line data, no space after the colon, a block cut by a
chunk boundary, a block larger than the limit) goes through ``_lines``, the line-by-line
machine that quotes the spec; the fast path is only taken where both give the same events.

``encode`` is the inverse: decoding its output gives back the same data for every string
(line breaks normalised to LF, since SSE data cannot carry a CR). ``frame``, ``retry_field``
and ``HEARTBEAT`` are its bytes-level fast path, the one place the dialect encoders and the
server take their framing from. No I/O, no asyncio.
"""

from __future__ import annotations

import codecs
import re
from contextlib import suppress
from itertools import repeat
from typing import NamedTuple

from surestream.errors import LocalProtocolError, SSEProtocolError

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "HEARTBEAT",
    "ID_DATA_BLOCK",
    "Decoder",
    "SSEProtocolError",
    "ServerSentEvent",
    "encode",
    "encode_comment",
    "frame",
    "retry_field",
]

DEFAULT_MAX_EVENT_SIZE = 1024 * 1024
"""Largest event, in decoded characters: no line of a block may make the block's data so far
plus that line exceed it (a line still arriving counts with what has arrived)."""


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
    back ``data`` with its line breaks as LF. An ``event`` or ``id`` with a line break, an
    ``id`` with NUL, a ``retry`` that is not an int >= 0, or a lone surrogate raises
    ``LocalProtocolError`` (a ``ValueError``).
    """
    try:
        if (
            event is None
            and retry is None
            and comment is None
            and data is not None
            and "\n" not in data
            and "\r" not in data
        ):
            if id is None:
                return f"data: {data}\n\n".encode()
            if "\n" not in id and "\r" not in id and "\0" not in id:
                return f"id: {id}\ndata: {data}\n\n".encode()
        return _encode_block(data, event, id, retry, comment).encode()
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"SSE text must be encodable as UTF-8: {exc}") from None


def _encode_block(
    data: str | None, event: str | None, id: str | None, retry: int | None, comment: str | None
) -> str:
    parts: list[str] = []
    if comment is not None:
        parts.append(_comment_lines(comment))
    if retry is not None:
        if not isinstance(retry, int) or isinstance(retry, bool) or retry < 0:
            raise LocalProtocolError(f"SSE retry must be an int >= 0, got {retry!r}")
        parts.append(f"retry: {retry}\n")
    if id is not None:
        _check_field("id", id)
        if "\0" in id:
            raise LocalProtocolError(f"SSE id must not contain NUL: {id!r}")
        parts.append(f"id: {id}\n")
    if event is not None:
        _check_field("event", event)
        parts.append(f"event: {event}\n")
    if data is not None:
        lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        parts.append("".join([f"data: {line}\n" for line in lines]))
    parts.append("\n")
    return "".join(parts)


def _check_field(name: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise LocalProtocolError(f"SSE {name} must not contain a line break: {value!r}")


def _comment_lines(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join([f": {line}\n" if line else ":\n" for line in lines])


def encode_comment(text: str = "") -> bytes:
    """Comment lines (``: text``), without the blank line of a block; decoders ignore them."""
    return _comment_lines(text).encode()


HEARTBEAT = b": ping\n\n"
"""The heartbeat block: the comment ``ping`` and a blank line. Not an event (a WHATWG parser
dispatches nothing for it, and it carries no id); it keeps proxies from closing a quiet
connection. Parsers that dispatch every block (``@microsoft/fetch-event-source``) hand it on
as a message with empty data."""


ID_DATA_BLOCK = b"id: %d\ndata: %b\n\n"
"""``ID_DATA_BLOCK % (id, data)`` is ``frame(data, id)``: the block of most events, for the
per-token paths of the encoders (no call)."""


def frame(data: bytes, id: int | None = None, event: bytes | None = None) -> bytes:
    """One event block from bytes: ``id`` and ``event`` lines when given, one ``data`` line.

    The encoders' fast path, so nothing is checked: ``data`` and ``event`` must hold no line
    break (compact JSON from orjson never does).
    """
    if event is None:
        if id is None:
            return b"data: " + data + b"\n\n"
        return ID_DATA_BLOCK % (id, data)
    head = b"event: " + event + b"\n"
    if id is not None:
        head = b"id: %d\n" % id + head
    return head + b"data: " + data + b"\n\n"


def retry_field(ms: int) -> bytes:
    """``retry: <ms>`` as a line that leads the next event's block, not a block of its own.

    A block without data is no event to a WHATWG parser, but parsers that dispatch every block
    (``@microsoft/fetch-event-source``) would hand a ``retry``-only block on as an empty message.
    """
    return b"retry: %d\n" % ms


# Runs of whole blocks (each ending in its blank line) that the fast path can cut blindly.
_ID_DATA_RUN = re.compile(r"(?:id: [^\n\0]*+\ndata: [^\n]*+\n\n)++")
_DATA_RUN = re.compile(r"(?:data: [^\n]*+\n\n)++")
# A non-empty type only: "event: \n" leaves the type buffer empty, which dispatches "message".
_EVENT_DATA_RUN = re.compile(r"(?:event: [^\n]++\ndata: [^\n]*+\n\n)++")
_new = tuple.__new__


class Decoder:
    """Incremental WHATWG-exact SSE decoder.

    ``feed(bytes)`` returns the events its bytes complete; ``close()`` ends the stream,
    discards an unterminated final block and readies the decoder for a new stream (a
    reconnection), keeping ``last_event_id`` and ``retry``, the state a reconnecting client
    needs. An event larger than ``max_event_size`` characters raises ``SSEProtocolError``;
    the events completed before it in the same chunk are returned first, and the error is
    raised by the next ``feed`` or ``close``. The decoder stays broken afterwards.
    """

    __slots__ = (
        "_bom",
        "_cr",
        "_data",
        "_data_size",
        "_decode",
        "_error",
        "_error_raised",
        "_event",
        "_id",
        "_open",
        "_tail",
        "_tail_size",
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
        self._decode = self._utf8.decode
        self._error: str | None = None
        self._error_raised = False
        self._bom = True
        self._cr = False
        self._tail: list[str] = []
        self._tail_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None
        self._open = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk`` and return every event it completes, in order."""
        if self._error is not None:
            self._error_raised = True
            raise SSEProtocolError(self._error)
        # WHATWG: "Streams must be decoded using the UTF-8 decode algorithm."
        text = self._decode(chunk)
        if not text:
            return []
        if self._bom:
            self._bom = False
            # WHATWG: "One leading U+FEFF BYTE ORDER MARK character must be ignored if any
            # are present."
            if text[0] == "\ufeff":
                text = text[1:]
        if self._cr:
            # WHATWG: a line ends with "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF)
            # character pair" -- its CR, seen at the end of the last chunk, already did.
            self._cr = False
            if text[:1] == "\n":
                text = text[1:]
        if "\r" in text:
            # WHATWG: "... and a single U+000D CARRIAGE RETURN (CR) character not followed
            # by a U+000A LINE FEED (LF) character being the ways in which a line can end."
            self._cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            if text:
                self._tail.append(text)
                self._tail_size += len(text)
                if self._data_size + self._tail_size > self.max_event_size:
                    self._error_raised = True
                    self._fail()
            return []
        if self._tail:
            self._tail.append(text)
            text = "".join(self._tail)
            self._tail = []
            self._tail_size = 0
        out: list[ServerSentEvent] = []
        try:
            self._process(text, out)
        except SSEProtocolError:
            if not out:
                self._error_raised = True
                raise
        return out

    def close(self) -> list[ServerSentEvent]:
        """End of stream: discard any unterminated block; the next ``feed`` starts afresh."""
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise SSEProtocolError(self._error)
        # WHATWG: "Once the end of the file is reached, any pending data must be discarded.
        # (If the file ends in the middle of an event, before the final empty line, the
        # incomplete event is not dispatched.)"
        self._utf8.reset()
        self._bom = True
        self._cr = False
        self._tail = []
        self._tail_size = 0
        self._reset_block()
        self._id = self.last_event_id
        return []

    def _fail(self) -> None:
        self._error = f"SSE event exceeds max_event_size ({self.max_event_size} characters)"
        self._tail = []
        self._tail_size = 0
        self._reset_block()
        raise SSEProtocolError(self._error)

    def _reset_block(self) -> None:
        self._data = []
        self._data_size = 0
        self._event = ""
        self._open = False

    def _process(self, text: str, out: list[ServerSentEvent]) -> None:
        """Consume ``text`` (LF line ends, at least one); keep its unterminated last line."""
        pos = 0
        if self._open:
            # Finish the block the last chunk left open, line by line, up to its blank line.
            blank = 0
            if text[0] != "\n":
                blank = text.find("\n\n") + 1
                if not blank:
                    cut = text.rfind("\n")
                    self._lines(text[:cut].split("\n"), out)
                    self._keep_tail(text[cut + 1 :])
                    return
                self._lines(text[: blank - 1].split("\n"), out)
            self._dispatch(out)
            pos = blank + 1
        end = text.rfind("\n\n", pos) + 2
        if end < 2:
            end = pos + 1 if text[pos : pos + 1] == "\n" else pos
        limit = self.max_event_size
        while pos < end:
            window = min(end, pos + limit)
            match = _ID_DATA_RUN.match(text, pos, window)
            if match is not None:
                next_pos = match.end()
                # "id: X0\ndata: Y0\n\nid: X1..." -> X0, Y0, X1, ...: one separator for both.
                values = text[pos + 4 : next_pos - 2].replace("\ndata: ", "\n\nid: ")
                values_list = values.split("\n\nid: ")
                ids = values_list[0::2]
                self._id = self.last_event_id = ids[-1]
                out += map(
                    _new,
                    repeat(ServerSentEvent),
                    zip(repeat("message"), values_list[1::2], ids, repeat(self.retry)),
                )
                pos = next_pos
                continue
            match = _DATA_RUN.match(text, pos, window)
            if match is not None:
                next_pos = match.end()
                datas = text[pos + 6 : next_pos - 2].split("\n\ndata: ")
                out += map(
                    _new,
                    repeat(ServerSentEvent),
                    zip(repeat("message"), datas, repeat(self.last_event_id), repeat(self.retry)),
                )
                pos = next_pos
                continue
            match = _EVENT_DATA_RUN.match(text, pos, window)
            if match is not None:
                next_pos = match.end()
                # "event: T0\ndata: Y0\n\nevent: T1..." -> T0, Y0, T1, ...: as for the ids.
                values = text[pos + 7 : next_pos - 2].replace("\ndata: ", "\n\nevent: ")
                values_list = values.split("\n\nevent: ")
                out += map(
                    _new,
                    repeat(ServerSentEvent),
                    zip(
                        values_list[0::2],
                        values_list[1::2],
                        repeat(self.last_event_id),
                        repeat(self.retry),
                    ),
                )
                pos = next_pos
                continue
            if text[pos] == "\n":
                next_pos = pos + 1
            else:
                next_pos = text.find("\n\n", pos) + 2
                self._lines(text[pos : next_pos - 2].split("\n"), out)
            self._dispatch(out)
            pos = next_pos
        cut = text.rfind("\n")
        if cut >= end:
            self._lines(text[end:cut].split("\n"), out)
        self._keep_tail(text[cut + 1 :])

    def _keep_tail(self, tail: str) -> None:
        if tail:
            self._tail = [tail]
            self._tail_size = len(tail)
            if self._data_size + len(tail) > self.max_event_size:
                self._fail()

    def _lines(self, lines: list[str], out: list[ServerSentEvent]) -> None:
        """The line-by-line machine, for complete lines of one or more blocks."""
        limit = self.max_event_size
        for line in lines:
            # WHATWG: "If the line is empty (a blank line) -> Dispatch the event"
            if not line:
                self._dispatch(out)
                continue
            self._open = True
            if self._data_size + len(line) > limit:
                self._fail()
            # WHATWG: "If the line starts with a U+003A COLON character (:) -> Ignore the
            # line."
            if line[0] == ":":
                continue
            # WHATWG: "Collect the characters on the line before the first U+003A COLON
            # character (:), and let field be that string. Collect the characters on the line
            # after the first U+003A COLON character (:), and let value be that string. If
            # value starts with a U+0020 SPACE character, remove it from value." Without a
            # colon: "using the whole line as the field name, and the empty string as the
            # field value."
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                # WHATWG: "Append the field value to the data buffer, then append a single
                # U+000A LINE FEED (LF) character to the data buffer."
                self._data.append(value)
                self._data_size += len(value) + 1
            elif name == "event":
                # WHATWG: "Set the event type buffer to field value."
                self._event = value
            elif name == "id":
                # WHATWG: "If the field value does not contain U+0000 NULL, then set the last
                # event ID buffer to the field value. Otherwise, ignore the field."
                if "\0" not in value:
                    self._id = value
            # WHATWG: "If the field value consists of only ASCII digits, then interpret the
            # field value as an integer in base ten, and set the event stream's reconnection
            # time to that integer. Otherwise, ignore the field."
            elif name == "retry" and value.isascii() and value.isdigit():
                # More digits than int() accepts (sys.get_int_max_str_digits): no sane delay.
                with suppress(ValueError):
                    self.retry = int(value)
            # WHATWG: "Otherwise -> The field is ignored."

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        # WHATWG: "Set the last event ID string of the event source to the value of the last
        # event ID buffer. The buffer does not get reset ..."
        self.last_event_id = self._id
        # WHATWG: "If the data buffer is an empty string, set the data buffer and the event
        # type buffer to the empty string and return." Otherwise the event's type is "the
        # value of the event type buffer" if not empty, else "message"; its data is the buffer
        # without its last LF, its lastEventId "the last event ID string".
        if self._data:
            out.append(
                _new(
                    ServerSentEvent,
                    (self._event or "message", "\n".join(self._data), self._id, self.retry),
                )
            )
        self._reset_block()
