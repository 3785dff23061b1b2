"""Record heart rates of irregularly timed records (dropped rows) use the sample times."""
import warnings

import neurokit2 as nk
import numpy as np
import pytest

import biosig
from biosig.measures import heart_rate
from biosig.synthetic import simulate


def _nk_rate(x, fs_hz):
    """Oracle: NeuroKit2's R peaks of the complete signal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peaks = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=fs_hz), sampling_rate=fs_hz)[1]["ECG_R_Peaks"]
    return 60.0 * fs_hz / np.mean(np.diff(peaks))


def test_dropped_rows_do_not_raise_the_heart_rate(tmp_path):
    ecg = simulate("ecg", 60, seed=2, heart_rate_bpm=60, noise_mv=0.01)
    t, x = ecg.t_s, ecg.samples[0]
    keep = np.ones(len(t), bool)
    keep[::50] = False                              # 2 % of the rows lost
    path = tmp_path / "ecg.csv"
    path.write_text("t_s,II [mV]\n" + "".join(f"{a:.4f},{b:.5f}\n" for a, b in zip(t[keep], x[keep])))
    rec = biosig.read(str(path))
    assert rec.times_irregular
    # index differences over fs_hz: 61.3 /min
    assert heart_rate(rec) == pytest.approx(_nk_rate(x.astype(np.float64), ecg.fs_hz), rel=2e-3)


def test_long_hole_in_time_is_a_gap(tmp_path):
    ecg = simulate("ecg", 60, seed=2, heart_rate_bpm=60, noise_mv=0.01)
    t, x = ecg.t_s, ecg.samples[0]
    keep = (t < 20) | (t >= 27.5)                  # 7.5 s lost: no interval may span it
    path = tmp_path / "ecg.csv"
    path.write_text("t_s,II [mV]\n" + "".join(f"{a:.4f},{b:.5f}\n" for a, b in zip(t[keep], x[keep])))
    assert heart_rate(biosig.read(str(path))) == pytest.approx(_nk_rate(x.astype(np.float64), ecg.fs_hz), rel=5e-3)
