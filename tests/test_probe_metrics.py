"""encoders.probe_metrics against scikit-learn, the independent oracle: the probe's numbers must
not change by computing them faster."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from encoders.errors import EncoderError
from encoders.probe_metrics import binary_auroc, class_metrics

# the scikit-learn computation the probe used before (the oracle; benchmarks/bench_probe_metrics.py times both)
_sklearn = load_benchmark("bench_probe_metrics").sklearn_metrics


def _case(rng, n, classes, ties: bool):
    k = len(classes)
    y = classes[np.r_[np.arange(k), rng.integers(0, k, n - k)]]   # every class present
    logits = rng.normal(size=(n, k)) + 1.5 * (y[:, None] == classes[None, :])
    if ties:   # coarse probabilities: many equal scores, as a weak probe gives
        logits = np.round(logits)
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array(["A", "N"]), np.array([0, 1, 2]),
                                     np.array(["A", "N", "O", "~"])], ids=["binary", "binary-text", "3", "4-text"])
@pytest.mark.parametrize("ties", [False, True], ids=["no-ties", "ties"])
def test_metrics_equal_scikit_learn(classes, ties):
    rng = np.random.default_rng(len(classes) * 10 + ties)
    for n in (7, 40, 301):
        for _ in range(20):
            y, proba = _case(rng, n, classes, ties)
            ours, ref = class_metrics(y, proba, classes), _sklearn(y, proba, classes)
            for m in ref:
                assert ours[m] == pytest.approx(ref[m], abs=1e-12), (m, n)


def test_a_class_never_predicted_and_a_perfect_ranking():
    classes = np.array([0, 1, 2])
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.array([[.8, .1, .1], [.7, .2, .1], [.2, .7, .1], [.6, .3, .1], [.4, .5, .1], [.1, .8, .1]])
    ours, ref = class_metrics(y, proba, classes), _sklearn(y, proba, classes)   # class 2 is never predicted
    for m in ref:
        assert ours[m] == pytest.approx(ref[m], abs=1e-12)
    assert binary_auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert binary_auroc([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert binary_auroc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_one_class_or_unknown_labels_are_an_error():
    with pytest.raises(EncoderError, match="both classes"):
        binary_auroc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(EncoderError, match="not among"):
        class_metrics(np.array([0, 1, 5]), np.full((3, 2), 0.5), np.array([0, 1]))


# ------------------------------------------------------------------ cluster bootstrap (--group-column)
from encoders.probe_metrics import Resampler   # noqa: E402


def test_resampler_without_groups_draws_records():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    r = Resampler(37)
    for _ in range(5):
        np.testing.assert_array_equal(r.draw(a), b.integers(0, 37, 37))


def test_one_record_per_group_draws_what_records_draw():
    ids = [f"p{k}" for k in np.random.default_rng(1).permutation(50)]   # unique ids, in no sorted order
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    grouped, plain = Resampler(50, ids), Resampler(50)
    for _ in range(5):
        np.testing.assert_array_equal(grouped.draw(a), plain.draw(b))


def test_groups_are_drawn_whole_as_a_plain_loop_draws_them():
    rng = np.random.default_rng(2)
    groups = rng.choice(["ann", "bob", "cy", "dee", "eve", "fay", "gus"], size=40)
    first_seen = list(dict.fromkeys(groups.tolist()))
    members = [np.flatnonzero(groups == g) for g in first_seen]
    r = Resampler(40, groups)
    assert r.n_units == 7
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    for _ in range(20):
        g = b.integers(0, 7, 7)
        np.testing.assert_array_equal(r.draw(a), np.concatenate([members[k] for k in g]))


def test_bad_group_ids_are_an_error_and_mixed_ids_are_text():
    with pytest.raises(EncoderError, match="group ids"):
        Resampler(5, ["a", "b"])
    mixed = Resampler(4, np.array(["p1", None, 7, "p1"], dtype=object))
    assert mixed.n_units == 3


def _clustered(n_groups=12, per_group=6, seed=0):
    """Records of one patient are near copies: the information is in the patients, not the records."""
    rng = np.random.default_rng(seed)
    label = np.arange(n_groups) % 2
    centre = rng.normal(size=(n_groups, 4)) + 0.6 * label[:, None]
    X = np.repeat(centre, per_group, axis=0) + 0.05 * rng.normal(size=(n_groups * per_group, 4))
    return X, np.repeat(label, per_group), np.repeat(np.arange(n_groups), per_group)


def test_probe_intervals_count_patients_not_records():
    from encoders.probe import cv_folds, probe
    X, y, g = _clustered()
    folds = cv_folds(y, 3, 0, g)
    by_record = probe(X, y, folds=folds, n_boot=400)
    by_patient = probe(X, y, folds=folds, groups=g, n_boot=400)
    assert by_patient["auroc"]["value"] == by_record["auroc"]["value"]   # the same predictions
    width = {k: r["auroc"]["ci_high"] - r["auroc"]["ci_low"] for k, r in (("record", by_record), ("patient", by_patient))}
    assert width["patient"] > 1.8 * width["record"], width   # 12 patients, not 72 independent records
    singles = np.arange(len(y))[np.random.default_rng(0).permutation(len(y))]   # one record per "group"
    same = probe(X, y, folds=folds, groups=singles, n_boot=400)
    assert same["auroc"] == by_record["auroc"]


def test_subgroup_table_resamples_the_columns_patients():
    from encoders.probe import out_of_fold_proba, cv_folds
    from encoders.probe_subgroups import subgroup_table
    X, y, g = _clustered(n_groups=18)
    kind = np.where(y == 1, "A", np.where(g % 4 == 0, "N", "O"))
    classes, p = out_of_fold_proba(X, y, cv_folds(y, 3, 0, g))
    probas = {"ours": (classes, p), "noise": (classes, np.random.default_rng(3).dirichlet([1, 1], len(y)))}
    plain = subgroup_table(probas, y, kind, [("ours", "noise")], n_boot=300)
    grouped = subgroup_table(probas, y, kind, [("ours", "noise")], n_boot=300, groups=g)
    for col in plain:
        assert plain[col]["auroc"] == grouped[col]["auroc"]
        d0, d1 = plain[col]["diff"]["ours - noise"], grouped[col]["diff"]["ours - noise"]
        assert d1["ci_high"] - d1["ci_low"] > 1.5 * (d0["ci_high"] - d0["ci_low"]), col


def test_cli_probe_group_column_widens_the_intervals(tmp_path, capsys):
    """biosig probe --group-column: the table's and the --by-label intervals count patients."""
    import json

    import polars as pl

    from biosig.cli import main
    X, y, g = _clustered(n_groups=16)
    keys = [f"R{i:03d}" for i in range(len(y))]
    rows = {"source": [f"/data/{k}.hea" for k in keys], "channels": ["ECG"] * len(keys), "t0_s": [0.0] * len(keys),
            "t1_s": [10.0] * len(keys), "quality": [1.0] * len(keys), "embedding": [x.astype(np.float32).tolist() for x in X]}
    pl.DataFrame(rows, schema_overrides={"embedding": pl.List(pl.Float32)}).write_parquet(tmp_path / "emb.parquet")
    kind = np.where(y == 1, "A", np.where(g % 4 == 0, "N", "O"))
    pl.DataFrame({"record": keys, "rhythm": kind, "patient": [f"p{k}" for k in g]}).write_csv(tmp_path / "labels.csv")
    base = ["probe", "--embeddings", str(tmp_path / "emb.parquet"), "--labels", str(tmp_path / "labels.csv"),
            "--label-column", "rhythm", "--positive", "A", "--by-label", "--folds", "4", "--bootstrap", "300", "--json"]
    out = {}
    for name, extra in (("records", []), ("patients", ["--group-column", "patient"])):
        capsys.readouterr()
        assert main(base + extra) == 0
        out[name] = json.loads(capsys.readouterr().out)
    r, p = out["records"]["auroc"], out["patients"]["auroc"]
    assert p["ci_high"] - p["ci_low"] > 1.5 * (r["ci_high"] - r["ci_low"])
    assert "by label" in out["patients"]


def test_the_heads_auroc_is_nan_without_both_classes_as_before():
    from encoders.heads.train import auroc
    assert np.isnan(auroc([1, 1, 1], [0.1, 0.2, 0.3])) and np.isnan(auroc([0, 0], [0.1, 0.2]))
    assert auroc([0, 1, 0, 1], [0.1, 0.4, 0.4, 0.9]) == binary_auroc([0, 1, 0, 1], [0.1, 0.4, 0.4, 0.9]) == 0.875
