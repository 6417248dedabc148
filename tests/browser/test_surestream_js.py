"""surestream.js inside Chromium: its SSE decoder against the conformance kit in every
chunking, the decoder's edge cases by name, and ``stream()`` against the real gateway."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Route

from surestream.conformance import load_vectors
from tests.support.browser import Gateway, ThreadedProxy, expected_answer

# The kit's `chunkings` and `run_vector`, transliterated: whole, byte by byte, every split
# point, every pair of split points for inputs of at most 16 bytes; then close().
RUN_KIT = """async (vectors) => {
  const { SSEDecoder } = await import('/static/surestream.js');
  function* chunkings(data) {
    yield [data];
    yield Array.from(data, (_, i) => data.subarray(i, i + 1));
    for (let i = 1; i < data.length; i++) yield [data.subarray(0, i), data.subarray(i)];
    if (data.length <= 16) {
      for (let i = 1; i < data.length; i++)
        for (let j = i + 1; j < data.length; j++)
          yield [data.subarray(0, i), data.subarray(i, j), data.subarray(j)];
    }
  }
  const failures = [];
  let runs = 0;
  for (const v of vectors) {
    const data = new Uint8Array(v.input);
    for (const chunks of chunkings(data)) {
      runs++;
      const decoder = v.max_event_size === null
        ? new SSEDecoder() : new SSEDecoder({ maxEventSize: v.max_event_size });
      const events = [];
      let error = null;
      try {
        for (const chunk of chunks) events.push(...decoder.feed(chunk));
        events.push(...decoder.close());
      } catch (e) {
        if (e.name !== 'SSEProtocolError' || !e.message.includes('max_event_size')) throw e;
        error = 'max_event_size';
      }
      const got = {
        events: events.map((e) => [e.event, e.data, e.id, e.retry]),
        last_event_id: v.error ? null : decoder.lastEventId,
        retry: v.error ? null : decoder.retry,
        error,
      };
      if (JSON.stringify(got) !== JSON.stringify(v.expected)) {
        failures.push(`${v.name} in chunks ${chunks.map((c) => c.length)}: `
                      + `expected ${JSON.stringify(v.expected)}, got ${JSON.stringify(got)}`);
        break;
      }
    }
  }
  return { failures, runs };
}"""


def test_decoder_passes_the_conformance_kit_in_every_chunking(page: Page, gateway: Gateway) -> None:
    vectors: list[dict[str, Any]] = []
    for vector in load_vectors():
        expected = vector.expected
        error = expected.error
        vectors.append(
            {
                "name": vector.name,
                "input": list(vector.input),
                "max_event_size": vector.max_event_size,
                "error": error,
                "expected": {
                    "events": [list(e) for e in expected.events],
                    "last_event_id": None if error else expected.last_event_id,
                    "retry": None if error else expected.retry,
                    "error": error,
                },
            }
        )
    page.goto(gateway.url + "/")
    result = page.evaluate(RUN_KIT, vectors)
    assert result["failures"] == []
    assert result["runs"] > 2000


FEED = """async (chunks) => {
  const { SSEDecoder } = await import('/static/surestream.js');
  const decoder = new SSEDecoder();
  return chunks.map((chunk) => decoder.feed(new Uint8Array(chunk)));
}"""


def event(data: str, id: str | None = None, retry: int | None = None) -> dict[str, Any]:
    return {"event": "message", "data": data, "id": id, "retry": retry}


@pytest.mark.parametrize(
    ("chunks", "per_chunk"),
    [
        pytest.param(
            [b"id: 1\r\ndata: a\r", b"\ndata: b\r", b"\n\r", b"\n"],
            [[], [], [event("a\nb", "1")], []],
            id="crlf-split-across-chunks",
        ),
        pytest.param(
            [b"data: one\ndata: two\n", b"data: three\n\n"],
            [[], [event("one\ntwo\nthree")]],
            id="multi-line-data",
        ),
        pytest.param(
            [b": ping\n\n", b"id: 4\ndata: x\n", b": ping\n\n", b":\n\n"],
            [[], [], [event("x", "4")], []],
            id="comments-are-not-events",
        ),
        pytest.param(
            [b"retry: 3000\n\nid: 0\ndata: {}\n\n"],
            [[event("{}", "0", 3000)]],
            id="retry-block-then-event",
        ),
        pytest.param(
            [b"data: caf\xc3", b"\xa9\n\n"],
            [[], [event("caf\u00e9")]],
            id="utf8-split-across-chunks",
        ),
    ],
)
def test_decoder_edge_cases(
    page: Page, gateway: Gateway, chunks: list[bytes], per_chunk: list[list[dict[str, Any]]]
) -> None:
    page.goto(gateway.url + "/")
    assert page.evaluate(FEED, [list(c) for c in chunks]) == per_chunk


STREAM = """async ([url, options]) => {
  const sure = await import('/static/surestream.js');
  const seen = [];
  try {
    const done = await sure.stream(url, { ...options, onEvent: (e, meta) => seen.push([e, meta]) });
    return { ok: done, seen };
  } catch (error) {
    return { name: error.name, message: error.message, code: error.code ?? null,
             status: error.status ?? null, reason: error.reason ?? null,
             attempts: error.attempts ?? null, text: error.text, seen };
  }
}"""


def test_stream_resolves_with_done_and_the_whole_text(page: Page, gateway: Gateway) -> None:
    prompt = "what does surestream promise?"
    page.goto(gateway.url + "/")
    body = {"model": "demo", "messages": [{"role": "user", "content": prompt}]}
    result = page.evaluate(STREAM, ["/v1/chat/stream", {"method": "POST", "body": body}])
    done = result["ok"]
    assert done["type"] == "done" and done["finish_reason"] == "stop"
    assert done["text"] == expected_answer(prompt)
    assert done["eventsUrl"] == f"{gateway.url}/v1/streams/{done['streamId']}/events"
    kinds = [e["type"] for e, _ in result["seen"]]
    assert kinds[:2] == ["state", "start"] and kinds[-1] == "done"
    ids = [meta["id"] for e, meta in result["seen"] if e["type"] != "state"]
    assert ids == [str(i) for i in range(len(ids))]


def test_stream_reports_refusals_as_stream_failed(page: Page, gateway: Gateway) -> None:
    page.goto(gateway.url + "/")
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    result = page.evaluate(STREAM, ["/v1/chat/stream", {"method": "POST", "body": body}])
    assert result["name"] == "StreamFailed"
    assert (result["status"], result["code"]) == (404, "model_not_found")


def test_stream_gives_up_when_the_stream_is_gone(page: Page, proxy: ThreadedProxy) -> None:
    """A resume answered 404 stops at once: StreamInterrupted, no retry storm."""
    page.goto(proxy.url + "/")
    body = {"model": "demo", "messages": [{"role": "user", "content": "hello there"}]}
    created = page.evaluate(
        """async (body) => (await fetch('/v1/streams', {method: 'POST',
             headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})).json()""",
        body,
    )
    # The first connection is cut after a few events; the resume then asks for a stream id
    # that does not exist, as after the journal expired.
    proxy.cut_after(300, after=b"\r\n\r\n")

    def expire_after_first(route: Route) -> None:
        if len(routed) == 0:
            routed.append(route.request.url)
            route.continue_()
        else:
            routed.append(route.request.url)
            route.continue_(url=proxy.url + "/v1/streams/st_expired/events")

    routed: list[str] = []
    page.route("**/v1/streams/*/events", expire_after_first)
    result = page.evaluate(STREAM, [created["events_url"], {}])
    assert result["name"] == "StreamInterrupted"
    assert result["status"] == 404
    assert "the stream is gone (HTTP 404)" in result["reason"]
    assert result["attempts"] == 1
    # The cut is a TCP reset: bytes the page had not read yet may be lost with it.
    expected = expected_answer("hello there")
    assert expected.startswith(result["text"]) and len(result["text"]) < len(expected)
    assert len(routed) == 2, "one resume attempt, then it stopped"


def _sse(*blocks: str) -> str:
    return "retry: 10\n\n" + "".join(blocks)


TEXT_BLOCKS = [
    'id: 0\ndata: {"type":"start","stream":"st_x","model":"demo"}\n\n',
    'id: 1\ndata: {"type":"text","text":"Hello"}\n\n',
    'id: 2\ndata: {"type":"text","text":" there"}\n\n',
]


def _serve_in_turn(page: Page, answers: list[tuple[int, str]], seen: list[str | None]) -> None:
    """Answer the events URL's requests in turn from ``answers`` (status, SSE body)."""

    def handle(route: Route) -> None:
        seen.append(route.request.headers.get("last-event-id"))
        status, body = answers[min(len(seen), len(answers)) - 1]
        route.fulfill(status=status, body=body, headers={"Content-Type": "text/event-stream"})

    page.route("**/v1/streams/st_x/events", handle)


def test_a_held_retryable_error_that_ended_the_journal_is_the_outcome(
    page: Page, gateway: Gateway
) -> None:
    """The journal's own last event is a retryable error: the resume from its id gets 204,
    and the held error (not "not a stream") is what the stream reports."""
    page.goto(gateway.url + "/")
    shutdown = 'id: 3\ndata: {"type":"error","error":{"code":"server_shutdown",' + (
        '"message":"bye","retryable":true}}\n\n'
    )
    seen: list[str | None] = []
    _serve_in_turn(page, [(200, _sse(*TEXT_BLOCKS, shutdown)), (204, "")], seen)
    result = page.evaluate(STREAM, ["/v1/streams/st_x/events", {}])
    assert (result["name"], result["code"]) == ("StreamFailed", "server_shutdown")
    assert seen == [None, "3"]


def test_a_verdict_made_up_at_the_resume_point_is_delivered(page: Page, gateway: Gateway) -> None:
    """After a cut, the resumed connection's only event is a verdict carrying the resume
    point's id (the server made it up: no new journal event); it is not a replay."""
    page.goto(gateway.url + "/")
    verdict = 'id: 2\ndata: {"type":"error","error":{"code":"idle_timeout",' + (
        '"message":"idle","retryable":false}}\n\n'
    )
    seen: list[str | None] = []
    _serve_in_turn(page, [(200, _sse(*TEXT_BLOCKS)), (200, _sse(verdict))], seen)
    result = page.evaluate(STREAM, ["/v1/streams/st_x/events", {}])
    assert (result["name"], result["code"]) == ("StreamFailed", "idle_timeout")
    assert result["text"] == "Hello there"
    assert seen == [None, "2"]
