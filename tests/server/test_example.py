"""``examples/fastapi_app.py`` works as documented under a real uvicorn."""

from __future__ import annotations

import importlib

from surestream.events import Done, Error, Start, Status, Text
from tests.server._helpers import assert_verdict, fetch
from tests.support.servers import serve_in_thread


def test_fastapi_example_streams_and_fails_with_a_verdict() -> None:
    app = importlib.import_module("examples.fastapi_app").app
    with serve_in_thread(app) as server:
        ok = fetch(server.url + "/chat?q=hi there")
        failed = fetch(server.url + "/chat?q=hi there&fail=1")
        schema = fetch(server.url + "/openapi.json").raw
    assert ok.events[:2] == [Start(model="echo"), Status("thinking")]
    assert "".join(e.text for e in ok.events if isinstance(e, Text)) == "You asked: hi there"
    assert assert_verdict(ok.events) == Done("stop", {"prompt_tokens": 1, "completion_tokens": 4})
    assert assert_verdict(failed.events) == Error("upstream_error", "the model provider failed")
    assert b"text/event-stream" in schema
