"""biosig probe on labels files as other tools write them: a missing label written as text (``NaN``
from pandas' ``to_csv`` of a float column, ``NA`` from R, ``nan`` from NumPy) was a class of its
own (with --positive, a negative: CinC 2017 with 20 of 200 labels ``NaN``: A (46) vs rest (154),
AUROC 0.896 instead of 0.922 without those rows); the label values counted as the negatives are
said, so that a misspelt positive (``AF`` among ``A``) is seen; the rarest class is named."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main


@pytest.fixture()
def files(tmp_path):
    """30 records with 8-d embeddings that separate A from N, and a writer of labels files."""
    rng = np.random.default_rng(0)
    names = [f"r{i:02d}" for i in range(30)]
    label = ["A" if i % 2 else "N" for i in range(30)]
    emb = [(rng.normal(size=8) + (1.0 if lab == "A" else 0.0)).astype(np.float32).tolist() for lab in label]
    pl.DataFrame({"source": [f"/data/{n}.hea" for n in names], "embedding": emb}).write_parquet(tmp_path / "e.parquet")

    def labels(name, rows):
        path = tmp_path / name
        path.write_text("record,label\n" + "\n".join(f"{k},{v}" for k, v in rows) + "\n")
        return str(path)
    return str(tmp_path / "e.parquet"), list(zip(names, label)), labels


def _probe(emb, labels, *extra):
    return main(["probe", "--embeddings", emb, "--labels", labels, "--label-column", "label", "--bootstrap", "50",
                 "--json", *extra])


@pytest.mark.parametrize("missing", ["NaN", "nan", "NA", " N/A", "null", "None"])
@pytest.mark.parametrize("positive", [[], ["--positive", "A"]])
def test_missing_value_text_is_no_label(files, capsys, caplog, missing, positive):
    emb, rows, labels = files
    with_missing = [(k, missing if i % 5 == 0 else v) for i, (k, v) in enumerate(rows)]
    without = [(k, v) for i, (k, v) in enumerate(rows) if i % 5]
    capsys.readouterr()
    assert _probe(emb, labels("m.csv", with_missing), *positive) == 0
    got = json.loads(capsys.readouterr().out)
    assert _probe(emb, labels("w.csv", without), *positive) == 0
    ref = json.loads(capsys.readouterr().out)
    assert got["n"] == len(without) == 24 and got["classes"] == ref["classes"]
    assert got == ref                       # the same records, folds and numbers as the file without those rows
    assert f"{missing.strip()!r} (6 rows)" in caplog.text and "are read as missing" in caplog.text
    assert "6 of 30 embedded record(s) have no label in " + labels("m.csv", with_missing) in caplog.text


def test_all_labels_missing_is_one_line(files, capsys):
    emb, rows, labels = files
    assert main(["probe", "--embeddings", emb, "--labels", labels("m.csv", [(k, "NaN") for k, _ in rows]),
                 "--label-column", "label"]) == 2
    err = capsys.readouterr().err
    assert "has a missing 'label'" in err and "NaN" in err and "Traceback" not in err


def test_positive_says_which_values_are_the_negatives(files, capsys):
    emb, rows, labels = files
    typo = [(k, "AF" if v == "A" and i % 3 == 0 else v) for i, (k, v) in enumerate(rows)]
    n_af = sum(v == "AF" for _, v in typo)
    capsys.readouterr()
    assert main(["probe", "--embeddings", emb, "--labels", labels("t.csv", typo), "--label-column", "label",
                 "--positive", "A", "--bootstrap", "20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"30 records, A ({15 - n_af}) vs rest ({15 + n_af}), ")
    assert lines[1] == f"rest: AF {n_af}, N 15"


def test_too_few_records_of_a_class_names_the_class(files, capsys):
    emb, rows, labels = files
    three = [(k, "O" if i < 3 else v) for i, (k, v) in enumerate(rows)]
    assert main(["probe", "--embeddings", emb, "--labels", labels("f.csv", three), "--label-column", "label"]) == 2
    err = capsys.readouterr().err
    assert "the rarest class (O) has 3 examples, fewer than the 5 folds; give --folds 3 or fewer" in err


def test_a_missing_group_id_is_refused_not_one_group_of_its_own(files, tmp_path, capsys):
    """A ``NaN`` patient id made the records without one a single cluster of the bootstrap."""
    emb, rows, _ = files
    path = tmp_path / "g.csv"
    path.write_text("record,label,patient\n" + "\n".join(
        f"{k},{v},{'NaN' if i < 4 else f'P{i // 2}'}" for i, (k, v) in enumerate(rows)) + "\n")
    assert main(["probe", "--embeddings", emb, "--labels", str(path), "--label-column", "label",
                 "--group-column", "patient", "--bootstrap", "20"]) == 2
    err = capsys.readouterr().err
    assert "--group-column patient: 4 labelled record(s) have no group id" in err and "Traceback" not in err
