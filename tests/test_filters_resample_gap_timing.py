"""biosig.filters.resample after a NaN gap: the run after the gap stays on the record's output
instants (it was shifted to the first output sample at or after its start, up to one output period
late: 5 ms at 1000 -> 100 Hz, a 0.09 error on a unit 3 Hz sine).

Oracle: scipy.signal.resample_poly of the same signal without the gap (its branches have gains
1 +- 1e-3, so agreement is to a few 1e-3, far below the shift's error), and the sine itself.
"""
import numpy as np
import pytest
from scipy import signal

from biosig.filters import resample, resample_ratio


@pytest.mark.parametrize("fs_in_hz, fs_out_hz, gap_end", [
    (1000.0, 100.0, 5005),   # run starts 5 input samples (half an output period) off the grid
    (360.0, 250.0, 2001),
    (1000.0, 360.0, 5003),
    (250.0, 360.0, 1501),
    (128.0, 100.0, 1001),
    (33.3, 100.0, 201),
])
def test_run_after_gap_matches_scipy_on_output_instants(fs_in_hz, fs_out_hz, gap_end):
    n = int(round(fs_in_hz * 12))
    t = np.arange(n) / fs_in_hz
    clean = np.sin(2 * np.pi * 1.3 * t) + 0.5 * np.sin(2 * np.pi * 2.9 * t + 0.4)
    x = clean.copy()
    x[gap_end - 20:gap_end] = np.nan
    y = resample(x[None], fs_in_hz, fs_out_hz)[0]
    up, down = resample_ratio(fs_in_hz, fs_out_hz)
    oracle = signal.resample_poly(clean, up, down)
    assert len(y) == len(oracle)
    t_out = np.arange(len(y)) / fs_out_hz
    # the run after the gap, more than 0.5 s from its start and from the record's end
    inner = (t_out > gap_end / fs_in_hz + 0.5) & (t_out < n / fs_in_hz - 0.5)
    assert inner.sum() > 100 and np.isfinite(y[inner]).all()
    assert np.max(np.abs(y[inner] - oracle[inner])) < 5e-3
    truth = np.sin(2 * np.pi * 1.3 * t_out) + 0.5 * np.sin(2 * np.pi * 2.9 * t_out + 0.4)
    assert np.max(np.abs(y[inner] - truth[inner])) < 5e-3
    # the gap stays a gap, and nothing before it moved
    in_gap = (t_out >= (gap_end - 20) / fs_in_hz) & (t_out <= (gap_end - 1) / fs_in_hz)
    assert np.isnan(y[in_gap]).all()
    before = (t_out > 0.5) & (t_out < (gap_end - 20) / fs_in_hz - 0.5)
    assert np.max(np.abs(y[before] - oracle[before])) < 5e-3


def test_run_after_gap_keeps_its_start_and_end_values():
    """The first output of the run lies at or after the run's first sample, on the grid: a ramp
    read at the output instants (exact for a line, which resample_poly_edges keeps exactly)."""
    fs_in, fs_out = 1000.0, 100.0
    x = np.arange(3000, dtype=np.float64)   # a ramp: value = input sample index
    x[1000:1005] = np.nan                    # the run after it starts at 1005, off the 100 Hz grid
    y = resample(x[None], fs_in, fs_out)[0]
    # output i lies at input sample 10 * i; the run's outputs (i >= 101) read that index
    i = np.arange(101, 299)
    np.testing.assert_allclose(y[i], 10.0 * i, atol=1e-6)
    assert np.isnan(y[100])
