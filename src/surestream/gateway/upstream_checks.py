"""What an upstream says about how its answer ended, checked before anyone else sees it.

Strategy: an upstream's ``finish_reason`` and ``usage`` are free-form JSON: any string (5,000
characters, ``cancelled``, another API's vocabulary) or any object (nested hundreds of levels
deep, which no JSON encoder will write back). The gateway passes neither on as it came:
``finish_reason`` is mapped to the closed list of ``surestream.events.FinishReason`` (the
table ``FINISH_REASONS``; anything else is ``stop``), and ``usage`` keeps only counts: at
most ``MAX_USAGE_ENTRIES`` keys of at most ``MAX_USAGE_KEY`` characters whose values are
numbers, or objects of such (one level, as OpenAI's ``completion_tokens_details``);
everything else is dropped. A finished answer is never lost over its metadata.
``outcome_label`` keeps the labels of the outcome metric to the closed lists too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import islice
from typing import Any

from surestream.events import (
    FINISH_REASON_SPELLINGS,
    Done,
    ErrorCode,
    FinishReason,
    finish_reason_of,
)

__all__ = [
    "FINISH_REASONS",
    "MAX_USAGE_ENTRIES",
    "MAX_USAGE_KEY",
    "checked_done",
    "clean_usage",
    "finish_reason",
    "outcome_label",
]

FINISH_REASONS: Mapping[str, FinishReason] = FINISH_REASON_SPELLINGS
"""An upstream's ``finish_reason`` -> ours (``surestream.events.FINISH_REASON_SPELLINGS``); any
other value (``cancelled`` included: ours means that a client cancelled) becomes ``stop``."""

MAX_USAGE_ENTRIES = 32
"""Keys of ``usage`` kept (and of each nested object of counts)."""

MAX_USAGE_KEY = 64
"""Characters of a ``usage`` key kept; a longer key is dropped."""


_KNOWN: Mapping[str, frozenset[str]] = {
    "done": frozenset(FinishReason),
    "error": frozenset(ErrorCode),
}


def finish_reason(reason: object) -> FinishReason:
    """``reason`` (an upstream's) as one of ours, ``stop`` when it is none we know."""
    return finish_reason_of(reason) or FinishReason.STOP


def _is_count(value: object) -> bool:
    if type(value) is int:
        return True
    return type(value) is float and math.isfinite(value)


def _counts(obj: Mapping[Any, Any], nested: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in islice(obj.items(), MAX_USAGE_ENTRIES):
        if not isinstance(key, str) or len(key) > MAX_USAGE_KEY:
            continue
        if _is_count(value):
            out[key] = value
        elif nested and isinstance(value, Mapping):
            inner = _counts(value, nested=False)
            if inner:
                out[key] = inner
    return out


def clean_usage(usage: object) -> dict[str, Any] | None:
    """The counts of an upstream's ``usage`` (see the module docstring); None if none."""
    if not isinstance(usage, Mapping):
        return None
    return _counts(usage, nested=True) or None


def checked_done(done: Done) -> Done:
    """``done`` with its finish_reason on our list and its usage cleaned."""
    reason = finish_reason(done.finish_reason)
    usage = clean_usage(done.usage) if done.usage is not None else None
    if reason == done.finish_reason and usage == done.usage:
        return done
    return Done(reason, usage)


def outcome_label(outcome: str, code: str) -> str:
    """``code`` when it is on the closed list of its ``outcome`` (``done`` finish reasons,
    ``error`` codes), else ``other``: a metric label from a bounded set."""
    return code if code in _KNOWN.get(outcome, ()) else "other"
