"""``biosig probe`` wrinkles: --label-column naming the record ids says so (it said "the rarest class
(A00020) has 1 examples"), and a labels row without a record id is warned about once with
--group-column (it was warned about twice: for the label column, then for the group column)."""
from __future__ import annotations

import logging

import numpy as np
import polars as pl

from biosig.cli import main

NAMES = [f"A{i:05d}" for i in range(12)]


def _files(tmp_path, extra_rows=""):
    rng = np.random.default_rng(0)
    sources, rows = [], []
    for i, n in enumerate(NAMES):
        for _ in range(2):
            sources.append(f"/data/{n}.mat")
            rows.append((rng.normal(size=6) + 2.0 * (i % 2)).tolist())
    emb = tmp_path / "e.parquet"
    pl.DataFrame({"source": sources, "embedding": rows}).write_parquet(emb)
    labels = tmp_path / "l.csv"
    labels.write_text("record,label,patient\n" + "".join(f"{n},{i % 2},p{i // 2}\n" for i, n in enumerate(NAMES))
                      + extra_rows)
    return str(emb), str(labels)


def test_a_label_column_of_record_ids_is_said_to_be_one(tmp_path, capsys):
    emb, labels = _files(tmp_path)
    assert main(["probe", "--embeddings", emb, "--labels", labels, "--label-column", "record", "--folds", "2",
                 "--bootstrap", "10"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "rarest class" not in err, err
    assert "--label-column record" in err and "12 labelled records" in err and "record ids" in err, err
    assert "columns: record, label, patient" in err, err


def test_the_same_with_positive_says_the_cause_too(tmp_path, capsys):
    emb, labels = _files(tmp_path)
    assert main(["probe", "--embeddings", emb, "--labels", labels, "--label-column", "record", "--positive",
                 "A00003", "--folds", "2", "--bootstrap", "10"]) == 2
    assert "record ids" in capsys.readouterr().err


def test_labels_with_a_few_classes_still_probe(tmp_path, capsys):
    """Not every column of distinct-looking values is refused: 2 classes over 12 records probe as before."""
    emb, labels = _files(tmp_path)
    assert main(["probe", "--embeddings", emb, "--labels", labels, "--label-column", "label", "--folds", "2",
                 "--bootstrap", "10"]) == 0
    assert capsys.readouterr().out.startswith("12 records, classes 0 (6), 1 (6)")


def test_a_row_without_id_is_warned_about_once_with_group_column(tmp_path, capsys, caplog):
    emb, labels = _files(tmp_path, extra_rows=",1,p9\n")
    with caplog.at_level(logging.WARNING):
        assert main(["probe", "--embeddings", emb, "--labels", labels, "--label-column", "label",
                     "--group-column", "patient", "--folds", "2", "--bootstrap", "10"]) == 0
    assert "2-fold stratified grouped (6 groups) CV" in capsys.readouterr().out   # the group ids were read
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == ["1 row(s) of the labels have a 'label' but no 'record' (record id) and are left out"], said


def test_a_mistyped_embeddings_path_is_said_plainly(tmp_path, capsys):
    """``--embeddings emb.parqet`` ended in Polars' words ("No such file or directory (os error 2):
    emb.parqet"); a folder in Polars' advice on glob patterns. One plain line each, exit 2."""
    (tmp_path / "labels.csv").write_text("record,label\nA00000,N\n")
    (tmp_path / "not.parquet").write_text("record,label\n")
    cases = {"emb.parqet": "emb.parqet: no such file", str(tmp_path): "a folder; give the embeddings' Parquet file",
             str(tmp_path / "not.parquet"): "cannot read embeddings: not a Parquet file ("}
    for given, said in cases.items():
        code = main(["probe", "--embeddings", given, "--labels", str(tmp_path / "labels.csv"),
                     "--label-column", "label"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and said in err, err
