"""The pacing-spike step's running median over wider spans (above 500 Hz: 7 and 9 samples) is the middle
of a partition where the samples are finite: the same numbers as ``np.median`` of the sliding views (the
oracle), a NaN's row NaN as before. 10 s at 1000 Hz: 2.2 -> 1.5 ms per window
(``benchmarks/bench_pacing_spikes.py``); every output of ``without_pacing_spikes`` the same on 238
windows (simulated and the tests' paced records at 125-1000 Hz, the shared WFDB and 20 CinC 2017)."""
import numpy as np
import pytest

from biosig.ecg_pacing import _running_median


@pytest.mark.parametrize("half", [1, 2, 3, 4, 8])
def test_running_median_is_numpys(half):
    rng = np.random.default_rng(half)
    for x in (rng.normal(size=3000), np.round(rng.normal(size=500), 1), rng.integers(-5, 5, 300).astype(float)):
        for y in (x, np.where(np.arange(len(x)) % 97 == 5, np.nan, x)):
            ref = np.median(np.lib.stride_tricks.sliding_window_view(np.pad(y, half, mode="edge"), 2 * half + 1), axis=1)
            assert np.array_equal(_running_median(y, half), ref, equal_nan=True)
