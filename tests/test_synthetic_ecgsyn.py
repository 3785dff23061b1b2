"""biosig.synthetic_ecgsyn: NeuroKit2's ECGSYN, integrated tightly enough not to glitch.

Oracle: NeuroKit2's own ``ecg_simulate(method="ecgsyn")`` with scipy's ``solve_ivp`` given the same
tolerances (the only change the port makes)."""
import numpy as np
import pytest
import scipy.integrate

from biosig.quality import detect_beats
from biosig.synthetic import V5_WAVES, simulate
from biosig.synthetic_ecgsyn import ATOL, RTOL, ecgsyn


def _neurokit(monkeypatch, seconds, fs, hr, seed, rtol, atol, **kw):
    import neurokit2 as nk
    solve = scipy.integrate.solve_ivp

    def with_tolerances(*a, **k):
        return solve(*a, **{**k, "rtol": rtol, "atol": atol})

    with monkeypatch.context() as m:
        m.setattr(scipy.integrate, "solve_ivp", with_tolerances)
        return np.asarray(nk.ecg_simulate(duration=seconds + 2.0, length=int(seconds * fs), sampling_rate=fs,
                                          heart_rate=hr, heart_rate_std=1.0, noise=0.0, method="ecgsyn",
                                          random_state=seed, **kw))


@pytest.mark.parametrize("hr, seed, kw", [(70.0, 1, {}), (35.0, 0, {}), (120.0, 4, V5_WAVES)])
def test_equals_neurokit_at_the_same_tolerances(monkeypatch, hr, seed, kw):
    ours = ecgsyn(32.0, 30 * 250, 250, hr, 1.0, seed, **kw)
    ref = _neurokit(monkeypatch, 30.0, 250, hr, seed, RTOL, ATOL, **kw)
    assert ours.shape == ref.shape == (7500,)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_tolerances_are_converged(monkeypatch):
    """A 100 x tighter integration moves no sample by more than 1e-3 mV (NeuroKit2's default
    tolerances move samples by up to a whole QRS height)."""
    ours = ecgsyn(22.0, 20 * 250, 250, 80.0, 1.0, 3)
    tighter = _neurokit(monkeypatch, 20.0, 250, 80.0, 3, RTOL / 100, ATOL / 100)
    assert np.abs(ours - tighter).max() < 1e-3


@pytest.mark.parametrize("hr, seed", [(35, 0), (30, 10), (30, 30), (40, 32), (45, 19), (60, 8), (140, 4)])
def test_no_glitch_where_neurokit_tolerances_glitched(hr, seed):
    """Each of these traces left ECGSYN's limit cycle for up to 1 s at NeuroKit2's tolerances on a
    2026-12-02 machine (baseline moved to 0.2-0.8 mV, every beat shrunk). Here: an isoelectric
    baseline near 0, and every beat an R wave of 0.9-1.2 mV found once."""
    x = ecgsyn(62.0, 60 * 250, 250, float(hr), 1.0, seed)
    assert -0.05 < np.median(x) < 0.15
    beats, _ = detect_beats(x, 250.0, "ecg")
    assert abs(len(beats) - hr) <= 1
    assert np.all(x[beats] > 0.9)


def test_simulate_uses_it_and_both_leads_share_their_beats():
    rec = simulate("ecg", 20, seed=5, heart_rate_bpm=75.0, leads=2, noise_mv=0.0, baseline_wander_mv=0.0)
    np.testing.assert_allclose(rec.samples[0], ecgsyn(22.0, 5000, 250, 75.0, 1.0, 5), atol=1e-6)
    b0, _ = detect_beats(rec.samples[0].astype(np.float64), rec.fs_hz, "ecg")
    b1, _ = detect_beats(rec.samples[1].astype(np.float64), rec.fs_hz, "ecg")
    assert len(b0) == len(b1) and np.abs(b0 - b1).max() <= 0.02 * rec.fs_hz
