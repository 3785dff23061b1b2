"""``biosig probe`` as a researcher runs it with imperfect files (bug-bash): an embeddings file that is
not biosig embed's (text or ragged vectors, windows without a source, a NaN), labels written by
another tool (Windows paths as ids, ids with a dot, blank lines, a row with an extra field, Excel's
``sep=;`` line, spaces around header names), labels that differ only in letter case. Each is one
line and exit 2, or a probe that says what it read differently; never a traceback, never a record
called 'None'."""
from __future__ import annotations

import csv
import logging

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from conftest import shared_path


def _emb(tmp_path, names, y, name="e.parquet", **columns):
    """An embeddings file as biosig embed writes it (source, embedding), 2 windows per record, the
    class shifting the vectors (a probe separates them)."""
    rng = np.random.default_rng(0)
    sources, rows = [], []
    for n, v in zip(names, y):
        for _ in range(2):
            sources.append(f"/data/{n}.csv")
            rows.append((rng.normal(size=6) + 2.0 * v).astype(np.float32).tolist())
    path = tmp_path / name
    pl.DataFrame({"source": sources, "embedding": rows, **columns}).write_parquet(path)
    return str(path)


def _probe(emb, labels, *extra):
    return main(["probe", "--embeddings", emb, "--labels", str(labels), "--label-column", "label",
                 "--bootstrap", "20", "--folds", "2", *extra])


def _one_line(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


NAMES = [f"r{i:02d}" for i in range(12)]
Y = [i % 2 for i in range(12)]


# ---------------------------------------------------------------- embeddings that are not embed's
@pytest.mark.parametrize("column, needle", [
    (["x", "y"], "holds String, not vectors of numbers"),
    ([[1.0, 2.0], [1.0]], "2 lengths (1 of length 2, 1 of length 1)"),
])
def test_embeddings_that_are_not_vectors_of_one_length_are_one_line(tmp_path, capsys, column, needle):
    """Both were a ValueError traceback from numpy."""
    path = tmp_path / "bad.parquet"
    pl.DataFrame({"source": ["/d/a.csv", "/d/b.csv"], "embedding": column}).write_parquet(path)
    (tmp_path / "l.csv").write_text("record,label\na,0\nb,1\n")
    assert _probe(str(path), tmp_path / "l.csv") == 2
    _one_line(capsys, needle)


def test_windows_without_a_source_are_refused_not_a_record_called_none(tmp_path, capsys):
    """A null source was the record 'None' (probed, or said as 'None' among the unlabelled)."""
    emb = _emb(tmp_path, NAMES, Y)
    df = pl.read_parquet(emb)
    df = df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("source")).alias("source"))
    df.write_parquet(emb)
    labels = tmp_path / "l.csv"
    labels.write_text("record,label\n" + "".join(f"{n},{v}\n" for n, v in zip(NAMES, Y)))
    assert _probe(emb, labels) == 2
    _one_line(capsys, "1 of 24 window(s) have no source")


def test_a_nan_embedding_names_its_record(tmp_path, capsys):
    emb = _emb(tmp_path, NAMES, Y)
    df = pl.read_parquet(emb)
    vectors = df["embedding"].to_list()
    vectors[5][2] = float("nan")   # record r02
    df.with_columns(pl.Series("embedding", vectors, dtype=pl.List(pl.Float32))).write_parquet(emb)
    labels = tmp_path / "l.csv"
    labels.write_text("record,label\n" + "".join(f"{n},{v}\n" for n, v in zip(NAMES, Y)))
    assert _probe(emb, labels) == 2
    _one_line(capsys, "1 of 12 labelled record(s)", "r02")


# ---------------------------------------------------------------- ids as other tools write them
def test_ids_with_a_dot_match_their_records(tmp_path, capsys):
    """Recordings s.1.csv, s.2.csv ...: the ids s.1, s.2 were cut to 's' (one record with two labels)."""
    names = [f"s.{i}" for i in range(12)]
    emb = _emb(tmp_path, names, Y)
    labels = tmp_path / "l.csv"
    labels.write_text("record,label\n" + "".join(f"{n},{v}\n" for n, v in zip(names, Y)))
    assert _probe(emb, labels) == 0
    assert capsys.readouterr().out.startswith("12 records, classes 0 (6), 1 (6)")


def test_windows_paths_blank_lines_and_a_row_without_id(tmp_path, capsys, caplog):
    """C:\\data\\r00.csv is the record r00; blank lines are no record (they were a record 'None'); a
    label without an id is counted and said."""
    emb = _emb(tmp_path, NAMES, Y)
    labels = tmp_path / "l.csv"
    labels.write_text("record,label\r\n" + "".join(f"C:\\data\\{n}.csv,{v}\r\n" for n, v in zip(NAMES, Y))
                      + ",1\r\n\r\n\r\n")
    with caplog.at_level(logging.WARNING):
        assert _probe(emb, labels) == 0
    assert capsys.readouterr().out.startswith("12 records, classes 0 (6), 1 (6)")
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == ["1 row(s) of the labels have a 'label' but no 'record' (record id) and are left out"], said


@pytest.mark.parametrize("head", ["sep=;\nrecord;label\n", " record ; label \n"])
def test_excel_separator_line_and_spaces_around_header_names(tmp_path, capsys, head):
    """Both were "no column 'label'" (columns 'sep=' / ' record ', ' label ')."""
    emb = _emb(tmp_path, NAMES, Y)
    labels = tmp_path / "l.csv"
    labels.write_text(head + "".join(f"{n};{v}\n" for n, v in zip(NAMES, Y)))
    assert _probe(emb, labels) == 0
    assert capsys.readouterr().out.startswith("12 records, classes 0 (6), 1 (6)")


def test_a_row_with_an_extra_field_names_its_line(tmp_path, capsys):
    """Was polars' three-line message ending in 'Consider setting truncate_ragged_lines=True'."""
    emb = _emb(tmp_path, NAMES, Y)
    labels = tmp_path / "l.csv"
    rows = [f"{n},{v}" for n, v in zip(NAMES, Y)]
    rows[3] += ",AF, paroxysmal"
    labels.write_text("record,label\n" + "\n".join(rows) + "\n")
    assert _probe(emb, labels) == 2
    _one_line(capsys, "line 5 has more fields than the 2 of the first row")


def test_a_missing_group_column_gets_no_header_hint(tmp_path, capsys):
    """The label column is there, so the file has a header: the --no-header hint misled."""
    emb = _emb(tmp_path, NAMES, Y)
    labels = tmp_path / "l.csv"
    labels.write_text("record,label\n" + "".join(f"{n},{v}\n" for n, v in zip(NAMES, Y)))
    assert _probe(emb, labels, "--group-column", "patient") == 2
    err = _one_line(capsys, "no column 'patient'; columns: record, label")
    assert "--no-header" not in err


# ---------------------------------------------------------------- labels that differ in case
def test_labels_that_differ_only_in_case_are_said(tmp_path, capsys, caplog):
    emb = _emb(tmp_path, NAMES, Y)
    labels = tmp_path / "l.csv"
    text = {0: "N", 1: "AF"}
    labels.write_text("record,label\n" + "".join(
        f"{n},{text[v].lower() if i in (1, 3) else text[v]}\n" for i, (n, v) in enumerate(zip(NAMES, Y))))
    with caplog.at_level(logging.WARNING):
        assert _probe(emb, labels, "--positive", "AF") == 0
    out = capsys.readouterr().out
    assert "AF (4) vs rest (8)" in out and "rest: N 6, af 2" in out   # af counted as a negative, and shown
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("'AF' (4) / 'af' (2)" in m and "classes of their own" in m for m in said), said
    assert _probe(emb, labels, "--positive", "n") == 2
    _one_line(capsys, "--positive 'n' is not a label value", "--positive N?")


# ---------------------------------------------------------------- real records (CinC 2017)
def test_real_records_labelled_by_windows_paths(tmp_path, capsys):
    """8 CinC 2017 records embedded with ecg-tiny, labelled by Windows paths with extensions (as a
    spreadsheet exported on Windows writes them): the probe sees all 8 and matches the plain ids'."""
    src = shared_path("cinc2017")
    by: dict = {}
    with open(src / "REFERENCE.csv") as f:
        for row in csv.DictReader(f):
            by.setdefault(row["label"], []).append(row["record"])
    rows = [(r, label) for label in ("A", "N") for r in by[label][:4]]
    (tmp_path / "rec").mkdir()
    for r, _ in rows:
        for ext in ("hea", "mat"):
            (tmp_path / "rec" / f"{r}.{ext}").symlink_to(src / f"{r}.{ext}")
    emb = str(tmp_path / "emb.parquet")
    assert main(["embed", str(tmp_path / "rec"), "--model", "ecg-tiny", "--window-s", "5", "--out", emb]) == 0
    plain, win = tmp_path / "plain.csv", tmp_path / "win.csv"
    plain.write_text("record,label\n" + "".join(f"{r},{label}\n" for r, label in rows))
    win.write_text("record,label\n" + "".join(f"D:\\cinc\\{r}.mat,{label}\n" for r, label in rows) + "\n")
    capsys.readouterr()
    assert _probe(emb, plain, "--json") == 0
    want = capsys.readouterr().out
    assert _probe(emb, win, "--json") == 0
    assert capsys.readouterr().out == want
