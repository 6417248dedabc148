"""``DetachStreams``: event streams run after the framework's request stack has returned.

Strategy: an ASGI app keeps the frames of every middleware, the router, the endpoint's
wrappers, the request object, its parsed body and its dependencies alive until its response
is complete. For a request/response that lasts milliseconds it does not matter; for an event
stream open for minutes it is most of the memory the connection costs (with FastAPI, about
10 KiB per open stream), and every event crosses each middleware's ``send`` wrapper. The
middleware puts a slot into the scope it passes on; an ``EventStreamResponse`` called with
that scope leaves itself in the slot instead of streaming, so the endpoint, the router and
every middleware below return at once, and the middleware then runs the response with its
own ``scope``, ``receive`` and ``send``. Middlewares above it see the whole response as
usual. The response starts no later than it would have: nothing runs between the endpoint's
return and the middleware's call but the unwinding of the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from surestream.server._response import EventStreamResponse

__all__ = ["DETACH_SCOPE_KEY", "DetachStreams"]

DETACH_SCOPE_KEY = "surestream.detach"
"""The scope key of the slot ``DetachStreams`` passes down."""


class DetachStreams:
    """ASGI middleware: an ``EventStreamResponse`` returned below it streams once the app
    below has returned, with the frames of the router, the endpoint and its dependencies
    released (less memory per open stream, fewer ``send`` wrappers per event).

    Add it *innermost*: with FastAPI or Starlette, ``app.add_middleware(DetachStreams)``
    before any other ``add_middleware`` call. Middlewares added later (outside it) see the
    whole stream; those below it, and the endpoint, are done before the stream starts:

    - a dependency with ``yield`` (a database session, say) has been closed when the
      stream's source runs, so a source must not use one;
    - a middleware below it that wraps ``send`` (to add headers, compress) sees nothing of
      the stream, and one that insists on a response being sent before the app returns
      (``BaseHTTPMiddleware``) must not be below it.

    Responses other than ``EventStreamResponse`` are not affected. FastAPI's own telemetry,
    on as soon as the process has an OpenTelemetry provider (``opentelemetry-instrument``, or
    a framework that installs one, as ADK's app does), keeps the request, its body and its
    parsed values until the response ends, whatever this middleware does (``FastAPI``'s
    ``telemetry`` argument turns it off).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the app with a slot in the scope, then run the stream it left there."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot: list[EventStreamResponse] = []
        try:
            await self.app({**scope, DETACH_SCOPE_KEY: slot}, receive, send)
        except BaseException:
            for response in slot:
                await response.discard()
            raise
        if slot:
            await slot[0](scope, receive, send)
