"""eval_probe's SYNTHETIC 6-class PPG rhythm task (issue 14): the generator does what it says per
class (from its beat times and from the rendered signal), the refactored AF-vs-sinus PPG generator is
bit-identical to before, and the probe's compare / paired bootstrap agree with sklearn on 6 classes."""
import functools
import hashlib

import numpy as np
import pytest
from scipy.signal import welch

from biosig.quality import detect_beats
from encoders.probe import compare, cv_folds, format_rows

from conftest import load_benchmark


@pytest.fixture(scope="module")
def ep():
    return load_benchmark("eval_probe")


@pytest.fixture(scope="module")
def task(ep):
    """The records of the task exactly as eval_probe scores them (defaults: 30 per class)."""
    return ep.synthetic_rhythm_ppg()


def _digest(records, y) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(np.ascontiguousarray(r.samples).tobytes())
    h.update(np.asarray(y, dtype=np.int64).tobytes())
    return h.hexdigest()


def test_synthetic_af_ppg_is_bit_identical_to_before_the_pulse_helper(ep):
    # sha256 of samples + labels computed with the generator BEFORE its pulse rendering moved into
    # _ppg_from_beats (commit 1cc4ef0): the `ppg` task and its published numbers are unchanged
    recs, y = ep.synthetic_af_ppg()
    assert _digest(recs, y) == "9d533a87f6188e860f76ffb55441a7bf7ad5afee082169e0099a166347e7e74a"
    recs, y = ep.synthetic_af_ppg(n_per_class=5, seconds=20.0, seed=7)
    assert _digest(recs, y) == "cbfbb6b80133bce934129442b2e8175ba7dc852bedd3c4b37dd2ac24463126cc"
    assert recs[0].metadata == {"record": "synthetic-ppg-0"} and recs[0].modality == "ppg"


def test_rhythm_ppg_is_balanced_seeded_and_labelled_0_to_5(ep, task):
    recs, y = task
    assert len(recs) == 180 and np.array_equal(np.bincount(y), [30] * 6)
    assert np.array_equal(y[:12], [0, 1, 2, 3, 4, 5] * 2)
    assert {r.samples.shape for r in recs} == {(1, 3000)} and {r.fs_hz for r in recs} == {100.0}
    assert {r.samples.dtype for r in recs} == {np.dtype(np.float32)} and {r.modality for r in recs} == {"ppg"}
    assert all(np.isfinite(r.samples).all() for r in recs)
    small, y_small = ep.synthetic_rhythm_ppg(n_per_class=2, seconds=20.0, seed=1)
    again, y_again = ep.synthetic_rhythm_ppg(n_per_class=2, seconds=20.0, seed=1)
    assert np.array_equal(y_small, y_again) and np.array_equal(y_small, np.arange(12) % 6)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(small, again))
    assert not np.array_equal(small[0].samples, ep.synthetic_rhythm_ppg(n_per_class=2, seconds=20.0, seed=2)[0][0].samples)
    assert ep.PPG_RHYTHMS == ("sinus", "AF", "ectopy", "bigeminy", "bradycardia", "tachycardia")


def _truth(ep, label: int, n: int = 40, seconds: float = 30.0):
    """Per record: (intervals in the 30 s (s), interval / mean_rr of every beat, mean_rr)."""
    rng = np.random.default_rng(100 + label)
    out = []
    for _ in range(n):
        beats, mean_rr, _, _ = ep.rhythm_ppg_beats(label, seconds, rng)
        tb = np.array([b[0] for b in beats])
        rel = np.array([b[1] for b in beats]) / mean_rr
        out.append((np.diff(tb[(tb >= 0) & (tb < seconds)]), rel, mean_rr))
    return out


def _lag1(ibi: np.ndarray) -> float:
    d = ibi - ibi.mean()
    return float(np.sum(d[1:] * d[:-1]) / np.sum(d * d))


def test_rhythm_beats_do_what_each_class_says(ep):
    truth = {k: _truth(ep, k) for k in range(6)}
    bpm = {k: np.array([60.0 / ibi.mean() for ibi, _, _ in v]) for k, v in truth.items()}
    cv = {k: np.array([ibi.std() / ibi.mean() for ibi, _, _ in v]) for k, v in truth.items()}
    lag1 = {k: np.array([_lag1(ibi) for ibi, _, _ in v]) for k, v in truth.items()}
    # rate: brady 38-55, tachy 105-150; the four rhythm classes overlap within 55-100 (3 % slack for
    # the jitter of a 30 s mean), each spanning slow and fast records, so rate alone cannot separate them
    assert bpm[4].min() > 37 and bpm[4].max() < 57 and bpm[5].min() > 102 and bpm[5].max() < 155
    for k in range(4):
        assert bpm[k].min() > 53 and bpm[k].max() < 103, k
        assert (bpm[k] < 70).any() and (bpm[k] > 85).any(), k
    # sinus (RSA), brady, tachy: no premature beat, CV below 7 %
    for k in (0, 4, 5):
        assert min(rel.min() for _, rel, _ in truth[k]) > 0.85 and cv[k].max() < 0.07, k
    # AF: irregular (mean CV 6-14 %), interval-independent (i.i.d.: lag-1 autocorrelation about 0)
    assert 0.07 < cv[1].mean() < 0.13 and cv[1].mean() > 2.0 * cv[0].mean()
    assert abs(lag1[1].mean()) < 0.1
    # ectopy: 10-25 % of the beats premature (pooled about 17.5 %), each followed by a full
    # compensatory pause (premature + pause = two sinus intervals)
    n_prem = n_all = 0
    for _, rel, _ in truth[2]:
        prem = np.flatnonzero(rel[:-1] < 0.8)
        n_prem, n_all = n_prem + len(prem), n_all + len(rel)
        assert np.all(np.abs(rel[prem] + rel[prem + 1] - 2.0) < 0.25)   # RSA + jitter: <= 8 % + 3 x 2 %
    assert 0.13 < n_prem / n_all < 0.22
    # bigeminy: short-long alternation, lag-1 autocorrelation of the intervals strongly negative
    assert lag1[3].max() < -0.8
    assert all(np.all((rel[:-1] < 1.0) != (rel[1:] < 1.0)) for _, rel, _ in truth[3])   # short, long, short, ...


def test_rhythm_ppg_signal_shows_the_rhythm(task):
    recs, y = task
    rate, cv = np.zeros(len(y)), np.zeros(len(y))
    for i, r in enumerate(recs):
        x = r.samples[0].astype(np.float64)
        f, p = welch(x, fs=r.fs_hz, nperseg=2048)
        sel = (f > 0.55) & (f < 3.0)
        rate[i] = 60.0 * f[sel][np.argmax(p[sel])]          # dominant pulse rate (bpm)
        ibi = np.diff(detect_beats(x, r.fs_hz, "ppg")[0] / r.fs_hz)
        cv[i] = ibi.std() / ibi.mean()
    # the pulse rate of the rendered signal: every bradycardia record below 57 bpm, every tachycardia
    # record above 100 bpm; the four rhythm classes in between at the median
    assert rate[y == 4].max() < 57 and rate[y == 5].min() > 100
    for k in range(3):
        assert 55 <= np.median(rate[y == k]) <= 100, k
    # irregularity survives rendering, noise and biosig's pulse detector (class medians)
    assert np.median(cv[y == 1]) > 1.5 * np.median(cv[y == 0])
    assert np.median(cv[y == 2]) > 1.5 * np.median(cv[y == 0])


def test_compare_on_six_classes_matches_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(6), 20)
    strong = rng.standard_normal((120, 5)) + 1.5 * np.eye(6)[y][:, :5]
    weak = rng.standard_normal((120, 3)) + 0.5 * np.eye(6)[y][:, 1:4]
    folds = cv_folds(y, 5, 0)
    res = compare({"strong": strong, "weak": weak}, y, folds, reference="strong", n_boot=200, seed=0)
    aucs = {}
    for name, X in (("strong", strong), ("weak", weak)):
        pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced",
                                                                  random_state=0))
        p = cross_val_predict(pipe, X, y, cv=folds, method="predict_proba")
        aucs[name] = roc_auc_score(y, p, multi_class="ovr", average="macro")
        one_vs_rest = np.mean([roc_auc_score(y == k, p[:, k]) for k in range(6)])
        assert aucs[name] == pytest.approx(one_vs_rest, abs=1e-12)
        assert res[name]["auroc"]["value"] == pytest.approx(aucs[name], abs=1e-9)
        assert res[name]["classes"] == [str(k) for k in range(6)]
        assert res[name]["auroc"]["ci_low"] <= aucs[name] <= res[name]["auroc"]["ci_high"]
    d = res["weak"]["diff"]["auroc"]
    assert d["value"] == pytest.approx(aucs["strong"] - aucs["weak"], abs=1e-9)
    assert d["ci_low"] < d["value"] < d["ci_high"] and d["ci_low"] > 0     # strong features win, paired
    rows = format_rows(res, "strong")
    assert len(rows) == 2 and rows[1].startswith("weak")
    assert float(rows[1].split("|")[1].split()[0]) == pytest.approx(round(aucs["weak"], 3), abs=1e-9)


def test_ppg_rhythm_task_runs_end_to_end(ep, capsys, monkeypatch):
    """run_task with the real generator at a reduced size (5 records of 20 s per class), the shipped
    ppg-tiny, one random-weight seed and the IBI features."""
    monkeypatch.setattr(ep, "synthetic_rhythm_ppg", functools.partial(ep.synthetic_rhythm_ppg, n_per_class=5,
                                                                      seconds=20.0))
    args = ep.parse_args(["--random-seeds", "0", "--bootstrap", "50", "--jobs", "1"])
    out = ep.run_task("ppg-rhythm", args)
    text = capsys.readouterr().out
    assert "## ppg-rhythm: SYNTHETIC 6-class PPG rhythm" in text and "5/5/5/5/5/5 per class" in text
    assert out["model"].startswith("ppg-tiny")
    assert set(out["results"]) == {out["model"], "same architecture, random weights, seed 0"} | \
        {k for k in out["results"] if k.startswith("ibi features")}
    for r in out["results"].values():
        assert r["n"] == 30 and r["classes"] == [str(k) for k in range(6)] and 0.0 <= r["auroc"]["value"] <= 1.0
    assert "random weights, seed 0" in text and "ibi features" in text
    # IBI + embedding vs IBI alone, two ways; six classes: the late fusion is a normalised geometric mean
    added = out["ibi_plus_embedding"]
    assert set(added) == {"concatenated", "late fusion"}
    fused = added["late fusion"]
    assert set(fused) == {f"IBI + {out['model']} (late fusion)", "IBI + random weights, seed 0 (late fusion)"} | \
        {k for k in fused if k.startswith("ibi features")}
    assert all(r["classes"] == [str(k) for k in range(6)] and 0.0 <= r["auroc"]["value"] <= 1.0 for r in fused.values())
    assert "# IBI + embedding vs IBI alone, late fusion" in text
