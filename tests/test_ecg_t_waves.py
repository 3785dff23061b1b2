"""T waves taken for beats: the check that withholds a window where a beat follows another by under
0.36 s with under half its QRS energy and under 0.6 of its steepest slope
(:data:`biosig.ecg_beats.DOUBT_T_REL`, :data:`biosig.ecg_beats.DOUBT_T_SLOPE_REL`)."""
import numpy as np
import pytest

import biosig
from biosig.measures_window import window_measures
from biosig.quality import USABLE, detect_beats
from biosig.synthetic import simulate
from conftest import shared_path


def _with_t_waves(x: np.ndarray, fs: float, delay_s: float = 0.28, stretch: float = 2.0,
                  gain: float = 0.8) -> np.ndarray:
    """``x`` with, ``delay_s`` after every R peak, a copy of that beat's QRS complex ``stretch`` times
    as wide and ``gain`` times as high: a steep, tall T wave whose 5-15 Hz energy passes the beat
    threshold, but with less slope and energy than the QRS before it."""
    beats, _ = detect_beats(x, fs, "ecg")
    h, y = int(0.05 * fs), x.copy()
    wide = int(h * stretch)
    for k in beats:
        c = k + int(delay_s * fs)
        if k - h < 0 or k + h >= len(x) or c + wide >= len(x):
            continue
        qrs = x[k - h:k + h] - np.linspace(x[k - h], x[k + h], 2 * h)
        y[c - wide:c + wide] += gain * np.interp(np.arange(-wide, wide) / stretch, np.arange(-h, h), qrs)
    return y


def test_tall_t_waves_taken_for_beats_withhold_the_window(monkeypatch):
    """At 90 /min every T wave is counted as a beat (29 beats for 15): the window still passes the
    quality gate and, without the check, publishes about 175 /min. The intervals alternate, so the
    check against the median interval (``DOUBT_SHORT_REL``) does not see them; this one does."""
    import biosig.ecg_beats as ecg_beats
    fs, rate = 250.0, 90
    x = simulate("ecg", 10, seed=rate, heart_rate_bpm=rate).samples[0].astype(np.float64)
    y = _with_t_waves(x, fs)
    assert len(detect_beats(y, fs, "ecg")[0]) >= 1.8 * len(detect_beats(x, fs, "ecg")[0])
    m = window_measures(y[None], fs, "ecg")
    assert m["quality"] >= USABLE["ecg"] and not m["ok"] and m["missing"] == "uncertain_beats", m
    assert window_measures(x[None], fs, "ecg")["ok"]
    monkeypatch.setattr(ecg_beats, "DOUBT_T_REL", 0.0)   # the premise: without the check, twice the rate
    m = window_measures(y[None], fs, "ecg")
    assert m["ok"] and m["hr_bpm"] >= 1.8 * rate, m


def test_t_waves_of_a_real_record_withhold_its_windows(monkeypatch):
    """CinC 2017 A06454 (label O): deep, steep inverted T waves 0.27-0.30 s after each QRS are counted
    as beats; NeuroKit2 counts 14 beats in 10-20 s, biosig 22. Without the check the window was
    published at 131 /min (and the head read AF); with it, it is withheld."""
    import biosig.ecg_beats as ecg_beats
    rec = biosig.read(shared_path("cinc2017", "A06454.hea"))
    fs = rec.fs_hz
    w = rec.samples[0, int(10 * fs):int(20 * fs)].astype(np.float64)[None]
    m = window_measures(w, fs, "ecg")
    assert m["quality"] >= USABLE["ecg"] and not m["ok"] and m["missing"] == "uncertain_beats", m
    monkeypatch.setattr(ecg_beats, "DOUBT_T_REL", 0.0)
    m = window_measures(w, fs, "ecg")
    assert m["ok"] and m["hr_bpm"] > 110, m


@pytest.mark.parametrize("rate_bpm", [160, 180])
def test_a_beat_cut_by_the_window_edge_is_not_a_t_wave(rate_bpm):
    """Fast sinus rhythm through the ecg-tiny causal pipeline, 10 s windows every 5 s (the AF head's
    and the runtime's): a QRS cut in half by the window's end has less energy and slope than the beat
    before it, under 0.36 s earlier. Without the edge rule two of these windows were withheld (and
    the AF head card's sinus windows at 160 /min: 5 %)."""
    from biosig.ecg_beats import doubtful_intervals
    from encoders.heads.features import causal_windows
    from encoders.heads.train_af import _pipeline
    pipe = _pipeline("ecg-tiny")
    for seed in (101, 102):
        rec = simulate("ecg", 60, seed=seed, heart_rate_bpm=float(rate_bpm))
        wins, fs = causal_windows(rec.samples[:1], rec.fs_hz, rec.channels[:1], pipe, 10.0, 5.0, 1, None,
                                  flat_gaps=True)
        doubt = [j for j, w in enumerate(wins) if doubtful_intervals(w[0].astype(np.float64), fs)]
        assert doubt == [], (seed, doubt)


def test_t_wave_check_does_not_depend_on_units():
    from biosig.ecg_beats import doubtful_intervals
    fs = 250.0
    y = _with_t_waves(simulate("ecg", 10, seed=3, heart_rate_bpm=90).samples[0].astype(np.float64), fs)
    assert doubtful_intervals(y, fs) == doubtful_intervals(1000.0 * y, fs) > 0
