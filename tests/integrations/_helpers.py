"""Shared by the adapter tests: POST a run and read the whole stream, or read part of it."""

from __future__ import annotations

import json
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
from tests.integrations import fakes
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


def ui_post(url: str, payload: Any) -> tuple[str, dict[str, Any]]:
    """``(url, init)`` of a JSON POST for ``read_ui_stream(s)``."""
    init = {
        "method": "POST",
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload),
    }
    return url, init


def assert_weather_message(result: dict[str, Any], *, tool: str = "get_weather") -> None:
    """The AI SDK read the weather answer into the right parts, with no complaint."""
    assert (result["invalid"], result["thrown"], result["errors"]) == ([], None, []), result
    assert result["chunks"][-1] == {"type": "finish", "finishReason": "stop"}
    parts = result["message"]["parts"]
    assert [p["type"] for p in parts] == [
        "step-start", "reasoning", "text", f"tool-{tool}", "step-start", "text",
    ]  # fmt: skip
    reasoning, first, call, final = parts[1], parts[2], parts[3], parts[5]
    assert (reasoning["text"], reasoning["state"]) == (fakes.REASONING, "done")
    assert (first["text"], first["state"]) == ("".join(fakes.FIRST_TEXT), "done")
    assert (call["state"], call["toolCallId"]) == ("output-available", "call_1")
    assert (call["input"], call["output"]) == (fakes.TOOL_ARGS, fakes.TOOL_OUTPUT)
    assert final["text"] == "".join(fakes.FINAL_TEXT)


def assert_failed_message(result: dict[str, Any]) -> None:
    """The AI SDK saw the run's failure as one error with the safe message."""
    assert (result["invalid"], result["thrown"]) == ([], None), result
    assert result["errors"] == ["the agent failed"]
