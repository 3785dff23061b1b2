"""PPG pulse rate under motion bursts: right or withheld, judged by the pulses outside the burst
(:func:`biosig.pulse_beats.burst_in_doubt`). Truth: the rate the test's pulse wave is built on
(:func:`biosig.synthetic_pulse.ppg_from_pulse_beats`), or the beat times of the AF simulator."""
import numpy as np
import pytest

from biosig.measures_hrv import beats_and_features
from biosig.measures_window import window_measures
from biosig.pulse_beats import burst_in_doubt
from biosig.synthetic import simulate_ppg
from biosig.synthetic_pulse import ppg_from_pulse_beats
from test_pulse_rate_slow_and_bursts import FS, _burst_window


@pytest.mark.parametrize("bpm, seed", [(60.0, 5), (60.0, 14), (100.0, 7), (200.0, 32)])
def test_a_burst_that_moves_the_rate_withholds_it(bpm, seed):
    """Before: 66, 67, 207 and 175 /min published at quality 0.88-0.94 (extra peaks in the burst,
    missed ones, a reflected wave counted in the quiet part)."""
    m = window_measures(_burst_window(bpm, seed), FS, "ppg")
    assert not m["ok"] or m["hr_bpm"] == pytest.approx(bpm, rel=0.1), (m["hr_bpm"], m["quality"])


def test_no_burst_window_publishes_a_wrong_rate_and_none_right_is_withheld_for_it():
    """The 160 windows of tests/test_pulse_rate_slow_and_bursts.py (4 wrong before), and windows of
    other seeds and rates (5 of 480 wrong before, 1 now: a reflected wave as regular as the pulse)."""
    wrong, withheld_right = [], []
    for seeds, rates in ((range(40), (60.0, 100.0, 150.0, 200.0)), (range(40, 70), (45.0, 80.0, 130.0, 180.0))):
        for bpm in rates:
            for seed in seeds:
                x = _burst_window(bpm, seed)
                m = window_measures(x, FS, "ppg")
                if m["ok"] and abs(m["hr_bpm"] - bpm) > 0.1 * bpm:
                    wrong.append((bpm, seed, round(m["hr_bpm"])))
                if m["missing"] == "uncertain_beats":
                    vals, _, _ = beats_and_features(x, FS, "ppg")
                    if abs(vals["hr_bpm"] - bpm) <= 0.05 * bpm:
                        withheld_right.append((bpm, seed))
    assert wrong == [] and len(withheld_right) <= 1, (wrong, withheld_right)


@pytest.mark.parametrize("bpm", [40.0, 60.0, 100.0, 150.0, 200.0])
def test_a_clean_pulse_has_no_burst_in_doubt(bpm):
    for seed in range(10):
        rng = np.random.default_rng(1000 + seed)
        beats = np.cumsum(60.0 / bpm * (1 + 0.02 * rng.standard_normal(int(bpm / 3) + 5))) - 0.5
        n = int(10 * FS)
        x = ppg_from_pulse_beats(beats, n, FS, rng) + rng.normal(0, 0.03, n)
        m = window_measures(x, FS, "ppg")
        assert m["ok"] and m["hr_bpm"] == pytest.approx(bpm, rel=0.05), (seed, m)


def test_atrial_fibrillation_stays_published():
    """AF (irregular intervals, no burst) at 60-150 /min, interval CV 0.1-0.3: the burst check
    withholds none of the windows whose rate is right (within 10 % of the beat times')."""
    withheld = right = 0
    for bpm in (60.0, 100.0, 150.0):
        for cv in (0.1, 0.3):
            for seed in range(3):
                rec = simulate_ppg(60, seed, FS, heart_rate_bpm=bpm, rhythm="af", af_cv=cv)
                x, bs = rec.samples[0].astype(np.float64), np.array(rec.metadata["truth"]["beats_s"])
                w = int(10 * FS)
                for a in range(0, len(x) - w + 1, w // 2):
                    tb = bs[(bs >= a / FS) & (bs < (a + w) / FS)]
                    vals, beats, clean = beats_and_features(x[a:a + w], FS, "ppg")
                    if abs(vals["hr_bpm"] - 60.0 / np.mean(np.diff(tb))) <= 0.1 * 60.0 / np.mean(np.diff(tb)):
                        right += 1
                        withheld += burst_in_doubt(clean, beats, FS)
    assert right > 100 and withheld == 0, (withheld, right)
