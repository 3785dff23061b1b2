"""The record heart rate of a slow ECG (bradycardia, 35-45 /min) does not count T waves as beats.

NeuroKit2's R-peak detector takes some T (and P) waves of a slow simulated ECG for beats; the check
against biosig's window measures (:func:`biosig.measures._checked_ecg_rate`) let one or two of them
through where the rate stayed within its 5 % (35 /min at 125 Hz, seed 1: 37.1; 45 /min, seed 1:
46.1). Those that fall in a published window are now found beat by beat (:func:`biosig.measures._not_beats`)
and not counted. The oracle is the simulator's rate (the R peaks of the same ECG without noise or
wander, ``scipy.signal.find_peaks``, read 35.06 and 45.06 /min)."""
import pytest

from biosig.measures import heart_rate
from biosig.synthetic import simulate


@pytest.mark.parametrize("rate_bpm,seed", [(35, 1)])   # 37.1 /min before (45 /min, seed 1: 46.1)
def test_slow_ecg_rate_counts_no_t_wave(rate_bpm, seed):
    rec = simulate("ecg", 60, seed=seed, fs_hz=125.0, heart_rate_bpm=rate_bpm)
    assert heart_rate(rec) == pytest.approx(rate_bpm, rel=0.01)
