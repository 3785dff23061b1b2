"""``biosig probe`` guards on real CinC 2017 records (4 per class, embedded once with ecg-tiny on 5 s
windows): grouped folds that cannot hold every class are one line and exit 2 (plain probe,
--baseline/--combined, nested C auto, precomputed folds); --min-quality names records left without a
window; labels ``1`` and ``1.0`` are one
class; --mix names an unknown label; --json says which label is positive."""
from __future__ import annotations

import csv
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from conftest import shared_path
from encoders.errors import EncoderError

PER_CLASS = 4


@pytest.fixture(scope="module")
def c16(tmp_path_factory):
    """(dir, [(record, label)]): the first 4 records of each CinC 2017 class, symlinked, embedded."""
    src = shared_path("cinc2017")
    d = tmp_path_factory.mktemp("probe_guards")
    by: dict = {}
    with open(src / "REFERENCE.csv") as f:
        for row in csv.DictReader(f):
            by.setdefault(row["label"], []).append(row["record"])
    rows = [(r, label) for label in sorted(by) for r in by[label][:PER_CLASS]]
    (d / "rec").mkdir()
    for r, _ in rows:
        for ext in ("hea", "mat"):
            (d / "rec" / f"{r}.{ext}").symlink_to(src / f"{r}.{ext}")
    assert main(["embed", str(d / "rec"), "--model", "ecg-tiny", "--window-s", "5",
                 "--out", str(d / "emb.parquet")]) == 0
    return d, rows


def _labels(d, rows, name="labels.csv", **columns) -> str:
    """A labels CSV: record, label and the extra ``columns`` ({name: function(record, label)})."""
    lines = [",".join(["record", "label", *columns])]
    lines += [",".join([r, label, *(str(f(r, label)) for f in columns.values())]) for r, label in rows]
    (d / name).write_text("\n".join(lines) + "\n")
    return str(d / name)


def _probe(d, labels, *extra):
    return main(["probe", "--embeddings", str(d / "emb.parquet"), "--labels", labels, "--label-column", "label",
                 "--bootstrap", "20", *extra])


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


# ---------------------------------------------------------------- 1. grouped folds without a class
@pytest.mark.parametrize("extra", [(), ("--C", "auto"), ("--baseline", "ibi", "--combined")])
def test_groups_that_hold_a_whole_class_are_one_line(c16, capsys, extra):
    """Every A in group p1, the rest in p2: the fold testing p1 would train on one class."""
    d, rows = c16
    labels = _labels(d, rows, patient=lambda r, label: "p1" if label == "A" else "p2")
    capsys.readouterr()
    assert _probe(d, labels, "--positive", "A", "--group-column", "patient", "--folds", "2", *extra) == 2
    _one_line_error(capsys, "one group", "folds cannot be formed", "more groups", "--group-column")


def test_groups_of_a_class_that_fall_in_one_fold_say_what_to_do():
    """Two groups hold all the A, and the grouped splitter (seed 0) puts both in one test fold."""
    from encoders.probe import cv_folds
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    groups = np.array([2, 4, 2, 2, 1, 1, 3, 1, 1, 1, 2, 2])
    with pytest.raises(EncoderError, match="all 3 records of class A in 2 groups that fall in one fold") as exc:
        cv_folds(y, 2, 0, groups, {1: "A", 0: "non-A"})
    assert "another --seed" in str(exc.value) and "fewer --folds" not in str(exc.value)   # 2 is the fewest


def test_precomputed_folds_and_nested_C_without_a_class_raise_encoder_errors():
    from encoders.probe import choose_C, out_of_fold_proba
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    y = np.array([1] * 4 + [0] * 8)
    bad = [(np.arange(4, 12), np.arange(0, 4)), (np.arange(0, 4), np.arange(4, 12))]
    with pytest.raises(EncoderError, match="training fold holds no record of class 1"):
        out_of_fold_proba(X, y, bad)
    # nested C auto: all positives of this training fold are in one group, so no inner fold trains on them
    with pytest.raises(EncoderError, match="C auto .* one group"):
        choose_C(X, y, np.array(["a"] * 4 + list("bbccddee")))


# ---------------------------------------------------------------- 3. --min-quality
def test_a_record_without_a_window_above_min_quality_is_named_as_such(c16, capsys, caplog):
    d, rows = c16
    best = pl.read_parquet(d / "emb.parquet").group_by("source").agg(pl.col("quality").max()).sort("quality")
    q = best["quality"].to_list()
    threshold = (q[0] + q[1]) / 2                       # only the record of lowest best quality falls below
    low = best["source"][0].rsplit("/", 1)[-1].split(".")[0]
    labels = _labels(d, rows)
    caplog.clear()
    assert _probe(d, labels, "--positive", "A", "--folds", "3", "--min-quality", f"{threshold:.6f}") == 0
    said = [m for m in caplog.messages if low in m]
    assert len(said) == 1 and "no window at or above the quality threshold" in said[0], caplog.messages
    assert "are not in" not in said[0]
    assert capsys.readouterr().out.startswith(f"{len(rows) - 1} records, ")


# ---------------------------------------------------------------- 4. numeric labels
def test_labels_1_and_1_0_are_one_class(c16, capsys):
    d, rows = c16
    af = [r for r, label in rows if label == "A"]
    spell = {af[0]: "1.0", af[1]: " 1.00"}
    labels = _labels(d, [(r, spell.get(r, "1") if label == "A" else "0") for r, label in rows])
    n_pos, n_neg = PER_CLASS, len(rows) - PER_CLASS
    for positive in ("1", "1.0"):
        capsys.readouterr()
        assert _probe(d, labels, "--positive", positive, "--folds", "3") == 0
        assert capsys.readouterr().out.startswith(f"{len(rows)} records, 1 ({n_pos}) vs rest ({n_neg}), ")
    assert _probe(d, labels, "--folds", "3") == 0
    assert capsys.readouterr().out.startswith(f"{len(rows)} records, classes 0 ({n_neg}), 1 ({n_pos}), ")


def test_group_ids_are_compared_as_written(c16, capsys):
    """Labels are read as numbers (1 and 1.0 one class), and group ids were too: patients 007 and
    7 became one group (their records kept in one fold, resampled together). Ids stay text."""
    d, rows = c16
    group = {r: ("00" if i % 2 else "") + str(i // 2) for i, (r, _) in enumerate(rows)}   # 0, 000, 1, 001, ...
    labels = _labels(d, rows, patient=lambda r, label: group[r])
    assert _probe(d, labels, "--folds", "2", "--group-column", "patient") == 0
    assert f"stratified grouped ({len(rows)} groups)" in capsys.readouterr().out
    from encoders.probe_labels import join_labels
    df = pl.DataFrame({"record": ["a", "b", "c"], "patient": ["007", "7", "7.0"]})
    assert join_labels(["a", "b", "c"], df, "patient", "record", as_number=False)[1].tolist() == ["007", "7", "7.0"]


def test_label_value_reads_numbers_and_leaves_text():
    from encoders.probe_labels import label_value
    assert [label_value(v) for v in ("1", "1.0", " 1 ", "1e0", "0.50", "-0.0", "007")] == \
        ["1", "1", "1", "1", "0.5", "0", "7"]
    assert [label_value(v) for v in ("A", "~", "nan", "inf", "1_0", "", None, 3)] == \
        ["A", "~", "nan", "inf", "1_0", "", None, 3]


# ---------------------------------------------------------------- 5. --mix and --json
def test_mix_names_a_label_that_is_not_there(c16, capsys):
    d, rows = c16
    labels = _labels(d, rows)
    capsys.readouterr()
    assert _probe(d, labels, "--positive", "A", "--folds", "3", "--by-label", "--mix", "N=5050,X=3") == 2
    _one_line_error(capsys, "'X' is not a label", "'O', '~' have no share", "N, O, ~")
    assert _probe(d, labels, "--positive", "A", "--folds", "3", "--by-label", "--mix", "N=5050,O=2456,~=284,A=1") == 2
    _one_line_error(capsys, "'A' is the --positive label")
    assert _probe(d, labels, "--positive", "A", "--folds", "3", "--by-label", "--mix", "N=5050,O=2456,~=284") == 0


def test_json_says_which_label_is_positive(c16, capsys):
    d, rows = c16
    labels = _labels(d, rows)
    capsys.readouterr()
    assert _probe(d, labels, "--positive", "A", "--folds", "3", "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["classes"] == ["0", "1"] and res["positive"] == "A" and res["class names"] == ["rest", "A"]
    assert _probe(d, labels, "--folds", "3", "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["classes"] == ["A", "N", "O", "~"] and "positive" not in res
