"""Fake models over HTTP: ``FakeUpstream`` as the OpenAI-compatible model of an agent.

``scenarios(text)`` turns a user message (``tests.integrations.fakes``) into the
``Scenario`` s of the model calls of one run, queued on the fake before the run starts: the
weather answer's first call streams reasoning, text and the ``get_weather`` call, the second
the final text. ``WatchedFake`` tells from the fake's records when a model call hangs (its
request arrived) and when it was cancelled (the client closed it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from surestream.testing import FakeUpstream, ReceivedRequest, Scenario
from tests.integrations import fakes
from tests.support.servers import serve_in_thread

FIRST = "".join(fakes.FIRST_TEXT)
FINAL = "".join(fakes.FINAL_TEXT)
_THINKING = len(fakes.REASONING.split(" "))


def _call(city: str) -> str:
    return json.dumps([{"id": "call_1", "name": "get_weather", "arguments": {"city": city}}])


def scenarios(text: str) -> list[Scenario]:
    """The model calls of the run that ``text`` asks for."""
    kind, _ = fakes.scenario(text)
    first = Scenario(reasoning=fakes.REASONING, text=FIRST, tool_calls=_call("Paris"))
    if kind == "boom":
        message = f"upstream exploded ({fakes.SECRET})"
        return [
            Scenario(
                reasoning=fakes.REASONING,
                text=FIRST,
                error_after=_THINKING + 1,
                error_message=message,
            )
        ]
    if kind == "hang":
        return [Scenario(reasoning=fakes.REASONING, text=FIRST, stall_after=_THINKING + 1)]
    if kind == "tool-error":
        first = Scenario(reasoning=fakes.REASONING, text=FIRST, tool_calls=_call("Atlantis"))
    return [first, Scenario(text=FINAL)]


@dataclass
class WatchedFake:
    """A ``FakeUpstream`` served on loopback, whose records say what became of each call."""

    fake: FakeUpstream
    url: str

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def start(self, text: str) -> None:
        """Queue the model calls of the run ``text`` asks for."""
        self.fake.enqueue(*scenarios(text))

    def _request(self, name: str, timeout: float = 30) -> ReceivedRequest | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in list(self.fake.requests):
                if f"#{name}" in json.dumps(record.body):
                    return record
            time.sleep(0.02)
        return None

    def hanging(self, name: str) -> bool:
        """True once the model call tagged ``name`` has arrived (it stalls at once)."""
        return self._request(name) is not None

    def cancelled(self, name: str) -> bool:
        """True once the model call tagged ``name`` was closed by its client."""
        record = self._request(name)
        return record is not None and record.wait_ended(30) and record.client_closed


@contextmanager
def watched_fake() -> Iterator[WatchedFake]:
    """A ``FakeUpstream`` under uvicorn for the ``with`` block."""
    fake = FakeUpstream()
    with serve_in_thread(fake.app) as server:
        yield WatchedFake(fake, server.url)
