"""One default TLS context for every HTTP client a test process makes.

httpx (and httpx2, which the openai and anthropic SDKs use) builds a new ``ssl.SSLContext``
for every client, and loading a CA bundle into it costs 30 to 45 ms of CPU. The suites make
hundreds of clients, nearly all for plain-HTTP loopback servers: a fast run spent over 20 s
of its two cores there. ``share_default_ssl_context()`` makes the default (``verify=True``,
no client certificate) one context per CA source (the bundle, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` when the client trusts the environment), built once per process by the
library itself; any other ``verify`` still gets its own. (httpcore sets the context's ALPN
protocols before each TLS handshake; no test makes one to a real TLS server.)
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import ssl
from collections.abc import Callable
from typing import Any

TRANSPORT_MODULES = ("httpx._transports.default", "httpx2._transports.default")
"""The modules whose ``create_ssl_context`` every client's transport calls."""


def _sharing(build: Callable[..., ssl.SSLContext]) -> Callable[..., ssl.SSLContext]:
    @functools.cache
    def default(trust_env: bool, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
        return build(verify=True, cert=None, trust_env=trust_env)

    def create_ssl_context(
        verify: Any = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None:
            env = os.environ if trust_env else {}
            return default(trust_env, env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR"))
        return build(verify=verify, cert=cert, trust_env=trust_env)

    create_ssl_context.shares_default = True  # type: ignore[attr-defined]
    return create_ssl_context


def share_default_ssl_context() -> None:
    """Have every client built with the default ``verify`` share one context (idempotent)."""
    for name in TRANSPORT_MODULES:
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if not getattr(module.create_ssl_context, "shares_default", False):
                module.create_ssl_context = _sharing(module.create_ssl_context)
