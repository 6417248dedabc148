"""The gateway: a FastAPI app over the hub, the upstreams and the server (``surestream serve``).

Needs the ``[gateway]`` extra (``pip install 'surestream[gateway]'``). ``create_app`` is in
``surestream.gateway.app``, ``Settings`` in ``surestream.gateway.settings``.
"""

from surestream._extras import require

require("gateway", __name__)
