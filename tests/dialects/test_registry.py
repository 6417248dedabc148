"""The dialect registry: each dialect recognises its own headers, payloads and ends, and the
wire knowledge (end markers, SSE framing) has one home."""

from __future__ import annotations

import ast
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings

from surestream.dialects import (
    DETECTION_ORDER,
    DIALECTS,
    EncoderOptions,
    dialect_of_headers,
    dialect_of_payload,
    ends_stream,
    get_dialect,
    is_end_marker,
)
from surestream.events import Event
from tests.dialects._agent_events import STREAMS
from tests.dialects._helpers import sse_events
from tests.support.markers import examples

SRC = Path(__file__).parents[2] / "src" / "surestream"


def test_every_dialect_is_asked_for_payloads() -> None:
    assert sorted(DETECTION_ORDER) == sorted(DIALECTS)


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_a_dialects_own_headers_name_it(name: str) -> None:
    headers = [key.upper() for key in get_dialect(name).headers]
    assert dialect_of_headers(["Content-Type", *headers]) == (None if not headers else name)
    assert dialect_of_headers(["content-type", "cache-control"]) is None


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_a_dialects_heartbeat_is_nothing_to_its_decoder(name: str) -> None:
    dialect = get_dialect(name)
    blocks = sse_events([dialect.heartbeat])
    assert all(not dialect.ends(sse.data) for sse in blocks)
    decoder = dialect.decoder()
    assert [e for sse in blocks for e in decoder.decode(sse)] == []
    assert not decoder.finished
    assert (blocks == []) == (name != "anthropic")  # the API's own event: ping, else a comment


def test_end_markers() -> None:
    assert is_end_marker("[DONE]") and is_end_marker(" [DONE] ")
    assert not is_end_marker("DONE") and not is_end_marker('{"type":"done"}')


def _datas(name: str, events: list[Event]) -> tuple[list[str], list[str]]:
    """The SSE data of every event but the last, and of the last (terminal) one."""
    encoder = get_dialect(name).encoder(EncoderOptions(stream_id="st_1"))
    head = b"".join(encoder.encode(e, seq) for seq, e in enumerate(events[:-1]))
    tail = encoder.encode(events[-1], len(events) - 1)
    return [s.data for s in sse_events([head])], [s.data for s in sse_events([tail])]


@settings(max_examples=examples(100), deadline=None)
@given(STREAMS)
def test_each_dialect_claims_its_payloads_and_knows_its_end(events: list[Event]) -> None:
    for name, dialect in DIALECTS.items():
        head, tail = _datas(name, events)
        for data in head + tail:
            payload = orjson.loads(data) if not is_end_marker(data) else None
            if isinstance(payload, dict) and not (name == "openai" and "error" in payload):
                assert dialect_of_payload(payload) == name, (name, data)
        assert not any(map(dialect.ends, head)), name
        assert tail and dialect.ends(tail[-1]) and ends_stream(tail[-1]), name


def _code_constants(path: Path) -> list[bytes]:
    """The str and bytes literals of a module that are not docstrings, as bytes."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value.encode() if isinstance(node.value, str) else node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str | bytes)
        and id(node) not in docstrings
    ]


def test_end_markers_and_sse_framing_have_one_home() -> None:
    framing = (b"data: ", b"id: ", b"retry: ", b": ping", b"event: ")
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for value in _code_constants(path):
            if value.strip() == b"[DONE]":
                assert where in ("dialects/openai/_wire.py", "dialects/vercel_ai/_wire.py"), where
            if value.startswith(framing) and value.endswith(b"\n"):
                assert where == "sse.py", (where, value)
