"""A PPG window that starts between a pulse's systolic peak and its diastolic wave: the refractory
cannot see the systolic peak before the window, so the diastolic wave was taken for the first beat
(one short interval too many). Truth: the generator's beats (synthetic AF PPG) or the pulses placed
by hand."""
import numpy as np
import pytest

import biosig.pulse_beats as pulse_beats
import biosig.quality as quality
from biosig.measures_hrv import beat_intervals, rr_features
from biosig.quality import detect_beats
from biosig.synthetic import simulate


def _pulse_train(fs_hz: float, rr_s: float, seconds: float, diastolic_rel: float, first_s: float):
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    systolic = np.arange(first_s, seconds + 1.0, rr_s)
    x = np.zeros_like(t)
    for b in systolic:
        x += np.exp(-0.5 * ((t - b) / 0.07) ** 2) + diastolic_rel * np.exp(-0.5 * ((t - b - 0.22) / 0.09) ** 2)
    return x, systolic[(systolic >= 0) & (systolic < seconds)]


@pytest.mark.parametrize("rr_s", [0.75, 0.9, 1.1])
def test_a_window_starting_after_a_systolic_peak_does_not_count_its_diastolic_wave(rr_s, monkeypatch):
    fs = 100.0
    x, systolic = _pulse_train(fs, rr_s, 10.0, 0.5, first_s=-0.05)   # the first systolic peak: before the window
    truth = rr_features(np.diff(systolic))["hr_bpm"]
    beats, _ = detect_beats(x, fs, "ppg")
    assert len(beats) == len(systolic) and np.abs(beats / fs - systolic).max() < 0.02
    assert abs(rr_features(beat_intervals(beats, fs))["hr_bpm"] - truth) < 0.5
    monkeypatch.setattr(quality, "EDGE_SMALL_REL", 0.0)     # the premise: without the rule (and the pulse
    monkeypatch.setattr(pulse_beats, "EDGE_PEAK_REL", 0.0)  # detector's own edge rule), one beat too many
    before, _ = detect_beats(x, fs, "ppg")
    assert len(before) == len(systolic) + 1 and abs(before[0] / fs - 0.17) < 0.03


def test_synthetic_af_ppg_windows_do_not_start_with_a_diastolic_wave(monkeypatch):
    """Synthetic AF PPG, 4 x 60 s, 10 s windows every 1 s: the windows whose first detected beat is
    no pulse of the generator (more than 0.1 s from every pulse); 0.4 diastolic waves. With the rules
    0; without them 6, and 32 with the first pass's peaks alone (the irregular-train search,
    ``pulse_beats._irregular_pulses``, drops most diastolic waves by their prominence already)."""
    def not_pulses():
        n, windows = 0, 0
        for seed in range(4):
            rec = simulate("ppg", 60, seed, rhythm="af")
            x, fs = rec.samples[0].astype(np.float64), rec.fs_hz
            beats_s = np.asarray(rec.metadata["truth"]["beats_s"])
            found, _ = detect_beats(x, fs, "ppg")     # the pulse delay after each generator beat
            lag = np.median([np.min(d[d > 0]) for d in found[:, None] / fs - beats_s[None] if (d > 0).any()])
            pulses = beats_s + lag
            w = int(10 * fs)
            for s in range(0, len(x) - w, int(fs)):
                b, _ = detect_beats(x[s:s + w], fs, "ppg")
                windows += 1
                n += int(len(b) > 0 and np.min(np.abs(pulses - (s + b[0]) / fs)) > 0.1)
        return n, windows
    with_rule, windows = not_pulses()
    monkeypatch.setattr(quality, "EDGE_SMALL_REL", 0.0)
    monkeypatch.setattr(pulse_beats, "EDGE_PEAK_REL", 0.0)
    without, _ = not_pulses()
    # the premise, on the first pass's peaks (what a train the irregular search falls back on, or does
    # not enter, gets): there the edge rules alone keep the diastolic wave out of many windows
    monkeypatch.setattr(pulse_beats, "IRREGULAR_CV", np.inf)
    first_pass_without, _ = not_pulses()
    assert windows == 200 and with_rule <= 5 and first_pass_without >= 20, (with_rule, without, first_pass_without)
