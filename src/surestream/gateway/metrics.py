"""Prometheus metrics of the gateway, in a registry of its own per app.

Strategy: one ``GatewayMetrics`` object per app holds every metric, so two apps in one
process (tests, several instances) never share counters, and ``render()`` gives the text
exposition format for ``GET /metrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class GatewayMetrics:
    """Active streams, events sent, outcomes by code, time to first token, stream duration."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.active_streams = Gauge(
            "surestream_active_streams",
            "Streams being generated now by this process.",
            registry=self.registry,
        )
        self.active_subscribers = Gauge(
            "surestream_active_subscribers",
            "SSE connections reading a stream now.",
            registry=self.registry,
        )
        self.events_sent = Counter(
            "surestream_events_sent",
            "Events written to SSE connections.",
            ["dialect"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "surestream_stream_outcomes",
            "Streams ended, by outcome (done finish_reason or error code).",
            ["outcome", "code"],
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "surestream_time_to_first_token_seconds",
            "Seconds from stream creation to its first text.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.stream_duration = Histogram(
            "surestream_stream_duration_seconds",
            "Seconds from stream creation to its terminal event.",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition of every metric."""
        return generate_latest(self.registry)
