"""Simulated rates are right at any sampling rate; out-of-range parameters are SignalErrors."""
import numpy as np
import pytest
from scipy import signal

from biosig.errors import SignalError
from biosig.synthetic import simulate


def _peak_per_min(x, fs_hz, lo_hz, hi_hz):
    """Oracle: the largest peak of SciPy's periodogram (zero-padded) in [lo, hi] Hz, per minute."""
    f, p = signal.periodogram(x - x.mean(), fs=fs_hz, nfft=1 << 20)
    band = (f > lo_hz) & (f < hi_hz)
    return 60.0 * f[band][np.argmax(p[band])]


@pytest.mark.parametrize("fs_hz", [20.4, 62.5])
def test_ppg_rate_at_non_integer_rate(fs_hz):
    # NeuroKit2 simulated at round(fs) and the samples were labelled fs: 2 % fast at 20.4 Hz
    ref = simulate("ppg", 120, seed=1, fs_hz=125.0, heart_rate_bpm=70)
    rec = simulate("ppg", 120, seed=1, fs_hz=fs_hz, heart_rate_bpm=70)
    assert rec.n_samples == round(120 * fs_hz)
    assert _peak_per_min(rec.samples[0], fs_hz, 0.5, 3) == pytest.approx(
        _peak_per_min(ref.samples[0], 125.0, 0.5, 3), rel=2e-3)


def test_resp_rate_at_non_integer_rate():
    # at 1.4 Hz the breaths came 40 % too fast
    ref = simulate("resp", 300, seed=1, fs_hz=25.0, resp_rate_bpm=15)
    rec = simulate("resp", 300, seed=1, fs_hz=1.4, resp_rate_bpm=15)
    assert rec.n_samples == 420
    assert _peak_per_min(rec.samples[0], 1.4, 0.1, 0.6) == pytest.approx(
        _peak_per_min(ref.samples[0], 25.0, 0.1, 0.6), rel=1e-2)


def test_integer_rates_unchanged():
    a = simulate("ppg", 10, seed=3, fs_hz=125)
    import neurokit2 as nk
    x = nk.ppg_simulate(duration=11.0, sampling_rate=125, heart_rate=a.metadata["truth"]["heart_rate_bpm"],
                        motion_amplitude=a.metadata["truth"]["motion_amplitude"], powerline_amplitude=0.0,
                        random_state=3)
    np.testing.assert_array_equal(a.samples[0], np.asarray(x[:1250], dtype=np.float32))


@pytest.mark.parametrize("modality,kw", [
    ("resp", {"resp_rate_bpm": 0}), ("resp", {"resp_rate_bpm": -5}), ("resp", {"resp_rate_bpm": 200}),
    ("resp", {"noise": -1}), ("ppg", {"heart_rate_bpm": 0}), ("ppg", {"heart_rate_bpm": 1000}),
    ("ppg", {"motion_amplitude": -1}), ("motion", {"resp_rate_bpm": 0}), ("motion", {"amplitude_mm": -1}),
    ("spiro", {"fvc_ml": -100}), ("spiro", {"noise_ml": -1}), ("ecg", {"noise_mv": -1}),
    ("ecg", {"heart_rate_bpm": "fast"}), ("ecg", {"heart_rate_std_bpm": -1}),
    ("ecg", {"rhythm": "af", "af_cv": 1.0}), ("ppg", {"rhythm": "af", "af_cv": -0.1}),
    ("ecg", {"leads": 2.0}), ("audio", {"n_events": -1}), ("audio", {"n_events": 2.5}),
    ("audio", {"n_events": 10 ** 9}),
])
def test_out_of_range_parameters(modality, kw):
    with pytest.raises(SignalError, match=list(kw)[-1]):
        simulate(modality, 10, **kw)
