"""Pulse rate of atrial-fibrillation PPG windows (biosig.pulse_beats._irregular_pulses).

In AF the autocorrelation's period is no pulse interval: the spacing of 0.6 periods dropped pulses
after short intervals (60 /min read 54-57) or every other pulse (100 /min read 53), and a period read
short let diastolic waves through (140 /min read 154-162): 38 of 570 published 10 s windows over 10 %
off the true beats' rate. The truth is the simulator's own beat times."""
import logging

import numpy as np
import pytest

from biosig.measures_window import window_measures
from biosig.synthetic import simulate

FS = 125.0


def _af_windows(rates, seeds, step_s=2.0):
    for rate in rates:
        for seed in seeds:
            rec = simulate("ppg", 64, seed=seed, heart_rate_bpm=rate, rhythm="af", fs_hz=FS)
            x = rec.samples[0].astype(np.float64)
            beats = np.asarray(rec.metadata["truth"]["beats_s"])
            w = int(10 * FS)
            for a in range(0, len(x) - w + 1, int(step_s * FS)):
                t0 = a / FS
                inside = beats[(beats >= t0) & (beats < t0 + 10)]
                yield rate, seed, t0, x[a:a + w], 60.0 / np.mean(np.diff(inside))


def test_af_ppg_windows_publish_the_true_pulse_rate():
    """60-140 /min AF (CV 0.2), 10 s windows every 2 s: before, 20 of 182 published windows were over
    10 % off (56 for 64, 53 for 100, 100 for 120, 162 for 143); 5 of 210 (2.4 %) now."""
    logging.disable(logging.WARNING)
    try:
        published, wrong = 0, []
        for rate, seed, t0, win, truth in _af_windows((60, 100, 120, 140), (0, 1)):
            m = window_measures(win, FS, "ppg")
            if m["ok"]:
                published += 1
                if abs(m["hr_bpm"] / truth - 1) > 0.10:
                    wrong.append((rate, seed, t0, round(truth, 1), round(m["hr_bpm"], 1)))
    finally:
        logging.disable(logging.NOTSET)
    assert len(wrong) <= 0.03 * published, (published, wrong)


@pytest.mark.parametrize("seed, rate, t0", [(0, 120, 0.0), (1, 140, 44.0)])
def test_af_pulses_are_the_true_pulses(seed, rate, t0):
    """Windows that read 100 and 162 /min (pulses dropped after short intervals; diastolic waves counted): every systolic peak (0.18 s after its beat in the
    simulator) found within 80 ms, and nothing else, away from the window's first and last 0.5 s."""
    from biosig.quality import detect_beats
    rec = simulate("ppg", 64, seed=seed, heart_rate_bpm=rate, rhythm="af", fs_hz=FS)
    a = int(t0 * FS)
    found = t0 + detect_beats(rec.samples[0, a:a + int(10 * FS)].astype(np.float64), FS, "ppg")[0] / FS
    pulses = np.asarray(rec.metadata["truth"]["beats_s"]) + 0.18
    pulses = pulses[(pulses >= t0 + 0.5) & (pulses < t0 + 9.5)]
    inner = found[(found >= t0 + 0.5) & (found < t0 + 9.5)]
    missed = [round(p, 2) for p in pulses if not np.any(np.abs(found - p) < 0.08)]
    extra = [round(f, 2) for f in inner if not np.any(np.abs(pulses - f) < 0.08)]
    assert not missed and not extra, (missed, extra)
