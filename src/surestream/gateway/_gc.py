"""The collector settings a gateway process runs with (``Settings.tune_gc``).

Strategy: CPython's cyclic collector looks at the youngest generation every 700 new
container objects and at everything after ten of those passes have run ten times; a gateway
creating a few objects per token for hundreds of streams runs it hundreds of times a second
and, every few seconds, walks every object it holds. Measured on a gateway process at 500
streams x 30 tokens/s (RedisStore): 20-25% of its CPU in the collector, each full
collection pausing every stream for about 150 ms, which is the p99 added latency. So, once
the app has started: ``gc.freeze()`` moves everything the imports and the app made (about
110,000 objects) out of the collector's walks, and the youngest generation is collected
every ``YOUNG_THRESHOLD`` allocations (the older ones as before). Cycles are still
collected, a little later. Both are constant-time; there is no ``gc.collect()`` first (a
full collection per app start would cost a process that starts many apps, such as a test
suite, more than it saves), so the few import-time cycles that are already garbage stay.
``restore`` undoes both when the app stops, so such a process keeps no frozen objects.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "restore", "tune"]

YOUNG_THRESHOLD = 20_000
"""New container objects between two collections of the youngest generation (CPython: 700)."""


def tune() -> tuple[int, int, int]:
    """Freeze what exists and raise the youngest generation's threshold; return the
    thresholds before (for ``restore``)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(YOUNG_THRESHOLD, before[0]), *before[1:])
    return before


def restore(thresholds: tuple[int, int, int]) -> None:
    """Give the collector back its thresholds and the frozen objects."""
    gc.set_threshold(*thresholds)
    gc.unfreeze()
