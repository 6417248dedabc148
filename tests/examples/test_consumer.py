"""examples/consumer.py against a real gateway: the answer on stdout, exit code by outcome."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from surestream.gateway.settings import Settings
from surestream.upstream import ChatMessage, ChatRequest, DemoModel
from tests.support.gateways import run_gateway

EXAMPLE = Path(__file__).parents[2] / "examples" / "consumer.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=60
    )


def test_consumer_prints_the_whole_answer_and_exits_0_on_done() -> None:
    with run_gateway(Settings(demo_tokens_per_second=0)) as gateway:
        done = run("--url", gateway.url, "Tell me about streams")
    expected = DemoModel().answer(
        ChatRequest(model="demo", messages=[ChatMessage("user", "Tell me about streams")])
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(" ".join(expected))
    assert "[done: stop]" in done.stdout


def test_consumer_exits_1_on_an_error_verdict() -> None:
    settings = Settings(demo_tokens_per_second=0.5, idle_timeout=0.2)
    with run_gateway(settings) as gateway:
        failed = run("--url", gateway.url, "hi")
    assert failed.returncode == 1, failed.stderr
    assert "failed: idle_timeout" in failed.stderr


def test_consumer_exits_1_with_the_message_when_the_request_is_refused() -> None:
    with run_gateway(Settings(demo_tokens_per_second=0)) as gateway:
        refused = run("--url", gateway.url, "--model", "nope", "hi")
    assert refused.returncode == 1, refused.stderr
    assert "refused (404): unknown model 'nope'" in refused.stderr
