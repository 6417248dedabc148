"""``inspect`` and ``ainspect``: record an endpoint's stream, then analyse it.

Strategy: a thin composition of the I/O half (``record.arecord``, ``record.arecord_resume``)
and the sans-IO half (``findings.analyse``). ``ainspect`` is the implementation; ``inspect``
runs it in a fresh event loop for synchronous code (a test suite, a script). Neither prints.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence

from surestream._extras import needs

with needs("check", __name__):
    import anyio

import orjson

from surestream.check.findings import Thresholds, analyse, resume_cut_point
from surestream.check.record import (
    DEFAULT_CHECK_CONNECT_TIMEOUT,
    DEFAULT_CHECK_TIMEOUT,
    arecord,
    arecord_resume,
)
from surestream.check.recording import Recording, Request, ResumeRecording
from surestream.check.report import Report

__all__ = ["ainspect", "build_request", "inspect"]

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def build_request(
    url: str,
    *,
    method: str | None = None,
    headers: Headers = (),
    body: str | bytes | None = None,
) -> Request:
    """The request to send: ``method`` defaults to POST with a body, GET without.

    A body that parses as JSON gets ``Content-Type: application/json`` unless ``headers``
    name a content type.
    """
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    data = body.encode() if isinstance(body, str) else body
    if data is not None and not any(k.lower() == "content-type" for k, _ in pairs):
        try:
            orjson.loads(data)
            pairs.append(("Content-Type", "application/json"))
        except orjson.JSONDecodeError:
            pass
    verb = (method or ("POST" if data is not None else "GET")).upper()
    return Request(url, verb, tuple(pairs), data)


async def ainspect(
    url: str,
    *,
    method: str | None = None,
    headers: Headers = (),
    body: str | bytes | None = None,
    expect_events: Sequence[str] = (),
    expect_fields: Sequence[str] = (),
    timeout: float = DEFAULT_CHECK_TIMEOUT,  # noqa: ASYNC109 (reported in the result, not raised)
    connect_timeout: float = DEFAULT_CHECK_CONNECT_TIMEOUT,
    resume: bool = False,
    thresholds: Thresholds | None = None,
    verify: bool = True,
) -> Report:
    """Connect to ``url``, record the whole stream and return the ``Report``.

    ``expect_events`` are the event names the client listens for; ``expect_fields`` the
    JSON keys (dotted paths) it reads. ``timeout`` bounds each connection as a whole: a stream
    still open then is reported (``timed_out``), not waited on. With ``resume`` the stream is
    requested a second time, cut mid-way and resumed with ``Last-Event-ID``. ``thresholds``
    overrides the rules' limits (e.g. lower proxy idle limits in a test).
    """
    request = build_request(url, method=method, headers=headers, body=body)
    rec = await arecord(request, timeout=timeout, connect_timeout=connect_timeout, verify=verify)
    resumed: ResumeRecording | Recording | None = None
    if resume and rec.status is not None and 200 <= rec.status < 300:
        cut = resume_cut_point(rec)
        if cut is not None:
            resumed = await arecord_resume(
                request, cut, timeout=timeout, connect_timeout=connect_timeout, verify=verify
            )
    return analyse(
        rec,
        expect_events=expect_events,
        expect_fields=expect_fields,
        thresholds=thresholds,
        resume=resumed,
        resume_requested=resume,
    )


def inspect(
    url: str,
    *,
    method: str | None = None,
    headers: Headers = (),
    body: str | bytes | None = None,
    expect_events: Sequence[str] = (),
    expect_fields: Sequence[str] = (),
    timeout: float = DEFAULT_CHECK_TIMEOUT,
    connect_timeout: float = DEFAULT_CHECK_CONNECT_TIMEOUT,
    resume: bool = False,
    thresholds: Thresholds | None = None,
    verify: bool = True,
) -> Report:
    """``ainspect`` for synchronous code (it runs its own event loop; in async code await
    ``ainspect`` instead)."""
    run = functools.partial(
        ainspect,
        url,
        method=method,
        headers=headers,
        body=body,
        expect_events=expect_events,
        expect_fields=expect_fields,
        timeout=timeout,
        connect_timeout=connect_timeout,
        resume=resume,
        thresholds=thresholds,
        verify=verify,
    )
    return anyio.run(run)
