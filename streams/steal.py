"""CPU time the hypervisor takes from this (virtual) machine, and which forecasts it delayed.

On a virtual machine the host may stop the virtual CPUs for a while (``steal`` in ``/proc/stat``):
no thread of the guest runs, whatever its priority, and every forecast in flight is late by as much.
Measured on the 2-core test VM (2026-12-02): in a 60 s demo an independent process sleeping 1 ms at
a time woke 100-104 ms late 7 times, and the steal counter moved by 10 ticks (100 ms) across each
of those stalls; idle, under two busy loops, torch or memory churn it never did. Four such
stalls are enough to set the p99 of about 1600 forecasts. :class:`StealSampler` reads the counter
every few milliseconds so that :func:`late_forecasts` can say which late forecasts overlapped one.
"""
from __future__ import annotations

import threading
import time

import numpy as np


def read_steal_ticks() -> float:
    """The machine's cumulative steal in ticks (``USER_HZ``, usually 100 a second; 0 where the
    kernel reports none or there is no ``/proc/stat``)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return float(fields[8]) if fields[0] == "cpu" and len(fields) > 8 else 0.0
    except (OSError, ValueError, IndexError):
        return 0.0


class StealSampler:
    """Reads the steal counter every ``period_s`` in a daemon thread, from :meth:`start` to
    :meth:`stop`; :attr:`rows` are ``(time.time(), ticks)``."""

    def __init__(self, period_s: float = 0.005):
        self.period_s = period_s
        self.rows: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="biosig-steal", daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.rows.append((time.time(), read_steal_ticks()))
            self._stop.wait(self.period_s)

    def start(self) -> "StealSampler":
        self._thread.start()
        return self

    def stop(self) -> np.ndarray:
        self._stop.set()
        self._thread.join(1.0)
        return np.array(self.rows, dtype=np.float64).reshape(-1, 2)


def late_forecasts(received_s: np.ndarray, latency_ms: np.ndarray, steal_rows: np.ndarray,
                   target_ms: float = 5.0) -> dict:
    """Forecasts over ``target_ms`` and how many of them overlapped stolen time.

    A forecast spans its device timestamp (``received_s - latency_ms``) to its receipt; it
    overlapped steal when the counter moved between two samples whose interval meets that span.
    The counter moves in whole ticks, so a short theft shows only when it completes one: the
    count is a lower bound. Returns ``n``, ``over`` (latency above the target), ``over_with_steal``,
    ``with_steal`` (all forecasts that overlapped steal) and ``p99_without_steal_ms``."""
    received_s = np.asarray(received_s, np.float64)
    latency_ms = np.asarray(latency_ms, np.float64)
    steal_rows = np.asarray(steal_rows, np.float64).reshape(-1, 2)
    hit = np.zeros(len(received_s), bool)
    if len(steal_rows) > 1:
        moved = np.flatnonzero(np.diff(steal_rows[:, 1]) > 0)
        lo, hi = steal_rows[moved, 0], steal_rows[moved + 1, 0]     # steal happened in (lo, hi]
        start = received_s - latency_ms / 1e3
        for a, b in zip(lo, hi):
            hit |= (start <= b) & (received_s >= a)
    over = latency_ms > target_ms
    clear = latency_ms[~hit]
    return {"n": int(len(latency_ms)), "target_ms": float(target_ms), "over": int(over.sum()),
            "over_with_steal": int((over & hit).sum()), "with_steal": int(hit.sum()),
            "p99_without_steal_ms": float(np.percentile(clear, 99)) if len(clear) else float("nan")}
