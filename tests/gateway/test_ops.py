"""``/v1/models``, ``/healthz`` and ``/metrics``: the counters move with real traffic."""

from __future__ import annotations

import gc
import json

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.support.gateways import (
    CHAT,
    FAKE_CHAT,
    fake_settings,
    read_native,
    run_gateway,
    sse_events,
)
from tests.support.servers import RunningFake

from surestream.gateway._gc import YOUNG_THRESHOLD
from surestream.gateway.settings import Settings

pytestmark = pytest.mark.anyio


async def _metrics(
    client: httpx.AsyncClient,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def _settled(
    client: httpx.AsyncClient, *gauges: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The metrics once ``gauges`` read 0: a response's end reaches the client before the
    server's own bookkeeping after it (its close callback) has run."""
    for _ in range(200):
        metrics = await _metrics(client)
        if all(_value(metrics, gauge) == 0 for gauge in gauges):
            return metrics
        await anyio.sleep(0.05)
    return metrics


def _value(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_models_and_healthz(fake: RunningFake) -> None:
    with run_gateway(fake_settings(fake)) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            models = await client.get("/v1/models")
            health = await client.get("/healthz")
    assert models.status_code == 200
    assert models.json() == {
        "object": "list",
        "data": [
            {"id": "demo", "object": "model", "created": 0, "owned_by": "surestream"},
            {"id": "fake", "object": "model", "created": 0, "owned_by": "surestream"},
        ],
    }
    assert health.status_code == 200 and health.json() == {"status": "ok"}


async def test_metrics_count_streams_events_outcomes_and_timings(fake: RunningFake) -> None:
    fake.fake.enqueue("stall_after=2", "error_after=1")
    with run_gateway(fake_settings(fake)) as gw:
        async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
            before = await _metrics(client)
            assert _value(before, "surestream_active_streams") == 0
            async with client.stream("POST", "/v1/chat/stream", json=CHAT) as response:
                events = await read_native(response)
            created = (await client.post("/v1/streams", json=FAKE_CHAT)).json()
            running = await _metrics(client)
            await client.delete(created["cancel_url"])
            async with client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response:
                await read_native(response)
            await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
            after = await _settled(
                client, "surestream_active_streams", "surestream_active_subscribers"
            )
    assert _value(running, "surestream_active_streams") == 1
    assert _value(after, "surestream_active_streams") == 0
    assert _value(after, "surestream_active_subscribers") == 0
    assert _value(after, "surestream_events_sent_total", dialect="native") >= len(events)
    assert _value(after, "surestream_events_sent_total", dialect="openai") > 0
    outcomes = {
        (code, outcome): _value(
            after, "surestream_stream_outcomes_total", outcome=outcome, code=code
        )
        for outcome, code in (("done", "stop"), ("done", "cancelled"), ("error", "upstream_error"))
    }
    assert outcomes == {
        ("stop", "done"): 2,
        ("cancelled", "done"): 1,
        ("upstream_error", "error"): 1,
    }
    assert _value(after, "surestream_time_to_first_token_seconds_count") == 4
    assert _value(after, "surestream_stream_duration_seconds_count") == 4
    assert _value(after, "surestream_stream_duration_seconds_sum") > 0


async def test_events_sent_counts_the_events_of_a_stream_still_open(fake: RunningFake) -> None:
    fake.fake.enqueue("stall_after=2,stall=30")
    with run_gateway(fake_settings(fake)) as gw:
        async with (
            httpx.AsyncClient(base_url=gw.url, timeout=20) as client,
            client.stream("POST", "/v1/chat/stream", json=FAKE_CHAT) as response,
        ):
            received = 0
            async for sse in sse_events(response):
                received += json.loads(sse.data)["type"] == "text"
                if received == 2:
                    break
            running = await _metrics(client)
    # start and two texts went out on a connection still open (the upstream is silent)
    assert _value(running, "surestream_active_subscribers") == 1
    assert _value(running, "surestream_events_sent_total", dialect="native") == 3


async def test_the_collector_is_tuned_while_the_gateway_runs_then_given_back() -> None:
    before = gc.get_threshold()
    assert before[0] < YOUNG_THRESHOLD and gc.get_freeze_count() == 0
    with run_gateway() as gw:
        async with httpx.AsyncClient(base_url=gw.url) as client:
            assert (await client.get("/healthz")).status_code == 200
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with run_gateway(Settings(tune_gc=False)):
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
