"""surestream: LLM output over Server-Sent Events, where every stream ends with a verdict.

The layers, bottom up (each importable on its own): ``sse`` (sans-IO codec), ``events``
(the typed vocabulary), ``dialects`` (native, openai, vercel-ai wire shapes), then the
I/O layers ``server``, ``store``/``hub``, ``client``, ``gateway`` and ``cli``.
"""

from surestream.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    SourceFailed,
    SSEProtocolError,
    SurestreamError,
)

__version__ = "0.1.0"

__all__ = [
    "LocalProtocolError",
    "RemoteProtocolError",
    "SSEProtocolError",
    "SourceFailed",
    "SurestreamError",
    "__version__",
]
