"""The response-head rules of ``surestream check``: status, content type, caching, buffering.

Strategy: a pure function over a ``Recording``, as in ``surestream.check.findings``, which
documents every finding code and calls it first.
"""

from __future__ import annotations

from surestream.check.recording import Recording
from surestream.check.report import OK, PROBLEM, WARNING, Finding
from surestream.check.timing import Thresholds, held_back

__all__ = ["head_findings"]


def head_findings(rec: Recording, th: Thresholds) -> list[Finding]:
    """The findings about the response head: status, content type, caching, buffering."""
    if not rec.responded:
        return [
            Finding(
                "connect_failed",
                PROBLEM,
                f"could not get a response from {rec.request.url}: {rec.error or 'no response'}",
                "check the URL and that the server is running and reachable from here",
            )
        ]
    assert rec.status is not None
    out: list[Finding] = []
    preview = rec.body_preview[:200].decode("utf-8", "replace").strip()
    if 200 <= rec.status < 300:
        out.append(Finding("status_ok", OK, f"HTTP {rec.status} {rec.reason}".strip()))
    else:
        out.append(
            Finding(
                "status_not_ok",
                PROBLEM,
                f"HTTP {rec.status} {rec.reason}".strip() + (f": {preview}" if preview else ""),
                "fix the request (method, body, headers) or the server error first",
            )
        )
    ctype = rec.header("content-type") or ""
    if ctype.partition(";")[0].strip().lower() == "text/event-stream":
        out.append(Finding("content_type_sse", OK, f"Content-Type: {ctype}"))
    else:
        parsed = f" (the body itself holds {len(rec.events)} SSE events)" if rec.events else ""
        out.append(
            Finding(
                "content_type_not_sse",
                PROBLEM,
                f"Content-Type is {ctype or 'missing'!r}, not text/event-stream: a browser "
                f"EventSource refuses the stream{parsed}",
                'send Content-Type: text/event-stream (e.g. media_type="text/event-stream")',
            )
        )
    cache = (rec.header("cache-control") or "").lower()
    if "no-cache" in cache or "no-store" in cache:
        out.append(Finding("cache_control_ok", OK, f"Cache-Control: {cache}"))
    else:
        out.append(
            Finding(
                "cache_control_missing",
                WARNING,
                f"Cache-Control is {cache or 'missing'!r}: caches and proxies may store or "
                "transform the stream",
                "send Cache-Control: no-cache, no-transform",
            )
        )
    out.extend(_compression(rec, th))
    if (rec.header("x-accel-buffering") or "").strip().lower() == "no":
        out.append(Finding("x_accel_buffering_ok", OK, "X-Accel-Buffering: no"))
    else:
        out.append(
            Finding(
                "x_accel_buffering_missing",
                WARNING,
                'X-Accel-Buffering is not "no": behind nginx the stream is buffered, not streamed',
                "send X-Accel-Buffering: no",
            )
        )
    length = rec.header("content-length")
    if length is not None:
        out.append(
            Finding(
                "fixed_content_length",
                PROBLEM,
                f"Content-Length: {length}: the body was produced whole and sent at once, "
                "not streamed; clients see nothing until the end",
                "return a streaming response (StreamingResponse / EventSourceResponse) that "
                "writes each event as it is produced",
            )
        )
    return out


def _compression(rec: Recording, th: Thresholds) -> list[Finding]:
    encoding = (rec.header("content-encoding") or "").strip().lower()
    if not encoding or encoding == "identity":
        return []
    fix = "do not compress text/event-stream (exclude it from the gzip middleware)"
    held = held_back(rec, th)
    if held is not None:
        message = (
            f"Content-Encoding: {encoding}, and {held}: the compressor holds events back "
            "until its buffer fills"
        )
        return [Finding("compressed", PROBLEM, message, fix)]
    message = (
        f"Content-Encoding: {encoding}: the events arrived one by one here (the compressor "
        "flushes), but a proxy in between may hold compressed SSE back"
    )
    return [Finding("compressed", WARNING, message, fix)]
