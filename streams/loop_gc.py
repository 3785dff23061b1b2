"""Garbage collection at the runtime event loop's safe points, not in the middle of a forecast.

CPython collects the youngest generation whenever allocations outrun deallocations by 700
(``gc.get_threshold()``), in whichever thread allocates at that moment. In the runtime that was
often the event loop while it decoded a marker frame: measured in ``biosig demo``, a
generation-1 collection in the loop took 1.1-1.9 ms every 8-15 s, added to the forecast of the
frame being handled. :class:`LoopGC` turns automatic collection off while the loop runs and
collects, by the same thresholds, between loop iterations, after the frames of the iteration
have been answered. The oldest generation is collected at most every ``full_every_s`` (the
start-up heap is frozen, :func:`streams.runtime.freeze_start_up_heap`, so a full collection only
scans objects made since).

``gc.disable()`` is process-wide: other threads' allocations are collected at the loop's next
safe point (within one poll timeout, 50 ms). On exit automatic collection is restored if it was on.
"""
from __future__ import annotations

import gc
import time


class LoopGC:
    """``with LoopGC() as lgc: ... lgc.maybe_collect()`` once per loop iteration."""

    def __init__(self, full_every_s: float = 60.0):
        self.full_every_s = float(full_every_s)
        self.collections = [0, 0, 0]     # per generation, for tests and the curious
        self._was_enabled = False
        self._last_full = time.monotonic()

    def __enter__(self):
        self._was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc):
        if self._was_enabled:
            gc.enable()

    def maybe_collect(self) -> int | None:
        """Collect the generation CPython would have collected by now (None: nothing due)."""
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = gc.get_threshold()
        if t0 <= 0 or c0 <= t0:
            return None
        gen = 1 if c1 >= t1 else 0
        if gen == 1 and c2 >= t2:
            now = time.monotonic()
            if now - self._last_full >= self.full_every_s:
                gen, self._last_full = 2, now
        gc.collect(gen)
        self.collections[gen] += 1
        return gen
