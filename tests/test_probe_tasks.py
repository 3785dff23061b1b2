"""eval_probe's synthetic rhythm-only ECG task (the issue-14 model-selection task): deterministic,
balanced, and the classes differ in rhythm (interval variability), not in level or length."""
import numpy as np

from biosig.quality import detect_beats

from conftest import load_benchmark


def _eval_probe():
    return load_benchmark("eval_probe")


def test_synthetic_rhythm_ecg_is_seeded_balanced_and_differs_in_rhythm():
    ep = _eval_probe()
    recs, y = ep.synthetic_rhythm_ecg(n_per_class=5, seconds=20.0)
    again, y2 = ep.synthetic_rhythm_ecg(n_per_class=5, seconds=20.0)
    assert np.array_equal(y, y2) and y.sum() == 5 and len(recs) == 10
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(recs, again))
    assert {r.samples.shape for r in recs} == {(1, 5000)} and {r.fs_hz for r in recs} == {250.0}
    cv = []
    for r in recs:
        beats = np.asarray(detect_beats(r.samples[0], r.fs_hz, "ecg")[0], dtype=float) / r.fs_hz
        rr = np.diff(beats)
        cv.append(np.median(np.abs(np.diff(rr))) / rr.mean())   # robust to the premature beats of sinus
    cv = np.asarray(cv)
    assert cv[y == 1].min() > cv[y == 0].max()
