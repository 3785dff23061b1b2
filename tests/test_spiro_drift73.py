"""Spirometry: a negative flow-sensor zero offset on a blow that tops out within ~1 s of the trace's end (12 s COPD
blows at -20 mL/s, FVC ~230 mL too small: accepted, the volume falls a few mL after its top, too little for the
falling-tail rule) is read from the tail's shape (``spirometry_acceptability.tail_offset_ml_s``).

Oracles: the generator's truth (``simulate_spiro``'s ``fvc_ml`` is the lung's, ``flow_offset_ml_s`` the rate added),
SciPy's ``curve_fit`` of the same tail model for the rate read, and the UK Biobank blow's numbers as they were."""
import dataclasses
import pathlib

import numpy as np
import pytest
from scipy.optimize import curve_fit

from biosig.spirometry import spirometry_indices
from biosig.spirometry_acceptability import (TAIL_FIT_FROM_FRACTION, TAIL_FIT_FROM_PEF_S, falling_tail_ml_s,
                                             tail_offset_ml_s)
from biosig.spirometry_end import _noise_sd_ml
from biosig.spirometry_session import acceptable_fev1, acceptable_fvc
from biosig.synthetic import simulate_spiro, spiro_volume_ml

ROOT = pathlib.Path(__file__).resolve().parents[1]
UKB = ROOT.parent / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"
FS = 100.0


def _copd(seed, offset_ml_s, noise_ml=2.0, artefact=None, seconds=12.0):
    rec = simulate_spiro(seconds, seed, FS, pattern="obstructive", noise_ml=noise_ml, artefact=artefact,
                         flow_offset_ml_s=offset_ml_s)
    return rec.samples[0].astype(np.float64), rec.metadata["truth"]


@pytest.mark.parametrize("seed", [100, 101, 102, 104, 105, 106, 107])   # 103 tops out 2.7 s early: falling tail
def test_a_copd_blow_topping_out_near_the_end_with_a_negative_offset_fails_fvc(seed):
    v, truth = _copd(seed, -20.0)
    t = np.arange(len(v)) / FS
    top_s = t[int(np.argmax(np.convolve(v, np.ones(20) / 20, mode="same")))]
    assert top_s > t[-1] - 1.5                                      # the gap: tops out within ~1 s of the end
    assert falling_tail_ml_s(t, v) == 0.0                           # the falling-tail rule sees no steady fall
    ind = spirometry_indices(v, FS)
    assert ind.fvc_ml - truth["fvc_ml"] < -100.0                    # FVC too small ...
    assert acceptable_fvc(dataclasses.replace(ind, drift_ok=True, drift_ml_s=0.0))   # ... and accepted before
    assert not ind.drift_ok and not acceptable_fvc(ind) and acceptable_fev1(ind)
    assert ind.drift_ml_s == pytest.approx(-20.0, abs=6.0)


def test_the_rate_read_is_scipys_fit_of_the_same_model():
    v, _ = _copd(105, -20.0)
    t = np.arange(len(v)) / FS
    ind = spirometry_indices(v, FS)
    rise = np.convolve(v, np.ones(20) / 20, mode="same") - v[0]
    start = max(ind.t_pef_s + TAIL_FIT_FROM_PEF_S, t[int(np.argmax(rise >= TAIL_FIT_FROM_FRACTION * rise.max()))])
    m = t >= start
    (level, b, tau, rate), _ = curve_fit(lambda x, a, b, tau, c: a + b * np.exp(-x / tau) + c * x, t[m] - start, v[m],
                                         p0=(v[-1], -500.0, 3.0, 0.0), maxfev=20000)
    got = tail_offset_ml_s(t, v, ind.t_pef_s, _noise_sd_ml(v))
    assert rate < -12.0 and abs(tau - 3.0) < 3.0       # the continuous fit refuses it too
    assert got == pytest.approx(rate, abs=4.0)         # 48 time constants 11 % apart: the rate moves by a few mL/s
    assert got == pytest.approx(ind.drift_ml_s, abs=0.05)   # the indices read the trace from its lowest volume


@pytest.mark.parametrize("noise_ml", [2.0, 10.0])
def test_clean_blows_and_slow_tails_give_no_verdict(noise_ml):
    for pattern in ("normal", "obstructive", "restrictive"):
        for seconds, seed in ((12.0, 100), (12.0, 105), (20.0, 107)):
            for artefact in (None, "early-stop", "effort"):
                rec = simulate_spiro(seconds, seed, FS, pattern=pattern, noise_ml=noise_ml, artefact=artefact)
                ind = spirometry_indices(rec.samples[0].astype(np.float64), FS)
                assert ind.drift_ok and ind.drift_ml_s == 0.0, (pattern, seconds, seed, artefact, ind.drift_ml_s)
    t = np.arange(int(14 * FS)) / FS
    for tau_s in (6.0, 12.0, 20.0):                                  # very slow COPD tails: still rising
        v = spiro_volume_ml(t - 0.5, 2500.0, 0.3, 0.4, tau_s) + np.random.default_rng(3).normal(0, noise_ml, len(t))
        assert spirometry_indices(v, FS).drift_ok, tau_s


def test_the_uk_biobank_blow_is_unchanged():
    if not UKB.exists():
        pytest.skip(f"{UKB} not found")
    d = np.loadtxt(UKB, delimiter=",", skiprows=1)
    v = d[:, 1]
    ind = spirometry_indices(v, FS)
    assert ind.drift_ok and ind.drift_ml_s == 0.0 and acceptable_fvc(ind) and acceptable_fev1(ind)
    assert (round(ind.fvc_ml, 1), round(ind.fev1_ml, 1), round(ind.fet_s, 3)) == (5835.9, 4676.6, 11.549)
    assert tail_offset_ml_s(np.arange(len(v)) / FS, v, ind.t_pef_s, _noise_sd_ml(v)) == 0.0
