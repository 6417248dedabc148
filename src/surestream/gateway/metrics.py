"""Prometheus metrics of the gateway, in a registry of its own per app.

Strategy: one ``GatewayMetrics`` object per app holds every metric, so two apps in one
process (tests, several instances) never share counters, and ``render()`` gives the text
exposition format for ``GET /metrics``. Events sent are not counted one by one (a counter
increment per token, with its lock, is a measurable share of a token's cost): each open
subscription counts its own in a plain integer, and the counter is their sum, taken when
the metrics are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Delivering", "EventsSent", "GatewayMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Delivering(Protocol):
    """What counts its own events: a hub ``Subscription``."""

    @property
    def delivered(self) -> int:
        """Events delivered so far."""


class EventsSent(Collector):
    """``surestream_events_sent_total{dialect}``: the events of closed subscriptions plus the
    running counts of the open ones, summed at collection time."""

    def __init__(self) -> None:
        self._closed: dict[str, int] = {}
        self._open: dict[Delivering, str] = {}

    def track(self, subscription: Delivering, dialect: str) -> None:
        """Count ``subscription``'s events under ``dialect`` from now on."""
        self._open[subscription] = dialect
        self._closed.setdefault(dialect, 0)

    def untrack(self, subscription: Delivering) -> None:
        """Keep ``subscription``'s final count and stop reading it."""
        dialect = self._open.pop(subscription, None)
        if dialect is not None:
            self._closed[dialect] += subscription.delivered

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The counter, one sample per dialect seen."""
        totals = dict(self._closed)
        for subscription, dialect in list(self._open.items()):
            totals[dialect] += subscription.delivered
        family = CounterMetricFamily(
            "surestream_events_sent", "Events written to SSE connections.", labels=["dialect"]
        )
        for dialect, total in sorted(totals.items()):
            family.add_metric([dialect], total)
        yield family


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
        self.events_sent = EventsSent()
        self.registry.register(self.events_sent)
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
