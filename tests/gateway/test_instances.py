"""Two gateway processes sharing one real redis-server: resume on the other instance, and a
producer whose process is killed ends its stream with ``producer_lost`` on every instance."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import httpx
from tests.support.servers import ServerProcess, gateway_process

from surestream.dialects import get_dialect
from surestream.events import Done, Error, Event, Start, Text
from surestream.sse import Decoder
from surestream.upstream import ChatRequest, DemoModel

PROMPT = "Explain resumable streams across two instances"
CHAT = {"model": "demo", "messages": [{"role": "user", "content": PROMPT}], "seed": 7}


@contextlib.contextmanager
def gateway(redis_url: str, prefix: str, tokens_per_second: float) -> Iterator[ServerProcess]:
    flags = ("--store", redis_url, "--demo-tokens-per-second", str(tokens_per_second))
    with gateway_process(*flags, env={"SURESTREAM_REDIS_PREFIX": prefix}) as process:
        yield process


class Reader:
    """(seq, event) pairs of a native stream, decoded from the raw bytes by our Decoder."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.iter_raw()
        self.decoder = Decoder()
        self.dialect = get_dialect("native").decoder()
        self.pending: list[tuple[int, Event]] = []

    def read(self, stop_after: int | None = None) -> list[tuple[int, Event]]:
        """Events until ``stop_after`` of them or the terminal one."""
        out: list[tuple[int, Event]] = []
        while True:
            while self.pending:
                item = self.pending.pop(0)
                out.append(item)
                if isinstance(item[1], Done | Error) or len(out) == stop_after:
                    return out
            chunk = next(self.chunks, None)
            if chunk is None:
                return out
            for sse in self.decoder.feed(chunk):
                assert sse.id is not None
                self.pending += [(int(sse.id), e) for e in self.dialect.decode(sse)]


def test_cut_on_instance_a_resumes_on_instance_b_exactly_once(redis_server: ServerProcess) -> None:
    with (
        gateway(redis_server.url, "two-a:", 40) as a,
        gateway(redis_server.url, "two-a:", 40) as b,
    ):
        created = httpx.post(f"{a.url}/v1/streams", json=CHAT).json()
        with httpx.stream("GET", a.url + created["events_url"]) as first:
            before = Reader(first).read(stop_after=8)
        last_id = before[-1][0]
        with httpx.stream(
            "GET", b.url + created["events_url"], headers={"Last-Event-ID": str(last_id)}
        ) as second:
            assert second.status_code == 200
            after = Reader(second).read()
    seqs = [seq for seq, _ in before + after]
    assert seqs == list(range(len(seqs)))
    events = [event for _, event in before + after]
    assert isinstance(events[0], Start) and isinstance(events[-1], Done)
    expected = DemoModel(seed=7).answer(ChatRequest(model="demo", messages=CHAT["messages"]))
    assert "".join(e.text for e in events if isinstance(e, Text)) == " ".join(expected)


def test_killed_producer_gives_producer_lost_on_the_other_instance(
    redis_server: ServerProcess,
) -> None:
    with (
        gateway(redis_server.url, "two-b:", 2) as a,
        gateway(redis_server.url, "two-b:", 2) as b,
    ):
        created = httpx.post(f"{a.url}/v1/streams", json=CHAT).json()
        with httpx.stream("GET", b.url + created["events_url"], timeout=60) as reading:
            reader = Reader(reading)
            received = reader.read(stop_after=2)
            a.stop(signal.SIGKILL)
            received += reader.read()
    verdict = received[-1][1]
    assert isinstance(verdict, Error)
    assert verdict.code == "producer_lost"
    assert verdict.retryable is True
