"""Respiratory rate from beat modulation when breathing is faster than half the heart rate (a
neonate: 60 /min at 120 /min): the beat series cannot show it and folds it below (Nyquist); the
wave's baseline, sampled continuously, moves at the true rate. Withheld, never the fold.
Truth: the breathing rate the test's beats, amplitudes and baseline are built with."""
import numpy as np
import pytest

from biosig.measures_edr import modulation_resp_rate
from biosig.synthetic_af import ecg_from_beats

FS_HZ = 125.0


def _record(modality: str, hr_bpm: float, br_bpm: float, seed: int, seconds: float = 60.0) -> np.ndarray:
    """Beats with 5 % sinus arrhythmia, 10 % amplitude modulation and a baseline of 0.2 (pulse or
    R wave about 1) at the breathing rate."""
    rng = np.random.default_rng(seed)
    f, ph = br_bpm / 60.0, rng.uniform(0, 2 * np.pi)
    beats, b = [], rng.uniform(0.2, 0.8)
    while b < seconds - 0.2:
        beats.append(b)
        b += 60.0 / hr_bpm * (1 + 0.05 * np.sin(2 * np.pi * f * b + ph) + 0.01 * rng.standard_normal())
    beats = np.asarray(beats)
    n = int(seconds * FS_HZ)
    t = np.arange(n) / FS_HZ
    resp = np.sin(2 * np.pi * f * t + ph)
    if modality == "ecg":
        x = ecg_from_beats(beats, n, FS_HZ, 1, rng, fwave_mv=0.0, p_wave_mv=0.1)[0] * (1 + 0.1 * resp)
    else:
        x = np.zeros(n)
        for bt, a in zip(beats, 1 + 0.1 * np.sin(2 * np.pi * f * beats + ph)):
            d = t - bt
            x += a * (np.exp(-0.5 * ((d - 0.15) / 0.06) ** 2) + 0.35 * np.exp(-0.5 * ((d - 0.4) / 0.09) ** 2))
    return x + 0.2 * resp + rng.normal(0, 0.01, n)


@pytest.mark.parametrize("modality", ["ecg", "ppg"])
@pytest.mark.parametrize("hr_bpm, br_bpm", [(120.0, 60.0), (120.0, 50.0), (60.0, 40.0), (100.0, 60.0)])
def test_breathing_faster_than_the_beats_can_show_is_withheld(modality, hr_bpm, br_bpm):
    """Before: 6.1-26.7 /min for 60 at 120, about 20 for 50 at 120 and 40 at 60, about 40 for 60 at 100."""
    for seed in range(3):
        r = modulation_resp_rate(_record(modality, hr_bpm, br_bpm, seed), FS_HZ, modality)
        assert np.isnan(r) or r == pytest.approx(br_bpm, abs=2.0), (seed, r)


@pytest.mark.parametrize("modality", ["ecg", "ppg"])
@pytest.mark.parametrize("hr_bpm, br_bpm", [(60.0, 12.0), (100.0, 20.0), (140.0, 30.0), (100.0, 40.0)])
def test_breathing_the_beats_can_show_is_still_published(modality, hr_bpm, br_bpm):
    rates = [modulation_resp_rate(_record(modality, hr_bpm, br_bpm, seed), FS_HZ, modality) for seed in range(3)]
    published = [r for r in rates if np.isfinite(r)]
    assert len(published) >= 2 and all(r == pytest.approx(br_bpm, abs=1.0) for r in published), rates
