"""The record-level PPG pulse rate (measures.heart_rate) runs biosig's pulse detector once per run.

biosig's pulses set NeuroKit2's beat window (measures._pulse_peaks_nk) and cross-check its rate
(measures._checked_pulse_rate); both detected them, so the detector ran twice over every sample.
The published rate must not change at all: it is compared, exactly, with the two-pass computation
written out here from the public pieces (detect_events, biosig.quality.detect_beats), on real PPG
(Welltory camera PPG, CinC 2015 a103l and MIMIC 041s PLETH) and on synthetic PPG (sinus and AF).
"""
import logging

import numpy as np
import pytest

import biosig
from biosig import measures, quality
from biosig.measures import PULSE_RATE_AGREEMENT, detect_events, heart_rate
from biosig.synthetic import simulate
from conftest import shared_path


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)   # the cross-check's warning where the detectors disagree
    yield
    logging.disable(logging.NOTSET)


def _two_pass_rate(rec, channel):
    """The rate as it was computed before the detector ran once: NeuroKit2's events (which detect
    biosig's pulses for the beat window), then biosig's pulses detected again for the check."""
    fs = rec.fs_hz
    x = measures._channel(rec, "ppg", channel)
    t = measures._times(rec)
    events = detect_events(rec, "ppg", channel)
    rate = measures._rate_per_min(x, fs, lambda a, b: np.sort(events[(events >= a) & (events < b)]), t)
    if not np.isfinite(rate):
        return rate
    ours = measures._rate_per_min(x, fs, lambda a, b: a + quality.detect_beats(x[a:b], fs, "ppg")[0], t)
    if not np.isfinite(ours):
        return rate
    return float("nan") if abs(rate - ours) > PULSE_RATE_AGREEMENT * ours else ours


def _same(a, b):
    return (np.isnan(a) and np.isnan(b)) or a == b


def _synthetic():
    for rate in (40, 60, 90, 130, 170, 200):
        yield f"sinus {rate}", simulate("ppg", 60, seed=rate, heart_rate_bpm=rate)
        yield f"af {rate}", simulate("ppg", 60, seed=rate + 1, heart_rate_bpm=rate, rhythm="af")


def test_the_pulse_detector_runs_once_per_run(monkeypatch):
    calls = []
    real = quality.detect_beats

    def counted(x, fs_hz, modality):
        calls.append(len(x))
        return real(x, fs_hz, modality)

    monkeypatch.setattr(quality, "detect_beats", counted)
    rec = simulate("ppg", 60, seed=0, heart_rate_bpm=75)
    x = rec.samples[0].copy()
    x[3000:3400] = np.nan                    # two runs
    rec = rec.replace(samples=x[None])
    runs = measures._runs(x, rec.fs_hz)
    assert len(runs) == 2
    assert np.isfinite(heart_rate(rec))
    assert sorted(calls) == sorted(b - a for a, b in runs)   # was each run twice


@pytest.mark.parametrize("name,rec", list(_synthetic()), ids=lambda v: v if isinstance(v, str) else "")
def test_synthetic_rates_unchanged(name, rec):
    assert _same(heart_rate(rec), _two_pass_rate(rec, 0)), name


def test_real_ppg_rates_unchanged():
    recs = [(f"welltory {p.parent.name}", biosig.read(str(p)).select(["PPG"]), 0)
            for p in sorted(shared_path("pretrain", "ppg", "welltory").glob("subject_*/PPG.csv"))]
    recs.append(("a103l", biosig.read(str(shared_path("wfdb", "a103l.hea"))), "PLETH"))
    recs.append(("041s", biosig.read(str(shared_path("wfdb", "multi-segment", "041s", "041s.hea"))), "PLETH"))
    assert len(recs) >= 20
    published = 0
    for name, rec, ch in recs:
        got, want = heart_rate(rec, ch), _two_pass_rate(rec, ch)
        assert _same(got, want), (name, got, want)
        published += bool(np.isfinite(got))
    assert published >= 20   # most records publish a rate: the comparison is not NaN against NaN
