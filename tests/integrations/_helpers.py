"""Shared by the adapter tests: POST a run and read the whole stream, or read part of it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from surestream.dialects import get_dialect
from surestream.events import Event, Text
from surestream.sse import Decoder
from tests.server._helpers import Received, decode


def tag() -> str:
    """A fresh tag for a fake model's marker files."""
    return uuid.uuid4().hex[:12]


def post(url: str, body: Any, *, dialect: str = "native", **headers: str) -> Received:
    """POST ``body`` as JSON to ``url`` and read the response to its end."""
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", url, json=body, headers=headers) as response,
    ):
        raw = b"".join(response.iter_raw())
    sse, events = decode(raw, dialect) if response.status_code == 200 else ([], [])
    return Received(response.status_code, response.headers, raw, sse, events)


@contextmanager
def reading_until_text(url: str, body: Any) -> Iterator[httpx.Response]:
    """POST ``body``, read native events until the first ``Text``, then hang up on leaving."""
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", url, json=body) as response,
    ):
        decoder, typed = Decoder(), get_dialect("native").decoder()
        for chunk in response.iter_raw():
            seen = [event for item in decoder.feed(chunk) for event in typed.decode(item)]
            if any(isinstance(event, Text) for event in seen):
                break
        yield response


def kinds(events: list[Event]) -> list[str]:
    """The ``type`` of each event."""
    return [event.type for event in events]


def check(url: str, payload: Any, tmp_path: Path) -> str:
    """What ``surestream check URL -d @body.json`` prints for a POST of ``payload``."""
    request = tmp_path / "body.json"
    request.write_bytes(httpx.Request("POST", url, json=payload).content)
    out = subprocess.run(
        [sys.executable, "-m", "surestream.cli", "check", url, "-d", f"@{request}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
        check=False,
    )
    return out.stdout + out.stderr
