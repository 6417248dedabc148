"""A Python consumer of a surestream gateway: typed events, a guaranteed outcome, auto-resume.

Needs ``pip install 'surestream[client]'``. Start a gateway (``make serve``), then::

    .venv/bin/python examples/consumer.py "Tell me about streams"
    .venv/bin/python examples/consumer.py --url http://127.0.0.1:8000 "Hello"

The stream is created with ``POST /v1/chat/stream``; if the connection drops, the client
resumes from the ``Location`` events URL with ``Last-Event-ID`` (it never re-POSTs, so the
answer is paid for once). It exits 0 on ``done``, 1 on an ``error`` verdict, 2 when the
connection was lost for good.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx

from surestream.client import EventStream, StreamFailed, StreamInterrupted, aconnect
from surestream.events import Status, Text


async def ask(url: str, prompt: str, model: str = "demo") -> int:
    """Stream the answer to ``prompt`` to stdout; the exit code of the outcome."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    try:
        async with aconnect(f"{url}/v1/chat/stream", method="POST", json=body) as stream:
            return await show(stream)
    except httpx.HTTPStatusError as refused:  # the request was refused: no stream was made
        error = refused.response.json().get("error", {})
        print(f"refused ({refused.response.status_code}): {error.get('message')}", file=sys.stderr)
        return 1


async def show(stream: EventStream) -> int:
    """Print the stream as it arrives; the exit code of its outcome."""
    try:
        async for event in stream:
            if isinstance(event, Text):
                print(event.text, end="", flush=True)
            elif isinstance(event, Status):
                print(f"\n[{event.message}]", file=sys.stderr)
        await stream.text()  # raises unless the verdict was ``done``
    except StreamFailed as failed:
        print(f"\nfailed: {failed.error.code}: {failed.error.message}", file=sys.stderr)
        return 1
    except StreamInterrupted as lost:
        print(f"\ninterrupted after event {lost.last_event_id}", file=sys.stderr)
        return 2
    print(f"\n[done: {stream.outcome.finish_reason if stream.outcome else '?'}]")
    return 0


def main() -> int:
    """Parse the command line and stream one answer."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("prompt")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default="demo")
    args = parser.parse_args()
    return asyncio.run(ask(args.url, args.prompt, args.model))


if __name__ == "__main__":
    raise SystemExit(main())
