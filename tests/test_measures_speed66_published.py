"""The ECG record heart rate's window check, made cheaper, decides as before.

:func:`biosig.measures.heart_rate` checks NeuroKit2's rate against the 10 s windows whose measures
are published: it asked :func:`biosig.measures_window.window_measures` for each (the HRV set and
the P waves included) and kept only ``ok``. :func:`biosig.measures_window.ecg_published` answers
that without the measures; :func:`biosig.ecg_beats.median_1d` and
:func:`biosig.ecg_beats.band_of_detected` replace ``np.median`` and a second rfft on the way. The
oracles: ``window_measures`` itself, ``np.median`` and ``_band`` (the same numbers, bit for bit). Both
views now ask one copy of the rule (:func:`biosig.measures_window.ecg_withheld`;
tests/test_measures67_one_rule.py checks it clause by clause).
Every rate of the shared WFDB, MIT-BIH and CinC 2017 records was the same float before and after
(``benchmarks/bench_heart_rate.py``)."""
import numpy as np
import pytest

from biosig.ecg_beats import _band, band_of_detected, ecg_detection, median_1d
from biosig.measures import _ecg_window_beats
from biosig.measures_window import window_measures
from biosig.synthetic import simulate


def test_median_1d_is_numpys_median():
    rng = np.random.default_rng(0)
    for t in range(600):
        n = int(rng.integers(1, 50))
        a = [rng.normal(size=n) * 10.0 ** rng.integers(-6, 6), rng.integers(-3, 4000, size=n),
             np.round(rng.normal(size=n), 1)][t % 3]
        if t % 7 == 0:
            a = a.astype(np.float64)
            a[rng.integers(0, n)] = np.nan
        ref, got = float(np.median(a)), median_1d(a[::2] if t % 5 == 0 else a)
        ref = float(np.median(a[::2])) if t % 5 == 0 else ref
        assert got == ref or (np.isnan(ref) and np.isnan(got)), (t, a)


@pytest.mark.parametrize("fs_hz", [125.0, 360.0])
def test_band_of_detected_is_band(fs_hz):
    x = simulate("ecg", 10, seed=2, fs_hz=fs_hz).samples[0].astype(np.float64)
    spiked = x.copy()
    spiked[::int(fs_hz)] += 5.0   # pacing spikes: the detection's samples are not x, x's own spectrum is used
    for y in (x, spiked, x[:40]):
        d = ecg_detection(y, fs_hz)
        assert np.array_equal(band_of_detected(y, fs_hz, d, 1.0, 40.0), _band(y, fs_hz, 1.0, 40.0))


def test_record_check_takes_the_windows_window_measures_publishes():
    x = simulate("ecg", 40, seed=1, fs_hz=125.0, heart_rate_bpm=35).samples[0].astype(np.float64)
    x[2500:3700] = np.random.default_rng(3).normal(0, 1.0, 1200)   # a noisy stretch: a window withheld
    w = 1250
    ours, _, n, _ = _ecg_window_beats(x, 125.0, np.zeros(0, np.int64), None)
    ok = [s for s in range(0, len(x) - w + 1, w) if window_measures(x[s:s + w], 125.0, "ecg")["ok"]]
    assert n == 4 and 0 < len(ok) < n
    assert [int(b[0]) // w * w for b in ours] == ok
