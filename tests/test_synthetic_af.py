"""The simulator's AF mode: irregular beats whose truth rate the measures recover; seamless loops."""
import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.measures_window import window_measures
from biosig.synthetic import simulate


def test_af_ecg_and_ppg_share_irregular_beats_and_report_their_truth():
    ecg = simulate("ecg", 60, seed=9, rhythm="af", leads=2)
    ppg = simulate("ppg", 60, seed=9, rhythm="af")
    te, tp = ecg.metadata["truth"], ppg.metadata["truth"]
    assert te["rhythm"] == tp["rhythm"] == "af" and te["beats_s"] == tp["beats_s"]   # one heart
    assert 80 <= te["target_heart_rate_bpm"] <= 130 and ecg.samples.shape[0] == 2
    beats = np.asarray(te["beats_s"])
    rr = np.diff(beats[(beats >= 0) & (beats < 60)])
    assert 0.12 < rr.std() / rr.mean() < 0.3                                       # irregular
    w = int(60 * ecg.fs_hz)
    m = window_measures(ecg.samples[:, :w], ecg.fs_hz, "ecg")
    assert m["ok"] and m["hr_bpm"] == pytest.approx(te["heart_rate_bpm"], abs=2.0)
    assert m["madsd_norm"] > 0.08
    sinus = window_measures(simulate("ecg", 60, seed=9).samples, 250.0, "ecg")
    assert sinus["madsd_norm"] < 0.05
    with pytest.raises(SignalError, match="rhythm='flutter'"):
        simulate("ecg", 10, rhythm="flutter")


def test_ward_loops_cut_at_beats_and_even_beds_are_af():
    from streams.simulate import default_af_beds, seamless_loop
    assert default_af_beds(4) == (2, 4) and default_af_beds(1) == ()
    rec = seamless_loop(simulate("ecg", 30, seed=1, rhythm="af"))
    assert "beats_s" not in rec.metadata["truth"]
    looped = np.concatenate([rec.samples, rec.samples], axis=1)[:, :int(20 * rec.fs_hz)]
    from biosig.quality import detect_beats
    beats, _ = detect_beats(looped[0], rec.fs_hz, "ecg")
    rr = np.diff(beats) / rec.fs_hz
    assert rr.min() > 0.3 and rr.max() < 2.0                                        # no broken seam
    hr = 60.0 / rr[:np.searchsorted(beats, rec.n_samples) - 1].mean()
    # detected beats (a fast AF, ~125 bpm, loses about 1 beat in 50 to the detector) vs the truth
    assert hr == pytest.approx(rec.metadata["truth"]["heart_rate_bpm"], abs=3.0)
