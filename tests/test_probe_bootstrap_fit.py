"""The probe's bootstrap counts the resamples it leaves out (they lack a class) and says so, refusing
when most are left out (checked against a plain NumPy + scikit-learn bootstrap); fold and class
guards say what to do; ``--baseline`` that cannot apply to the recordings' modality is one line naming
the baseline, the modality and what fits instead (real CinC 2017 and spirometry files)."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from conftest import shared_path
from encoders.errors import EncoderError


def _rare(n=24, n_pos=2, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, n_pos, replace=False)] = 1
    X = rng.normal(size=(n, 4)) + y[:, None]
    return X, y


def _plain_bootstrap(y, score, n_boot, seed):
    """The textbook loop: draw n of n with replacement, skip a draw without both classes, count it."""
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(seed)
    values, skipped = [], 0
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) < 2:
            skipped += 1
            continue
        values.append(roc_auc_score(y[i], score[i]))
    return np.percentile(values, [2.5, 97.5]), skipped


def test_left_out_resamples_are_counted_as_a_plain_bootstrap_counts_them():
    from encoders.probe import cv_folds, out_of_fold_proba, probe
    X, y = _rare()
    folds = cv_folds(y, 2, 0)
    res = probe(X, y, folds=folds, n_boot=500, seed=3)
    _, proba = out_of_fold_proba(X, y, folds)
    (lo, hi), skipped = _plain_bootstrap(y, proba[:, 1], 500, 3)
    assert skipped > 20   # 2 positives of 24: about (22/24)^24 = 12 % of the draws hold none
    assert res["bootstrap"] == {"resamples": 500, "left out": skipped}
    assert res["auroc"]["ci_low"] == pytest.approx(lo) and res["auroc"]["ci_high"] == pytest.approx(hi)


def test_compare_gives_every_row_the_same_count():
    from encoders.probe import compare, cv_folds
    X, y = _rare(seed=1)
    res = compare({"a": X, "b": X[:, :2]}, y, cv_folds(y, 2, 0), reference="a", n_boot=300, seed=0)
    counts = {name: r["bootstrap"]["left out"] for name, r in res.items()}
    assert counts["a"] == counts["b"] > 0


def test_most_resamples_left_out_is_an_error_naming_the_class():
    """12 classes of 2 records: ~80 % of the draws miss one of them; intervals from the rest are refused."""
    from encoders.probe import probe
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(12), 2)
    X = rng.normal(size=(24, 3))
    with pytest.raises(EncoderError, match=r"of 200 bootstrap resamples hold no record of some class \(class \d+, 2 "
                                           r"records"):
        probe(X, y, n_splits=2, n_boot=200)


def _embeddings(tmp_path, labels_of: dict, dim=4, seed=0):
    """A real embeddings file (source + embedding columns, as probe reads them) and its labels CSV."""
    rng = np.random.default_rng(seed)
    rows = [{"source": f"{k}.hea", "embedding": (rng.normal(size=dim) + (v == "A")).tolist()}
            for k, v in labels_of.items()]
    pl.DataFrame(rows).write_parquet(tmp_path / "emb.parquet")
    (tmp_path / "labels.csv").write_text("record,label\n" + "".join(f"{k},{v}\n" for k, v in labels_of.items()))
    return ["probe", "--embeddings", str(tmp_path / "emb.parquet"), "--labels", str(tmp_path / "labels.csv"),
            "--label-column", "label"]


def test_cli_says_how_many_resamples_were_left_out(tmp_path, capsys):
    labels = {f"r{i:02d}": ("A" if i < 2 else "N") for i in range(24)}
    cmd = _embeddings(tmp_path, labels)
    assert main([*cmd, "--folds", "2", "--bootstrap", "400"]) == 0
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if x.startswith("bootstrap:")]
    assert len(line) == 1 and "of 400 resamples held no record of some class" in line[0], out
    assert main([*cmd, "--folds", "2", "--bootstrap", "400", "--json"]) == 0
    boot = json.loads(capsys.readouterr().out)["bootstrap"]
    assert boot["resamples"] == 400 and f"{boot['left out']} of 400" in line[0] and boot["left out"] > 0


def test_cli_refuses_intervals_from_a_few_resamples(tmp_path, capsys):
    labels = {f"r{i:02d}": f"c{i // 2}" for i in range(24)}   # 12 classes of 2 records
    assert main([*_embeddings(tmp_path, labels), "--folds", "2", "--bootstrap", "200"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "bootstrap resamples hold no record of some class" in err and "give more records" in err


def test_cli_without_left_out_resamples_prints_no_bootstrap_line(tmp_path, capsys):
    labels = {f"r{i:02d}": ("A" if i % 2 else "N") for i in range(40)}
    assert main([*_embeddings(tmp_path, labels), "--bootstrap", "200"]) == 0
    assert "bootstrap:" not in capsys.readouterr().out


# ---------------------------------------------------------------- guards that say what to do
def test_one_group_and_too_few_groups_say_what_to_do(tmp_path, capsys):
    from encoders.probe import cv_folds
    y = np.array([0, 1] * 6)
    with pytest.raises(EncoderError, match=r"^1 group is fewer than the 2 folds; a grouped CV needs two groups"):
        cv_folds(y, 2, 0, ["p1"] * 12)
    with pytest.raises(EncoderError, match=r"^3 groups are fewer than the 5 folds; give --folds 3 or fewer"):
        cv_folds(y, 5, 0, [f"p{i % 3}" for i in range(12)])


def test_a_single_class_is_named(tmp_path, capsys):
    labels = {f"r{i:02d}": "AF" for i in range(10)}
    assert main(_embeddings(tmp_path, labels)) == 2
    err = capsys.readouterr().err
    assert "single class (AF, all 10 records)" in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- --baseline on the wrong recordings
def test_misfit_names_what_a_record_lacks():
    from biosig.readers import read
    from encoders.baselines import misfit
    blow = read(str(shared_path("spirometry") / "ukb_field3066_demo_blow.csv"))
    ecg = read(str(shared_path("cinc2017") / "A00020.hea"))
    assert misfit("spirometry", ecg) == "no spiro channel" and misfit("spirometry", blow) is None
    assert misfit("hrv", blow) == "no ecg channel" and misfit("hrv", ecg) is None
    assert misfit("ibi", blow) == "not an ecg or ppg recording" and misfit("ibi", ecg) is None
    assert misfit("random", ecg, "ppg") == "no ppg channel" and misfit("random", ecg, "ecg") is None
    assert misfit("mfcc", ecg) is None


@pytest.fixture(scope="module")
def ecg8(tmp_path_factory):
    """8 real CinC 2017 ECGs (4 A, 4 N), embedded with ecg-tiny: (dir, probe arguments)."""
    import csv
    src = shared_path("cinc2017")
    d = tmp_path_factory.mktemp("probe_fit")
    by: dict = {}
    with open(src / "REFERENCE.csv") as f:
        for row in csv.DictReader(f):
            by.setdefault(row["label"], []).append(row["record"])
    rows = [(r, label) for label in ("A", "N") for r in by[label][:4]]
    (d / "rec").mkdir()
    for r, _ in rows:
        for ext in ("hea", "mat"):
            (d / "rec" / f"{r}.{ext}").symlink_to(src / f"{r}.{ext}")
    assert main(["embed", str(d / "rec"), "--model", "ecg-tiny", "--window-s", "5",
                 "--out", str(d / "emb.parquet")]) == 0
    (d / "labels.csv").write_text("record,label\n" + "".join(f"{r},{label}\n" for r, label in rows))
    return d, ["probe", "--embeddings", str(d / "emb.parquet"), "--labels", str(d / "labels.csv"),
               "--label-column", "label", "--positive", "A", "--folds", "2", "--bootstrap", "20"]


@pytest.mark.parametrize("extra, needles", [
    (("--baseline", "spirometry"), ("--baseline spirometry is for spiro recordings", "these are ecg",
                                    "no spiro channel", "use --baseline hrv, ibi or random")),
    (("--baseline", "ibi", "--baseline", "spirometry"), ("--baseline spirometry", "ecg", "hrv, ibi or random")),
    (("--baseline", "random", "--model", "ppg-tiny"), ("--baseline random: --model ppg-tiny is a ppg architecture",
                                                       "ecg recordings", "--model ecg-tiny", "leave --model out")),
])
def test_a_baseline_that_cannot_apply_is_one_line_naming_it(ecg8, capsys, extra, needles):
    _, cmd = ecg8
    capsys.readouterr()
    assert main([*cmd, *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err


# ---------------------------------------------------------------- one fold check per probe
def test_the_folds_are_checked_once_per_probe_and_leaky_folds_still_refused(monkeypatch):
    """probe() / compare() check the folds once (every record tested once, no record on both sides),
    not again per feature set and block; a direct out_of_fold_proba / late_fusion_proba still checks."""
    import encoders.probe_metrics as pm
    from encoders.probe import LateFusion, compare, cv_folds, late_fusion_proba, out_of_fold_proba, probe
    calls = []
    real = pm.check_folds
    monkeypatch.setattr(pm, "check_folds", lambda *a, **k: (calls.append(1), real(*a, **k))[1])   # counts, runs it
    X, y = _rare(n=30, n_pos=10)
    folds = cv_folds(y, 3, 0)
    probe(X, y, folds=folds, n_boot=10)
    assert len(calls) == 1
    calls.clear()
    compare({"a": X, "b": X[:, :2], "c": LateFusion((X, X[:, :2]))}, y, folds, reference="a", n_boot=10)
    assert len(calls) == 1
    leaky = [(np.arange(30), folds[0][1])] + folds[1:]
    for fit in (lambda: probe(X, y, folds=leaky, n_boot=10), lambda: out_of_fold_proba(X, y, leaky),
                lambda: late_fusion_proba((X, X), y, leaky),
                lambda: compare({"a": X, "b": X}, y, leaky, reference="a", n_boot=10)):
        with pytest.raises(EncoderError, match="trains on"):
            fit()


def test_the_probe_cli_modules_stay_small():
    """House style: 150-400 lines a module (probe_commands.py was 421 before its split)."""
    import pathlib

    import biosig.cli
    here = pathlib.Path(biosig.cli.__file__).parent
    for name in ("probe_commands.py", "probe_baselines.py", "probe_report.py"):
        assert len((here / name).read_text().splitlines()) <= 400, name
