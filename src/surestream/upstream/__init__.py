"""Where tokens come from: the built-in ``DemoModel``, any OpenAI-compatible server and
Anthropic's Messages API (``AnthropicUpstream``).

Every upstream follows the two-phase ``Upstream`` protocol of ``surestream.upstream.base``:
``open()`` raises ``UpstreamHTTPError`` when the request is refused before the first token,
then the opened stream yields ``Text`` ... ``Done`` or raises ``SourceFailed`` mid-stream.
"""

from surestream.upstream.anthropic import AnthropicUpstream
from surestream.upstream.base import (
    ChatMessage,
    ChatRequest,
    ModelInfo,
    OpenedStream,
    Upstream,
    UpstreamHTTPError,
    generate,
    safe_message,
)
from surestream.upstream.demo import DemoModel, parse_stamp
from surestream.upstream.openai_compat import OpenAICompatibleUpstream, map_status

__all__ = [
    "AnthropicUpstream",
    "ChatMessage",
    "ChatRequest",
    "DemoModel",
    "ModelInfo",
    "OpenAICompatibleUpstream",
    "OpenedStream",
    "Upstream",
    "UpstreamHTTPError",
    "generate",
    "map_status",
    "parse_stamp",
    "safe_message",
]
