"""Reading meaning into recorded events: the dialect, the text, and the end of the stream.

Strategy: pure functions over ``RecordedEvent`` lists. ``sniff_dialect`` names the wire
dialect from the response headers and the events (``native``, ``openai``, ``vercel-ai``,
``anthropic`` or ``generic``). ``read_events`` then walks the events once and returns, per
event, whether it carried answer text and whether it carried an end signal. For our four
dialects the verdict comes from the dialect's own ``StreamDecoder`` (``Done`` / ``Error``),
so ``check`` and the client agree on what "ended" means (an Anthropic stream ends only with
``message_stop`` or ``event: error``; one cut before them is not ended, whatever its
``message_delta`` said); every other stream is read with the conventions of the servers our
users run:

- an event named ``error`` is a failure; an event named ``complete``, ``completed``,
  ``done``, ``end``, ``finish``, ``finished``, ``close``, ``stop`` or ``eos`` is a success;
- ``message_stop`` (event name or JSON ``type``) is a success;
- ``data: [DONE]`` (also as any top-level string value of a JSON object) is a success;
- a JSON object with a non-empty ``error`` member, or ``"type": "error"``, is a failure;
- a JSON object with a true flag among ``FINAL_FLAGS`` (``{"done": true}``,
  ``{"isFinal": true}``, ...) or whose ``type`` is one of the end names is a success.

The *first* event that carries an end is the stream's end signal. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from surestream.check.recording import RecordedEvent
from surestream.dialects import dialect_of_headers, dialect_of_payload, get_dialect, is_end_marker
from surestream.dialects.anthropic import STREAM_EVENTS
from surestream.errors import RemoteProtocolError
from surestream.events import TERMINAL_TYPES, Done, Error, Text
from surestream.sse import ServerSentEvent

__all__ = [
    "ANTHROPIC_EVENTS",
    "END_NAMES",
    "FINAL_FLAGS",
    "NOT_JSON",
    "TEXT_KEYS",
    "EndSignal",
    "EventReading",
    "json_of",
    "read_events",
    "sniff_dialect",
]

END_NAMES = frozenset(
    {"complete", "completed", "done", "end", "finish", "finished", "close", "stop", "eos"}
)
"""Event names (and JSON ``type`` values) that, by common convention, mean "finished"."""
FINAL_FLAGS = (
    "done",
    "isDone",
    "is_done",
    "isFinal",
    "is_final",
    "final",
    "finished",
    "complete",
    "completed",
    "end",
    "isLast",
    "is_last",
    "last",
    "eos",
)
"""JSON keys whose value ``true`` marks the last event (``{"done": true}``, ``isFinal``...)."""
TEXT_KEYS = ("text", "content", "delta", "token", "response", "output", "chunk")
"""JSON keys whose non-empty string value is answer text in a generic stream."""
ANTHROPIC_EVENTS = STREAM_EVENTS
"""Event names that only Anthropic's Messages API stream uses (the ``anthropic`` dialect's)."""


class _NotJson:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Any = _NotJson()
"""What ``json_of`` returns for data that is not JSON."""


@dataclass(frozen=True, slots=True)
class EndSignal:
    """The event that ended the stream, and how.

    ``kind`` is stable (``native_done``, ``native_error``, ``openai_done``, ``openai_error``,
    ``vercel_finish``, ``vercel_abort``, ``vercel_error``, ``anthropic_message_stop``,
    ``anthropic_error``, ``done_marker``, ``final_flag``, ``end_event``, ``end_type``,
    ``error_event``, ``error_object``); ``outcome`` is ``done`` or ``error``; ``index`` and
    ``event`` point at the event; ``description`` says it in words (``event: content with
    {"isFinal": true}``); ``detail`` is the finish reason or error message when known.
    """

    kind: str
    outcome: str
    index: int
    event: str
    description: str
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the report."""
        return {
            "kind": self.kind,
            "outcome": self.outcome,
            "index": self.index,
            "event": self.event,
            "description": self.description,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class EventReading:
    """What ``read_events`` learnt: text-carrying events, end-carrying events, finish reason."""

    text_indexes: tuple[int, ...]
    ends: tuple[EndSignal, ...]
    finish_reason: str | None = None

    @property
    def end(self) -> EndSignal | None:
        """The first end signal, or None when the stream never said it was finished."""
        return self.ends[0] if self.ends else None


def json_of(data: str) -> Any:
    """``data`` parsed as JSON, or ``NOT_JSON``."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return NOT_JSON


def _named(event: RecordedEvent) -> str:
    return "unnamed event" if event.event == "message" else f"event: {event.event}"


def sniff_dialect(headers: Iterable[tuple[str, str]], events: Sequence[RecordedEvent]) -> str:
    """The wire dialect of a stream: native, openai, vercel-ai, anthropic or generic.

    Ours are recognised the way the client does (``surestream.dialects``); a stream is native
    only when every event is a native object.
    """
    by_header = dialect_of_headers(k for k, _ in headers)
    if by_header is not None:
        return by_header
    objects = [
        (ev, obj) for ev in events if isinstance(obj := json_of(ev.data), dict) and obj is not None
    ]
    if any(
        ev.event in ANTHROPIC_EVENTS or obj.get("type") in ANTHROPIC_EVENTS for ev, obj in objects
    ):
        return "anthropic"
    claimed = [dialect_of_payload(obj) for _, obj in objects]
    for name in ("openai", "vercel-ai", "anthropic"):
        if name in claimed:
            return name
    types = [obj.get("type") for _, obj in objects]
    if (
        objects
        and len(objects) == len(events)
        and all(name == "native" for name in claimed)
        and any(t in {"text", "done"} for t in types)
        and all(ev.event in {"message", obj.get("type")} for ev, obj in objects)
    ):
        return "native"
    return "generic"


def _has_text(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    for key in TEXT_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return True
        if isinstance(value, dict) and _has_text(value):
            return True
    return False


def _generic_end(event: RecordedEvent, obj: Any, dialect: str) -> EndSignal | None:
    name, where = event.event, _named(event)

    def sig(kind: str, outcome: str, description: str, detail: str | None = None) -> EndSignal:
        return EndSignal(kind, outcome, event.index, name, description, detail)

    is_dict = isinstance(obj, dict)
    if name == "message_stop" or (is_dict and obj.get("type") == "message_stop"):
        return sig("anthropic_message_stop", "done", f"Anthropic message_stop ({where})")
    if name == "error":
        kind = "anthropic_error" if dialect == "anthropic" else "error_event"
        return sig(kind, "error", f"event: error ({event.data[:80]})", _error_text(obj, event.data))
    if name in END_NAMES:
        return sig("end_event", "done", f"event: {name}")
    if is_end_marker(event.data):
        return sig("done_marker", "done", f"data: {event.data.strip()} ({where})")
    if not is_dict:
        return None
    err = obj.get("error")
    if (err is not None and err is not False and err != "") or obj.get("type") == "error":
        detail = _error_text(obj, event.data)
        return sig("error_object", "error", f'{where} with an "error" object', detail)
    for flag in FINAL_FLAGS:
        if obj.get(flag) is True:
            return sig("final_flag", "done", f'{where} with {{"{flag}": true}}')
    kind = obj.get("type")
    if isinstance(kind, str) and kind in END_NAMES:
        return sig("end_type", "done", f'{where} with {{"type": "{kind}"}}')
    for key, value in obj.items():
        if isinstance(value, str) and is_end_marker(value):
            return sig("done_marker", "done", f'{where} with {{"{key}": "{value}"}}')
    return None


def _error_text(obj: Any, data: str) -> str:
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            for key in ("message", "code", "type"):
                if isinstance(err.get(key), str):
                    return str(err[key])
        elif isinstance(err, str):
            return err
        message = obj.get("message") or obj.get("errorText")
        if isinstance(message, str):
            return message
    return data[:120]


_DIALECT_KINDS = {
    ("native", "done"): "native_done",
    ("native", "error"): "native_error",
    ("openai", "done"): "openai_done",
    ("openai", "error"): "openai_error",
    ("vercel-ai", "done"): "vercel_finish",
    ("vercel-ai", "error"): "vercel_error",
    ("anthropic", "done"): "anthropic_message_stop",
    ("anthropic", "error"): "anthropic_error",
}
_DECODED_DIALECTS = frozenset({"native", "openai", "vercel-ai", "anthropic"})


def _dialect_end(dialect: str, event: RecordedEvent, typed: Done | Error) -> EndSignal:
    where = _named(event)
    if isinstance(typed, Error):
        kind = _DIALECT_KINDS[(dialect, "error")]
        desc = f"{dialect} error {typed.code!r} ({where})"
        return EndSignal(kind, "error", event.index, event.event, desc, typed.message or typed.code)
    reason = str(typed.finish_reason)
    if dialect == "openai":
        desc = f"OpenAI data: [DONE] (finish_reason {reason!r})"
    elif dialect == "vercel-ai" and reason == "cancelled":
        return EndSignal(
            "vercel_abort", "done", event.index, event.event, "Vercel AI abort", reason
        )
    elif dialect == "vercel-ai":
        desc = f"Vercel AI finish (finishReason {reason!r})"
    elif dialect == "anthropic":
        desc = f"Anthropic message_stop (finish_reason {reason!r}, {where})"
    else:
        desc = f"native done (finish_reason {reason!r})"
    return EndSignal(
        _DIALECT_KINDS[(dialect, "done")], "done", event.index, event.event, desc, reason
    )


def read_events(events: Sequence[RecordedEvent], dialect: str) -> EventReading:
    """Which events carried text and which carried an end, read in ``dialect``."""
    decoder = get_dialect(dialect).decoder() if dialect in _DECODED_DIALECTS else None
    texts: list[int] = []
    ends: list[EndSignal] = []
    finish_reason: str | None = None
    for event in events:
        obj = json_of(event.data)
        if isinstance(obj, dict):
            for choice in obj.get("choices") or ():
                if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                    finish_reason = choice["finish_reason"]
            if dialect == "anthropic" and isinstance(obj.get("delta"), dict):
                stop = obj["delta"].get("stop_reason")
                finish_reason = stop if isinstance(stop, str) else finish_reason
        typed: list[Any] | None = None
        if decoder is not None and not decoder.finished:
            try:
                typed = decoder.decode(ServerSentEvent(event.event, event.data, event.id))
            except RemoteProtocolError:
                typed = None
        if typed is not None:
            if any(isinstance(t, Text) and t.text for t in typed):
                texts.append(event.index)
            for t in typed:
                if isinstance(t, TERMINAL_TYPES):
                    ends.append(_dialect_end(dialect, event, t))
            continue
        if obj is NOT_JSON:
            if event.data.strip() and not is_end_marker(event.data):
                texts.append(event.index)
        elif _has_text(obj):
            texts.append(event.index)
        end = _generic_end(event, obj, dialect)
        if end is not None:
            ends.append(end)
    return EventReading(tuple(texts), tuple(ends), finish_reason)
