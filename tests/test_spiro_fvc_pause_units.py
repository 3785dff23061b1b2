"""FVC on noisy traces, flow pauses in the first second, litres passed as mL.

Before: FVC was the largest noisy sample (+3 noise SDs: +34 mL at 10 mL of noise, 100 Hz, on
``simulate_spiro``'s blows); a 0.3-0.5 s pause after peak flow passed (BEV 11 mL, FEV1 -12 to -26
%); a blow in litres passed as mL gave FVC 4.5 mL without a word."""
import math

import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.spirometry import spirometry_indices
from biosig.spirometry_session import acceptable_fev1, acceptable_fvc
from biosig.synthetic import simulate_spiro

FS = 100.0


@pytest.mark.parametrize("fs", [25.0, 100.0])
@pytest.mark.parametrize("noise", [2.0, 5.0, 10.0])
def test_fvc_bias_on_noisy_blows_is_within_noise_over_sqrt_n(fs, noise):
    """Mean FVC error against the generator's noise-free volume at the last sample, less the noise
    of the zero sample (``raw[0]``, the blow's volume 0): within noise / sqrt(n), n the samples of 0.2 s."""
    n = round(0.2 * fs)
    err = []
    for seed in range(30):
        r = simulate_spiro(15, seed, fs, pattern="normal", noise_ml=noise)
        raw = r.samples[0].astype(np.float64)
        err.append(spirometry_indices(raw, fs).fvc_ml + raw[0] - r.metadata["truth"]["fvc_ml"])
    assert abs(np.mean(err)) <= noise / math.sqrt(n), np.mean(err)


def test_noise_free_blows_keep_their_largest_sample():
    for seed in range(3):
        raw = simulate_spiro(15, seed, FS, pattern="obstructive", noise_ml=0.0).samples[0].astype(np.float64)
        assert spirometry_indices(raw, FS).fvc_ml == pytest.approx(raw.max() - raw[0], rel=1e-12)


def _exp_blow_with_pause(pause_at_s, pause_s, fvc=4000.0, tau=0.5, start=0.5):
    """Exponential emptying whose clock stops for ``pause_s`` at ``pause_at_s`` after the start."""
    t = np.arange(int(10 * FS)) / FS
    c = np.clip(t - start, 0, None)
    c = np.where(c > pause_at_s, np.maximum(pause_at_s, c - pause_s), c)
    return fvc * (1 - np.exp(-c / tau)) * (1 - np.exp(-(c / 0.04) ** 2))


@pytest.mark.parametrize("pause_at_s", [0.1, 0.4, 0.7])
@pytest.mark.parametrize("pause_s", [0.3, 0.5])
def test_a_pause_after_peak_flow_in_the_first_second_fails_fev1(pause_at_s, pause_s):
    got = spirometry_indices(_exp_blow_with_pause(pause_at_s, pause_s), FS)
    clean = spirometry_indices(_exp_blow_with_pause(0.0, 0.0), FS)
    assert got.bev_ok and got.fev1_ml < 0.9 * clean.fev1_ml   # BEV does not see it; FEV1 is 10 % low
    assert got.pause_s >= pause_s - 0.12 and not got.pause_ok
    assert not acceptable_fev1(got) and not acceptable_fvc(got)
    assert clean.pause_s == 0.0 and acceptable_fvc(clean)


def test_no_pause_on_clean_or_noisy_synthetic_blows():
    for pattern in ("normal", "obstructive", "restrictive"):
        for noise in (2.0, 10.0):
            for seed in range(5):
                raw = simulate_spiro(15, seed, FS, pattern=pattern, noise_ml=noise).samples[0].astype(np.float64)
                assert spirometry_indices(raw, FS).pause_ok, (pattern, noise, seed)


def test_litres_passed_as_ml_are_refused_small_real_blows_are_not():
    raw = simulate_spiro(15, 0, FS, noise_ml=2.0).samples[0].astype(np.float64)
    with pytest.raises(SignalError, match="looks like litres"):
        spirometry_indices(raw / 1000.0, FS)
    # a small child's blow (300 mL) and an infant-sized one (40 mL) in mL are measured
    for fvc in (300.0, 40.0):
        small = simulate_spiro(15, 0, FS, fvc_ml=fvc, noise_ml=1.0).samples[0].astype(np.float64)
        assert spirometry_indices(small, FS).fvc_ml == pytest.approx(fvc, abs=5.0)
    # a trace of noise only (no blow) is no "litres" error
    quiet = np.random.default_rng(0).normal(0.0, 2.0, 1000)
    try:
        spirometry_indices(quiet, FS)
    except SignalError as exc:
        assert "litres" not in str(exc)
