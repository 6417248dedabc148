"""``Hub``: runs the producers of journaled streams and serves their subscribers.

Strategy: generation is decoupled from delivery. ``start`` creates a journal (with the
producer lease), appends ``Start`` and returns the stream id at once; a producer task
(``_producer``) then drains the source into the journal, and each reader is a
``Subscription`` (``_subscription``) of the store's ``read``; the ``Hub`` itself (``_hub``)
holds the producers, counts the subscribers and runs the ticker. Every journal ends with
exactly one terminal event, whatever happens:

=====================================  =================================================
source ends                            ``done`` (``stop``), or the source's own terminal
source raises ``SourceFailed``         ``error`` with its code (retryable by the code's
                                       documented default unless given)
source raises anything else            ``error`` ``internal_error``, traceback in the log
journal reaches ``max_events``         ``done`` ``length``
``cancel`` (from any instance)         ``done`` ``cancelled``
no subscriber for ``orphan_grace``     ``done`` ``cancelled``
``aclose`` (server shutdown)           ``error`` ``server_shutdown`` (retryable)
this process dies                      ``error`` ``producer_lost``, appended by a reader
                                       once the lease (``lease_ttl``) runs out
the store fails                        readers get ``store_unavailable``; the producer
                                       holds its source (the queue fills) and retries
                                       the append every ``store_retry`` s while its lease
                                       lasts, then stops its source (readers append
                                       ``producer_lost`` once the store is back)
=====================================  =================================================

The grammar of what the pump hands on (``Start`` skipped, ``str`` as ``Text``, nothing after
the terminal) and every verdict in the table are ``surestream.lifecycle``'s; the hub is its
I/O driver; ``_hub`` says how a verdict reaches a producer elsewhere and what the ticker
does.
"""

from __future__ import annotations

from surestream.errors import HubClosed
from surestream.hub._hub import (
    DEFAULT_LEASE_TTL,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_PENDING,
    DEFAULT_ORPHAN_GRACE,
    DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_STORE_RETRY,
    DEFAULT_WATCH_TTL,
    Hub,
    new_stream_id,
)
from surestream.hub._subscription import Subscription
from surestream.store.base import (
    InvalidResumePoint,
    StoreUnavailable,
    StreamExpired,
    StreamNotFound,
    TooManySubscribers,
    parse_last_event_id,
)

__all__ = [
    "DEFAULT_LEASE_TTL",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_ORPHAN_GRACE",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_STORE_RETRY",
    "DEFAULT_WATCH_TTL",
    "Hub",
    "HubClosed",
    "InvalidResumePoint",
    "StoreUnavailable",
    "StreamExpired",
    "StreamNotFound",
    "Subscription",
    "TooManySubscribers",
    "new_stream_id",
    "parse_last_event_id",
]
