"""What the fake models of every framework share: scenarios and the cancellation marker.

A fake model reads its scenario from the user's message: the first of ``SCENARIOS`` that
appears in it (``weather`` when none does), and a tag after ``#`` that names its marker
files. ``hang`` goes silent after its first words; when the model call is cancelled the
fake writes ``<tag>.cancelled`` in the directory ``$SURESTREAM_TEST_MARKERS`` (a file, so a
fake in another process is observed the same way).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

MARKERS_ENV = "SURESTREAM_TEST_MARKERS"
SCENARIOS = (
    "boom",
    "hang",
    "safety",
    "bad-code",
    "tool-error",
    "tool-raises",
    "max-tokens",
    "approval",
)
"""The fault scenarios; a message naming none is the normal weather answer."""
SECRET = "sk-secret-detail-42"
"""Part of the ``boom`` exception text: it must never reach a client by default."""
REASONING = "The user wants the weather; call the tool."
FIRST_TEXT = ("Let me ", "check.")
TOOL_ARGS = {"city": "Paris"}
TOOL_OUTPUT = {"city": "Paris", "sky": "sunny", "celsius": 21}
FINAL_TEXT = ("It is ", "sunny, ", "21 degrees.")
TOOL_ERROR = "no such city: Atlantis"


def scenario(text: str) -> tuple[str, str]:
    """The scenario and tag a user message asks for."""
    kind = next((name for name in SCENARIOS if name in text), "weather")
    match = re.search(r"#([\w-]+)", text)
    return kind, match.group(1) if match else "untagged"


def mark(tag: str, what: str) -> None:
    """Write the marker ``<tag>.<what>`` (nothing when no marker directory is set)."""
    directory = os.environ.get(MARKERS_ENV)
    if directory:
        (Path(directory) / f"{tag}.{what}").write_text(what)


def wait_marker(directory: Path, tag: str, what: str, timeout: float = 30) -> bool:
    """True once ``<tag>.<what>`` exists in ``directory``, False after ``timeout`` seconds."""
    path = directory / f"{tag}.{what}"
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@asynccontextmanager
async def model_call(tag: str) -> AsyncIterator[None]:
    """Around a fake model call: writes ``<tag>.cancelled`` when the call is cancelled."""
    try:
        yield
    except (asyncio.CancelledError, GeneratorExit):
        mark(tag, "cancelled")
        raise


async def hang(tag: str) -> None:
    """Go silent for good (until cancelled), after writing ``<tag>.hanging``."""
    mark(tag, "hanging")
    await asyncio.Event().wait()
