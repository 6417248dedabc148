"""Connect to an SSE endpoint and record the whole stream with timings.

Strategy: the only module of ``surestream.check`` with a socket. ``arecord`` sends one request
with httpx, feeds the response head and every body chunk (as it arrives, with its time on a
monotonic clock) into a sans-IO ``Recorder``, and returns the ``Recording``. It never raises
for anything the server or the network did: a refused connection, a reset, a body that never
ends are all outcomes written into the recording (``end`` and ``error``). ``timeout`` bounds
the whole exchange (connect, headers and body); when it runs out the recording ends with
``END_TIMEOUT``. ``arecord_resume`` is the ``--resume`` test: read part of the stream, cut
the connection, reconnect with ``Last-Event-ID`` (to the ``Location`` the first response
named, if any) and record the rest. Nothing here prints.
"""

from __future__ import annotations

import time

from surestream._extras import needs

with needs("check", __name__):
    import anyio
    import httpx

from surestream.check.recording import (
    END_BROKEN,
    END_CLOSED,
    END_CUT,
    END_NO_RESPONSE,
    END_PROTOCOL_ERROR,
    END_TIMEOUT,
    Recorder,
    Recording,
    Request,
    ResumeRecording,
)
from surestream.errors import SSEProtocolError

__all__ = [
    "DEFAULT_CHECK_CONNECT_TIMEOUT",
    "DEFAULT_CHECK_TIMEOUT",
    "arecord",
    "arecord_resume",
    "reconnect_request",
]

DEFAULT_CHECK_TIMEOUT = 30.0
"""Overall bound in seconds on one connection: connect, headers and the whole body."""
DEFAULT_CHECK_CONNECT_TIMEOUT = 10.0
"""Bound in seconds on opening the TCP (and TLS) connection, within the overall bound."""

_DEFAULT_HEADERS = (("Accept", "text/event-stream"), ("Cache-Control", "no-cache"))


def _with_defaults(request: Request) -> Request:
    names = {name.lower() for name, _ in request.headers}
    extra = tuple((k, v) for k, v in _DEFAULT_HEADERS if k.lower() not in names)
    return Request(request.url, request.method, extra + request.headers, request.body)


async def arecord(
    request: Request,
    *,
    timeout: float = DEFAULT_CHECK_TIMEOUT,  # noqa: ASYNC109 (reported in the result, not raised)
    connect_timeout: float = DEFAULT_CHECK_CONNECT_TIMEOUT,
    cut_after: int | None = None,
    verify: bool = True,
) -> Recording:
    """Send ``request`` and record the response until it ends or ``timeout`` runs out.

    ``Accept: text/event-stream`` and ``Cache-Control: no-cache`` are sent unless the request
    names them (as a browser ``EventSource`` does). Header values go out UTF-8 encoded, as a
    browser sends ``Last-Event-ID`` for an id like ``³``. With ``cut_after`` the connection is
    closed on purpose once that many events have arrived (``END_CUT``). ``verify`` is
    passed to httpx (TLS certificate checks).
    """
    request = _with_defaults(request)
    recorder = Recorder(request)
    # Times count from the moment the request goes out (httpx's request hook), not from
    # building the client: its TLS context alone takes tens of milliseconds.
    started, sent = time.perf_counter(), False

    async def on_request(_: httpx.Request) -> None:
        nonlocal started, sent
        if not sent:
            started, sent = time.perf_counter(), True

    def now() -> float:
        return time.perf_counter() - started

    how, error = END_CLOSED, None
    timeouts = httpx.Timeout(None, connect=min(connect_timeout, timeout))
    hooks = {"request": [on_request]}
    with anyio.move_on_after(timeout) as scope:
        try:
            async with (
                httpx.AsyncClient(
                    timeout=timeouts, verify=verify, follow_redirects=True, event_hooks=hooks
                ) as client,
                client.stream(
                    request.method,
                    request.url,
                    headers=[(k.encode(), v.encode()) for k, v in request.headers],
                    content=request.body,
                ) as response,
            ):
                recorder.on_headers(
                    now(),
                    response.status_code,
                    response.headers.multi_items(),
                    reason=response.reason_phrase,
                    http_version=response.http_version,
                    final_url=str(response.url),
                )
                async for chunk in response.aiter_bytes():
                    recorder.on_bytes(now(), chunk)
                    if cut_after is not None and len(recorder.recording.events) >= cut_after:
                        # Events past the cut that shared its chunk count as lost in flight:
                        # the client resumes from the cut_after-th event.
                        del recorder.recording.events[cut_after:]
                        how = END_CUT
                        break
        except SSEProtocolError as exc:
            how, error = END_PROTOCOL_ERROR, str(exc)
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            how = END_BROKEN if recorder.recording.responded else END_NO_RESPONSE
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if scope.cancelled_caught:
        if recorder.recording.responded:
            how, error = END_TIMEOUT, f"still open after {timeout:g} s"
        else:
            how, error = END_NO_RESPONSE, f"no response within {timeout:g} s"
    rec = recorder.on_end(now(), how, error)
    rec.timeout = timeout
    return rec


def reconnect_request(first: Recording, last_event_id: str) -> Request:
    """The request a resuming client sends after ``first`` was cut.

    The same request with ``Last-Event-ID``; or, when the first response named a
    ``Location`` (a POST that created a stream, as our gateway's ``/v1/chat/stream`` does), a
    GET of that URL.
    """
    location = first.header("location")
    original = first.request
    if location:
        url = str(httpx.URL(first.final_url or original.url).join(location))
        kept = tuple(
            (k, v)
            for k, v in original.headers
            if k.lower() not in {"content-type", "content-length"}
        )
        base = Request(url, "GET", kept, None)
    else:
        base = original
    return base.with_header("Last-Event-ID", last_event_id)


async def arecord_resume(
    request: Request,
    cut_after: int,
    *,
    timeout: float = DEFAULT_CHECK_TIMEOUT,  # noqa: ASYNC109 (reported in the result, not raised)
    connect_timeout: float = DEFAULT_CHECK_CONNECT_TIMEOUT,
    verify: bool = True,
) -> ResumeRecording | Recording:
    """Read ``cut_after`` events, cut, reconnect with ``Last-Event-ID`` and record the rest.

    Returns the first (cut) recording alone when it could not be resumed: it ended before
    the cut, or had no event ID to resume from.
    """
    first = await arecord(
        request,
        timeout=timeout,
        connect_timeout=connect_timeout,
        cut_after=cut_after,
        verify=verify,
    )
    last_id = first.events[-1].id if first.events else None
    if first.end != END_CUT or last_id is None:
        return first
    second = await arecord(
        reconnect_request(first, last_id),
        timeout=timeout,
        connect_timeout=connect_timeout,
        verify=verify,
    )
    return ResumeRecording(first, second, last_id)
