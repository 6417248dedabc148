"""An ADK agent (``root_agent``) on a fake, network-free model, for ``adk api_server`` and ours."""

from . import agent

__all__ = ["agent"]
