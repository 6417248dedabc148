"""``stream()`` of the surestream package in Node (its global ``fetch``) against the real
gateway: the whole answer and its verdict, agent events folded into parts, a refusal, and a
connection cut mid-answer resumed with ``Last-Event-ID`` (nothing lost, nothing doubled)."""

from __future__ import annotations

from typing import Any

from tests.browser.test_agent_events import ANSWER_TEXT, REASONING
from tests.jsclient.streams import run_stream
from tests.support.browser import Gateway, ThreadedProxy, expected_answer


def chat(prompt: str, model: str = "demo") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}]}


def test_node_reads_a_stream_to_done(gateway: Gateway) -> None:
    prompt = "how does node read a stream?"
    result = run_stream(f"{gateway.url}/v1/chat/stream", method="POST", body=chat(prompt))

    done = result["ok"]
    assert (done["type"], done["finish_reason"]) == ("done", "stop")
    assert done["text"] == expected_answer(prompt)
    assert done["eventsUrl"] == f"{gateway.url}/v1/streams/{done['streamId']}/events"
    events = [event for event, _ in result["seen"] if event["type"] != "state"]
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    ids = [event_id for event, event_id in result["seen"] if event["type"] != "state"]
    assert ids == [str(i) for i in range(len(events))]


def test_node_folds_agent_events_into_parts(gateway: Gateway) -> None:
    result = run_stream(f"{gateway.url}/v1/chat/stream", method="POST", body=chat("?", "agent"))

    done = result["ok"]
    assert done["reasoning"] == REASONING
    assert [(c["name"], c["args"], c["state"]) for c in done["toolCalls"]] == [
        ("get_weather", {"city": "Paris"}, "output-available"),
        ("get_time", {"zone": "Mars"}, "output-error"),
    ]
    assert [p["type"] for p in done["parts"]] == ["reasoning", "tool", "tool", "step", "text"]
    assert done["text"] == ANSWER_TEXT


def test_node_reports_a_refusal_as_stream_failed(gateway: Gateway) -> None:
    body = chat("hi", "no-such-model")
    result = run_stream(f"{gateway.url}/v1/chat/stream", method="POST", body=body)
    assert (result["name"], result["status"], result["code"]) == (
        "StreamFailed",
        404,
        "model_not_found",
    )


def test_node_resumes_a_cut_connection_exactly(gateway: Gateway) -> None:
    prompt = "why resume from the last event id in node?"
    with ThreadedProxy(gateway.port) as proxy:
        proxy.cut_after(600, after=b"\r\n\r\n")
        result = run_stream(
            f"{proxy.url}/v1/chat/stream", method="POST", body=chat(prompt), retryDelay=50
        )
        assert proxy.broken()

    done = result["ok"]
    assert done["text"] == expected_answer(prompt)
    states = [event["state"] for event, _ in result["seen"] if event["type"] == "state"]
    assert states == ["streaming", "resuming", "resumed"]
    ids = [int(i) for event, i in result["seen"] if event["type"] != "state"]
    assert ids == list(range(len(ids))), "every event once, in order, across the cut"
