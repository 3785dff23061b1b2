"""Leakage and confidence intervals of the linear probe, against independent computations:
``probe(groups=...)`` cuts grouped folds; precomputed folds that train on a tested record (or
group), or leave records untested, are refused; group ids are compared without the spaces around
them; the paired bootstrap CI of an AUROC difference equals a plain NumPy / scikit-learn bootstrap
over the same out-of-fold predictions (records, and whole groups) and is close to DeLong's; and the
random-weight row of ``biosig probe`` embeds on the windows of an embeddings file without provenance."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from encoders.errors import EncoderError
from encoders.probe import compare, cv_folds, probe


def _patients(n_groups=30, per=3, d=40, seed=1):
    """Records of one patient share a fingerprint (a random vector) and a label; labels alternate
    between patients, unrelated to the fingerprints: only a leaky split can predict them."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    y = np.repeat(np.arange(n_groups) % 2, per)
    X = np.repeat(rng.normal(size=(n_groups, d)), per, axis=0) + 0.05 * rng.normal(size=(n_groups * per, d))
    return X, y, g


def test_probe_with_groups_and_no_folds_keeps_each_patient_in_one_fold():
    X, y, g = _patients()
    grouped = probe(X, y, folds=cv_folds(y, 5, 0, g), groups=g, n_boot=20)
    default = probe(X, y, groups=g, n_boot=20)   # the folds were plain stratified: AUROC 1.00 by leakage
    assert default["auroc"] == grouped["auroc"]
    assert default["auroc"]["value"] < 0.8


def test_precomputed_folds_that_leak_or_leave_records_untested_are_refused():
    X, y, g = _patients(n_groups=10, per=2, d=3)
    good = cv_folds(y, 2, 0, g)
    overlap = [(np.arange(len(y)), te) for _, te in good]                # trains on what it tests
    straddle = cv_folds(y, 2, 0)                                          # patients on both sides
    assert any(np.intersect1d(g[tr], g[te]).size for tr, te in straddle)
    partial = good[:1]                                                    # half the records never tested
    with pytest.raises(EncoderError, match="fold 1 trains on .* record"):
        compare({"a": X, "b": X[:, :1]}, y, overlap, reference="a", n_boot=5)
    with pytest.raises(EncoderError, match="group.*both|trains on .* group"):
        compare({"a": X, "b": X[:, :1]}, y, straddle, reference="a", n_boot=5, groups=g)
    with pytest.raises(EncoderError, match="10 record.* never"):
        probe(X, y, folds=partial, n_boot=5)
    probe(X, y, folds=good, groups=g, n_boot=5)   # proper grouped folds pass


def test_group_ids_differing_only_by_spaces_are_one_patient():
    from encoders.probe_labels import join_labels
    keys = [f"r{i}" for i in range(6)]
    df = pl.DataFrame({"record": keys, "label": list("aabbab"), "patient": ["p1", " p1", "007", "7", "p2 ", "p2"]})
    _, groups = join_labels(keys, df, "patient", as_number=False)
    assert groups.tolist() == ["p1", "p1", "007", "7", "p2", "p2"]   # 007 and 7 stay two patients


def _delong_ci(y, s1, s2):
    """DeLong's 95 % interval of AUROC(s1) - AUROC(s2) on the same records (normal approximation)."""
    def components(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None])
        return psi.mean(1), psi.mean(0)
    (a10, a01), (b10, b01) = components(s1), components(s2)
    s10, s01 = np.cov(np.vstack([a10, b10])), np.cov(np.vstack([a01, b01]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / len(a10) + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / len(a01)
    d = roc_auc_score(y, s1) - roc_auc_score(y, s2)
    return d - 1.959964 * np.sqrt(var), d + 1.959964 * np.sqrt(var)


@pytest.mark.parametrize("grouped", [False, True])
def test_paired_bootstrap_ci_of_the_auroc_difference_equals_a_plain_bootstrap(grouped):
    rng = np.random.default_rng(7)
    n = 72
    g = np.repeat(np.arange(n // 2), 2) if grouped else None
    y = np.repeat(rng.random(n // 2) < 0.4, 2).astype(int) if grouped else (rng.random(n) < 0.4).astype(int)
    A = np.c_[y + rng.normal(0, 1.0, n), rng.normal(size=n)]
    B = np.c_[y + rng.normal(0, 2.0, n), rng.normal(size=n)]
    probas = {}
    res = compare({"a": A, "b": B}, y, cv_folds(y, 4, 0, g), reference="a", n_boot=400, seed=3, groups=g,
                  probas_out=probas)
    pa, pb = probas["a"][1][:, 1], probas["b"][1][:, 1]
    # the oracle: the same random numbers, drawn by hand (records, or patients in order of first
    # appearance, each with both of its records), scikit-learn's AUROC, NumPy's percentiles
    r, diffs = np.random.default_rng(3), []
    for _ in range(400):
        if grouped:
            i = np.concatenate([np.flatnonzero(g == k) for k in r.integers(0, n // 2, n // 2)])
        else:
            i = r.integers(0, n, n)
        if len(np.unique(y[i])) == 2:
            diffs.append(roc_auc_score(y[i], pa[i]) - roc_auc_score(y[i], pb[i]))
    d = res["b"]["diff"]["auroc"]
    assert d["value"] == pytest.approx(roc_auc_score(y, pa) - roc_auc_score(y, pb), abs=1e-12)
    assert [d["ci_low"], d["ci_high"]] == pytest.approx(np.percentile(diffs, [2.5, 97.5]).tolist(), abs=1e-12)
    if not grouped:   # records independent: DeLong's interval is close to the bootstrap's
        lo, hi = _delong_ci(y, pa, pb)
        assert d["ci_low"] == pytest.approx(lo, abs=0.04) and d["ci_high"] == pytest.approx(hi, abs=0.04)


def test_random_row_uses_the_windows_of_a_file_without_provenance(tmp_path, capsys):
    """Embeddings of random weights seed 0 on 5 s windows, the provenance stripped (as a file from
    before it, or from another tool): the random-weight seed 0 row reproduces them only on the same
    5 s windows (it embedded on the model's 10 s training window, and differed)."""
    from biosig.cli import main
    from biosig.synthetic import simulate
    from biosig.writers import write
    rows = ["record,label"]
    for i in range(12):
        fast = i % 2
        write(simulate("ecg", 22, seed=i, fs_hz=250.0, heart_rate_bpm=(90 + 3 * i) if fast else (55 + 2 * i)),
              tmp_path / f"r{i:02d}.csv")
        rows.append(f"r{i:02d},{'aabbbaabbaba'[i]}")   # unrelated to the rate: no AUROC of 1
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    emb = tmp_path / "emb.parquet"
    assert main(["embed", str(tmp_path), "--model", "ecg-tiny", "--random-weights", "--window-s", "5",
                 "--out", str(emb)]) == 0
    old = tmp_path / "old.parquet"
    pl.read_parquet(emb).write_parquet(old)   # the same rows, no biosig_embed metadata
    from encoders.embeddings_file import read_provenance
    assert read_provenance(old) == {}
    capsys.readouterr()
    assert main(["probe", "--embeddings", str(old), "--labels", str(tmp_path / "labels.csv"), "--label-column",
                 "label", "--folds", "3", "--baseline", "random", "--model", "ecg-tiny", "--bootstrap", "20",
                 "--jobs", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["random seed 0"]["diff"]["auroc"]["value"] == 0.0
    assert res["random seed 0"]["auroc"] == res["embeddings"]["auroc"]
