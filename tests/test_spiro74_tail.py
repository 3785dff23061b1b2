"""Spirometry: ``falling_tail_ml_s`` (a negative flow-sensor zero offset read as a steady fall at a trace's end) gives
None, no verdict, on a trace it cannot judge, never an exception. Before 2026-12-07: duplicate times raised
ZeroDivisionError, a 9-sample trace at 100 Hz (a 0.2 s mean longer than the trace) IndexError, time steps of 1e-12 s
MemoryError (an array of 2e11 ones), 1e-300 s ValueError, 5e-324 s OverflowError; ``zero_drift_ml_s`` passed them
on.

Oracle for the traces it can judge: NumPy's ``polyfit`` slope of the trace's last second (a straight fall)."""
import numpy as np
import pytest

from biosig.spirometry_acceptability import DRIFT_FALL_MAX_ML_S, falling_tail_ml_s, zero_drift_ml_s

RATE_ML_S = -40.0


def _falling(n: int, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A blow's top (500 mL at the second sample) falling at RATE_ML_S after it."""
    t = np.arange(n) * dt_s
    return t, np.r_[0.0, np.full(n - 1, 500.0)] + RATE_ML_S * t


def test_duplicate_times_give_no_verdict():
    t, v = _falling(60, 0.1)
    t[1::2] = t[::2]                                    # every time twice (a logger writing rows twice)
    assert falling_tail_ml_s(t, v) is None
    t2, v2 = _falling(60, 0.1)
    t2[30] = t2[29]                                     # one repeated time
    assert falling_tail_ml_s(t2, v2) is None
    assert zero_drift_ml_s(t, v, 0.0, 0.0) == 0.0       # no verdict: no drift said, no exception


@pytest.mark.parametrize("fs_hz", [100.0, 1000.0, 20.0])
def test_a_9_sample_trace_gives_no_verdict_where_0_2_s_is_more_than_it_holds(fs_hz):
    t, v = _falling(9, 1.0 / fs_hz)
    out = falling_tail_ml_s(t, v)
    assert out is None if 0.2 * fs_hz > 9 else out == 0.0   # at 20 Hz 0.45 s: judged, too short for a 1 s fall
    assert zero_drift_ml_s(t, v, 0.0, 0.0, t_pef_s=0.0, noise_sd_ml=1.0) == 0.0


@pytest.mark.parametrize("dt_s", [1e-12, 1e-300, 5e-324])
def test_tiny_time_steps_give_no_verdict(dt_s):
    t, v = _falling(200, dt_s)
    assert falling_tail_ml_s(t, v) is None


def test_short_missing_or_misshapen_input_gives_no_verdict():
    t, v = _falling(7, 0.25)
    assert falling_tail_ml_s(t, v) is None                              # under 8 samples (was 0.0: "none seen")
    t, v = _falling(40, 0.25)
    assert falling_tail_ml_s(t, v[:-1]) is None                         # lengths differ (was a ValueError)
    assert falling_tail_ml_s(np.full(40, np.nan), v) is None            # no finite time


def test_a_trace_it_can_judge_still_reads_the_fall():
    """The same fall, sampled well: the rate (NumPy's polyfit of the last second) as before; NaN samples left out."""
    t, v = _falling(13, 0.25)
    expect = np.polyfit(t[t >= t[-1] - 1.0], v[t >= t[-1] - 1.0], 1)[0]
    assert falling_tail_ml_s(t, v) == pytest.approx(expect, rel=1e-9) and -DRIFT_FALL_MAX_ML_S < expect < 0
    t, v = _falling(400, 0.01)
    v[200] = np.nan
    assert falling_tail_ml_s(t, v) == pytest.approx(RATE_ML_S, rel=1e-9)
    assert falling_tail_ml_s(t, np.full(400, 500.0)) == 0.0             # a flat end: judged, no fall
