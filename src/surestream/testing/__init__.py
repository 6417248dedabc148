"""Test kit shipped with surestream: tools to test your own code against misbehaving peers.

``FakeUpstream`` is an OpenAI-compatible model server that stalls, fails, truncates, trickles
and sends error objects on demand (see ``surestream.testing.fake_upstream``).
"""

from surestream._extras import needs

with needs("server", __name__):
    from surestream.testing.fake_upstream import FakeUpstream, ReceivedRequest, Scenario

__all__ = ["FakeUpstream", "ReceivedRequest", "Scenario"]
