"""Respiratory rate of RESP windows from 6 to 60 breaths/min (slow breathing to a neonate).

Truth: the generator's rate (NeuroKit2's breathmetrics model, :func:`biosig.synthetic.simulate`);
oracle: NeuroKit2's ``rsp_peaks`` on the whole record, counted per window.
"""
import warnings

import numpy as np
import pytest

from biosig.measures_window import window_measures
from biosig.synthetic import simulate

FS = 25.0
WINDOW_S = 30.0   # the resp window of serve and score (biosig.windows.DEFAULT_WINDOW_S)


def _nk_window_rate(x: np.ndarray, a: int, b: int) -> float:
    import neurokit2 as nk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peaks = nk.rsp_peaks(nk.rsp_clean(x, sampling_rate=FS), sampling_rate=FS)[1]["RSP_Peaks"]
    p = peaks[(peaks >= a) & (peaks < b)]
    return 60.0 * FS / float(np.mean(np.diff(p)))


def _windows(x: np.ndarray):
    w = int(WINDOW_S * FS)
    for a in range(0, len(x) - w + 1, w):
        yield a, a + w, window_measures(x[a:a + w], FS, "resp")


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("rate", [6.0, 12.0, 30.0, 60.0])
def test_resp_window_rate_matches_the_truth_and_neurokit2(rate, seed):
    """Before: at 6 /min the breath period came out 1 s (the edge of the search: the biased
    autocorrelation was still falling from lag 0 there) and windows read 5.5-14.9 /min; at 60 /min
    half the breath intervals were under the 1 s floor and windows read 8.9-55.9 /min."""
    x = simulate("resp", 120, seed=seed, fs_hz=FS, resp_rate_bpm=rate, noise=0.01).samples[0].astype(np.float64)
    for a, b, m in _windows(x):
        got = m["resp_rate_bpm"]
        assert got is not None, m
        assert got == pytest.approx(rate, abs=max(1.0, 0.1 * rate)), (a / FS, got)
        nk_rate = _nk_window_rate(x, a, b)
        assert got == pytest.approx(nk_rate, abs=max(1.0, 0.12 * nk_rate)), (a / FS, got, nk_rate)


@pytest.mark.parametrize("rate", [6.0, 60.0])
def test_resp_window_rate_after_the_causal_breathing_band(rate):
    """The runtime measures windows of the resp pipeline's causal 0.05-1 Hz band-pass (order 2)."""
    from scipy.signal import butter, sosfilt
    x = simulate("resp", 120, seed=3, fs_hz=FS, resp_rate_bpm=rate, noise=0.01).samples[0].astype(np.float64)
    y = sosfilt(butter(2, [0.05, 1.0], "bandpass", fs=FS, output="sos"), x)
    y = (y - y.mean()) / y.std()
    for a, b, m in list(_windows(y))[1:]:   # after the filter's start
        assert m["resp_rate_bpm"] == pytest.approx(rate, abs=max(1.0, 0.1 * rate)), (a / FS, m)
