"""Process-wide OpenTelemetry providers: a test must not leave one installed.

Once a process has a tracer, meter or logger provider (ADK's app installs all three, for
good), FastAPI's native telemetry turns on for every app built after it: it traces each
request and holds the request, its body and its parsed values until the response ends, a
stream's whole life. Tests that count on a request being released (``DetachStreams``) would
then fail depending on which suites ran before them in the same process.
"""

from __future__ import annotations

from opentelemetry import _logs, metrics, trace

__all__ = ["installed_providers", "newly_installed"]

_PROXIES = {"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"}
_reported: set[str] = set()


def installed_providers() -> list[str]:
    """The signals (``traces``, ``metrics``, ``logs``) with a provider installed process-wide."""
    providers = {
        "traces": trace.get_tracer_provider(),
        "metrics": metrics.get_meter_provider(),
        "logs": _logs.get_logger_provider(),
    }
    return [name for name, provider in providers.items() if type(provider).__name__ not in _PROXIES]


def newly_installed() -> list[str]:
    """The signals whose provider was installed since the last call (each named once, to the
    first test that ends after it was installed: the one that installed it, or whose
    fixture did)."""
    new = [name for name in installed_providers() if name not in _reported]
    _reported.update(new)
    return new
