"""streams.steal: the steal sampler and which late forecasts overlapped stolen time."""
import time

import numpy as np
import pytest

from streams.steal import StealSampler, late_forecasts, read_steal_ticks


def test_late_forecasts_counts_the_ones_whose_span_meets_a_steal_increment():
    t = np.arange(100.0, 101.0, 0.005)                 # sampled every 5 ms for 1 s
    ticks = np.zeros_like(t)
    ticks[100:] = 10.0                                 # 100 ms stolen, seen between t[99] and t[100]
    assert t[99] == pytest.approx(100.495) and t[100] == pytest.approx(100.5)
    rows = np.stack([t, ticks], 1)
    received = np.array([100.2, 100.45, 100.52, 100.60, 100.90])
    latency = np.array([1.0, 2.0, 90.0, 1.5, 40.0])    # ms: 100.52 spans (100.43, 100.52]: hit
    got = late_forecasts(received, latency, rows, 5.0)
    assert got["n"] == 5 and got["over"] == 2             # 90 and 40 ms
    assert got["over_with_steal"] == 1 and got["with_steal"] == 1
    assert got["p99_without_steal_ms"] == pytest.approx(np.percentile([1.0, 2.0, 1.5, 40.0], 99))
    # received just inside the sampled interval that holds the increment: overlapped (the interval is
    # all we know); its device timestamp just after that interval: not
    assert late_forecasts(np.array([100.4961]), np.array([0.5]), rows)["with_steal"] == 1
    assert late_forecasts(np.array([100.5016]), np.array([1.0]), rows)["with_steal"] == 0
    assert late_forecasts(received, latency, np.stack([t, np.zeros_like(t)], 1))["with_steal"] == 0
    empty = late_forecasts(np.zeros(0), np.zeros(0), rows)
    assert empty["n"] == 0 and np.isnan(empty["p99_without_steal_ms"])
    assert late_forecasts(received, latency, np.zeros((0, 2)))["over_with_steal"] == 0


def test_sampler_reads_the_counter_until_stopped():
    s = StealSampler(period_s=0.002).start()
    time.sleep(0.05)
    rows = s.stop()
    n = len(rows)
    time.sleep(0.02)
    assert rows.shape[1] == 2 and n >= 5 and len(s.rows) == n       # stopped: no more rows
    assert np.all(np.diff(rows[:, 0]) > 0) and np.all(np.diff(rows[:, 1]) >= 0)
    assert rows[-1, 1] <= read_steal_ticks()
