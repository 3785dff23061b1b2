"""benchmarks/bench_demo_steal.py: the share of forecasts near a steal increment."""
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_demo_steal as bench  # noqa: E402


def test_share_near_steal_counts_increments_within_the_window():
    t = np.arange(0.0, 1.0, 0.005)
    ticks = np.zeros_like(t)
    ticks[t >= 0.5] = 1.0                       # one tick, seen at the sample after 0.5 s
    steal = np.stack([t, ticks], axis=1)
    times = np.array([0.1, 0.495, 0.507, 0.56, 0.9])
    assert bench.share_near_steal(times, steal, 0.01) == pytest.approx(2 / 5)    # 0.495 and 0.507
    assert bench.share_near_steal(times, steal, 0.1) == pytest.approx(3 / 5)
    assert bench.share_near_steal(times, np.stack([t, np.zeros_like(t)], axis=1), 1.0) == 0.0
    assert np.isnan(bench.share_near_steal(np.zeros(0), steal, 0.01))


def test_steal_counter_is_read():
    from streams.steal import read_steal_ticks   # the sampler the benchmark and the demo use
    assert read_steal_ticks() >= 0.0
