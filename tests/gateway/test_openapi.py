"""The OpenAPI document matches the server: schemathesis runs every operation against a real
uvicorn (bounded examples), positive cases must be accepted and conform to the documented
responses, negative cases must be refused with a 4xx, and nothing answers 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from tests.support.gateways import CHAT, RunningGateway, run_gateway

from surestream.gateway.settings import Settings

if TYPE_CHECKING:
    import schemathesis

KEY = "sk-schemathesis-0000000000"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_EXAMPLES = 30
CONFIG = """
[checks.negative_data_rejection]
# 413: a string over its maxLength can only be sent in a body over max_body_bytes
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
"""
LIMITS = {"max_messages": 4, "max_tokens_limit": 40, "max_metadata_items": 3}


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    """A gateway with an API key: every /v1 operation documents bearer security."""
    config = Settings(demo_tokens_per_second=0, api_keys=[KEY], **LIMITS)  # type: ignore[arg-type]
    with run_gateway(config) as running:
        yield running


@pytest.fixture(scope="module")
def open_gw() -> Iterator[RunningGateway]:
    """A gateway without keys: its document has no security requirement."""
    config = Settings(demo_tokens_per_second=0, **LIMITS)  # type: ignore[arg-type]
    with run_gateway(config) as running:
        yield running


def test_document_covers_every_route_with_its_limits(
    gw: RunningGateway, open_gw: RunningGateway
) -> None:
    document = httpx.get(f"{gw.url}/openapi.json").json()
    paths = document["paths"]
    assert set(paths) >= {
        "/v1/models",
        "/v1/streams",
        "/v1/streams/{stream_id}/events",
        "/v1/streams/{stream_id}",
        "/v1/chat/stream",
        "/v1/chat/completions",
        "/v1/ui/chat",
        "/v1/ui/chat/{chat_id}/stream",
        "/healthz",
        "/metrics",
    }
    assert "201" in paths["/v1/streams"]["post"]["responses"]
    events = paths["/v1/streams/{stream_id}/events"]["get"]
    assert {"200", "204", "400", "401", "404", "410", "429"} <= set(events["responses"])
    assert "text/event-stream" in events["responses"]["200"]["content"]
    dialect = next(p for p in events["parameters"] if p["name"] == "dialect")
    assert dialect["schema"]["enum"] == ["native", "openai", "vercel-ai", "anthropic"]
    schemes = document["components"]["securitySchemes"]
    assert any(
        s == {"type": "http", "scheme": "bearer", "description": s.get("description")}
        for s in schemes.values()
    )
    for path, methods in paths.items():
        for operation in methods.values():
            assert bool(operation.get("security")) == path.startswith("/v1"), path
    keyless = httpx.get(f"{open_gw.url}/openapi.json").json()
    assert "securitySchemes" not in keyless["components"]
    assert not any(op.get("security") for m in keyless["paths"].values() for op in m.values())
    request = document["components"]["schemas"]["StreamRequest"]["properties"]
    assert request["messages"]["maxItems"] == LIMITS["max_messages"]
    assert {"type": "integer", "minimum": 1, "maximum": LIMITS["max_tokens_limit"]} in request[
        "max_tokens"
    ]["anyOf"]
    metadata = next(b for b in request["metadata"]["anyOf"] if b.get("type") == "object")
    assert metadata["maxProperties"] == LIMITS["max_metadata_items"]


def _checker(
    operation: Any,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, str] | None,
    url: str,
    auth: dict[str, str],
    extra: dict[str, Any],
) -> Any:
    """A hypothesis test that calls ``operation`` with generated cases and checks each answer."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=auth, timeout=20)
        case.validate_response(response, **extra)

    return check


def _run(gw: RunningGateway, mode_name: str, auth: dict[str, str]) -> None:
    """Every operation of ``gw``'s document with schemathesis' ``mode_name`` cases."""
    # Imported here: only the two schemathesis tests (slow) use it, so a fast run's
    # collection does not pay for it.
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        negative_data_rejection,
        not_a_server_error,
        positive_data_acceptance,
    )
    from schemathesis.config import SchemathesisConfig

    mode = GenerationMode(mode_name)
    config = SchemathesisConfig.from_str(CONFIG)
    schema = schemathesis.openapi.from_url(f"{gw.url}/openapi.json", config=config)
    stream_id = httpx.post(f"{gw.url}/v1/streams", json=CHAT, headers=auth).json()["id"]
    ran: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        path_parameters = {"stream_id": stream_id} if "{stream_id}" in operation.path else None
        extra: dict[str, Any] = {}
        if mode is GenerationMode.NEGATIVE:
            extra["checks"] = [not_a_server_error, negative_data_rejection]
        elif operation.path.endswith("/events"):
            # a well-formed Last-Event-ID past the stream's end is 400 by design (it depends on
            # the stream, not on the document); every other check still runs
            extra["excluded_checks"] = [positive_data_acceptance]
        elif operation.path in ("/v1/ui/chat", "/v1/messages"):
            # max_messages counts the model's messages, and an answered tool part of a UI
            # message is two of them (an Anthropic system prompt or tool result is one of
            # its own): the document can bound the route's messages only
            extra["excluded_checks"] = [positive_data_acceptance]
        check = _checker(operation, mode, path_parameters, gw.url, auth, extra)

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid: no free parameter and no body
            assert mode is GenerationMode.NEGATIVE
            continue
        ran.add(f"{operation.method.upper()} {operation.path}")
    assert {
        "POST /v1/streams",
        "POST /v1/chat/stream",
        "POST /v1/chat/completions",
        "GET /v1/streams/{stream_id}/events",
        "POST /v1/ui/chat",
        "POST /v1/messages",
    } <= ran
    if mode is GenerationMode.POSITIVE:
        assert {"GET /v1/models", "DELETE /v1/streams/{stream_id}", "GET /healthz"} <= ran


def test_schemathesis_positive_cases_are_accepted_and_conform(gw: RunningGateway) -> None:
    started = time.monotonic()
    _run(gw, "positive", AUTH)
    assert time.monotonic() - started < 120


def test_schemathesis_negative_cases_are_refused_without_5xx(open_gw: RunningGateway) -> None:
    started = time.monotonic()
    _run(open_gw, "negative", {})
    assert time.monotonic() - started < 120
