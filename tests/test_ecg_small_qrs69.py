"""A beat whose QRS is a fifth of the others' (an ectopic beat nearly isoelectric in the lead) is under every
energy rule of the detector and of the doubt check: the window was published at a third under the rhythm's
rate. :func:`biosig.ecg_doubt.hidden_qrs_intervals` withholds it (``missing="uncertain_beats"``), while a clean
window, a sinus pause and a 2:1 block (no QRS in the gap, its P waves kept) stay published at the right rate.
Oracle: NeuroKit2's R peaks of the unaltered simulated trace and the simulator's heart rate."""
from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

import biosig.ecg_doubt as ecg_doubt
from biosig.measures_window import window_measures
from biosig.synthetic import simulate

FS = 250.0


def _trace(seed: int, rate_bpm: float | None = None, noise_mv: float = 0.01):
    """(simulated ECG, NeuroKit2's R peaks of it, the simulator's heart rate): 12 s cut to 0.4 s before the
    first and after the last R peak, so that no QRS cut by an edge counts for one detector and not the other."""
    kw = {} if rate_bpm is None else {"heart_rate_bpm": rate_bpm}
    r = simulate("ecg", 12, seed=seed, fs_hz=FS, noise_mv=noise_mv, **kw)
    x = r.samples[0].astype(np.float64)
    _, info = nk.ecg_peaks(x, sampling_rate=int(FS))
    peaks, edge = np.asarray(info["ECG_R_Peaks"]), int(0.4 * FS)
    peaks = peaks[(peaks >= edge) & (peaks < len(x) - edge)]
    start = peaks[0] - edge
    return x[start:peaks[-1] + edge].copy(), peaks - start, r.metadata["truth"]["heart_rate_bpm"]


def _oracle_rate(peaks: np.ndarray) -> float:
    return 60.0 * FS / float(np.mean(np.diff(peaks)))


def test_every_third_qrs_at_a_fifth_is_withheld_not_published_a_third_low(monkeypatch):
    x, peaks, truth = _trace(seed=0)
    w, base = int(0.05 * FS), np.median(x)
    for p in peaks[1::3]:   # every third QRS (+-50 ms) at 20 % of its amplitude, its T wave left whole
        x[p - w:p + w] = base + (x[p - w:p + w] - base) * 0.2
    m = window_measures(x[None], FS, "ecg")
    assert not m["ok"] and m["missing"] == "uncertain_beats", m
    monkeypatch.setattr(ecg_doubt, "HIDDEN_QRS_REL", np.inf)   # the rule before: published, a third low
    m = window_measures(x[None], FS, "ecg")
    assert m["ok"] and m["hr_bpm"] < 0.8 * truth, (m["hr_bpm"], truth)


@pytest.mark.parametrize("rate_bpm", [35, 75, 180])
def test_clean_window_stays_published_at_its_rate(rate_bpm):
    x, peaks, truth = _trace(seed=1, rate_bpm=rate_bpm)
    m = window_measures(x[None], FS, "ecg")
    assert m["ok"], m
    assert m["hr_bpm"] == pytest.approx(truth, rel=0.05)   # NeuroKit2 counts T waves at 35 /min


@pytest.mark.parametrize("pattern", ["pause", "2:1 block"])
def test_sinus_pause_and_2_to_1_block_stay_published(pattern):
    """The QRS-T of one beat (a pause) or of every second beat (2:1 block) flattened, the P waves kept: the
    gap holds a P wave about where the missing beat was, which is not steep for its size."""
    x, peaks, _ = _trace(seed=2, rate_bpm=80, noise_mv=0.03)
    dropped = peaks[[len(peaks) // 2]] if pattern == "pause" else peaks[1:-1:2]
    for p in dropped:
        a, b = p - int(0.05 * FS), p + int(0.45 * FS)
        x[a:b] = np.linspace(x[a], x[b], b - a)
    m = window_measures(x[None], FS, "ecg")
    assert m["ok"], m
    assert m["hr_bpm"] == pytest.approx(_oracle_rate(np.setdiff1d(peaks, dropped)), abs=1.5)
