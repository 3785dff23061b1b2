"""biosig probe with a labels file whose ids another tool changed: a spreadsheet turned "00123" into
123 (CSV round trip through a number column), or wrote "a00001" for "A00001". The records were said
to be unmatched with no hint (all of them: "no embedding source matches", exit 2); now the line
says they would match once leading zeros / letter case are ignored, and they are still not matched
silently (the probe runs on the ids that do match)."""
import logging

import numpy as np
import polars as pl
import pytest

from biosig.cli import main


@pytest.fixture()
def emb(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"{i:05d}" for i in range(1, 41)]
    y = [i % 2 for i in range(40)]
    rows = [(rng.normal(size=8) + v).astype(np.float32).tolist() for v in y]
    path = tmp_path / "e.parquet"
    pl.DataFrame({"source": [f"/data/{n}.hea" for n in names], "embedding": rows}).write_parquet(path)
    return str(path), names, y


def _labels(tmp_path, ids, y):
    path = tmp_path / "labels.csv"
    pl.DataFrame({"record": ids, "label": [str(v) for v in y]}).write_csv(path)
    return str(path)


def _probe(emb, labels):
    return main(["probe", "--embeddings", emb, "--labels", labels, "--label-column", "label", "--bootstrap", "20"])


def test_ids_that_lost_their_leading_zeros_are_said_to(tmp_path, emb, capsys):
    path, names, y = emb
    as_numbers = [str(int(n)) for n in names]                  # what a spreadsheet saves: 1, 2, ... 40
    assert _probe(path, _labels(tmp_path, as_numbers, y)) == 2
    err = capsys.readouterr().err
    assert "no embedding source matches" in err and "Traceback" not in err
    assert "40 of them would match" in err and "leading zeros" in err and "'1'" in err and "'00001'" in err, err


def test_some_ids_changed_is_a_warning_with_the_hint_and_no_silent_match(tmp_path, emb, capsys, caplog):
    path, names, y = emb
    ids = [n.lower().replace("0", "", 2) if i < 10 else n for i, n in enumerate(names)]   # 10 lost zeros
    with caplog.at_level(logging.WARNING):
        assert _probe(path, _labels(tmp_path, ids, y)) == 0
    out = capsys.readouterr().out
    assert out.startswith("30 records"), out                       # only the ids as written are matched
    line = [r.getMessage() for r in caplog.records if "not in" in r.getMessage()]
    assert len(line) == 1 and "10 of them would match" in line[0] and "leading zeros" in line[0], line


def test_letter_case_is_said_too(tmp_path, capsys):
    rng = np.random.default_rng(1)
    names = [f"A{i:05d}" for i in range(1, 31)]
    path = tmp_path / "e.parquet"
    pl.DataFrame({"source": [f"/data/{n}.mat" for n in names],
                  "embedding": [rng.normal(size=4).astype(np.float32).tolist() for _ in names]}).write_parquet(path)
    assert _probe(str(path), _labels(tmp_path, [n.lower() for n in names], [i % 2 for i in range(30)])) == 2
    err = capsys.readouterr().err
    assert "30 of them would match" in err and "letter case" in err and "leading zeros" not in err, err


def test_unrelated_ids_get_no_hint(tmp_path, emb, capsys):
    path, names, y = emb
    assert _probe(path, _labels(tmp_path, [f"x{n}" for n in names], y)) == 2
    err = capsys.readouterr().err
    assert "no embedding source matches" in err and "would match" not in err, err


def test_a_labels_file_with_only_its_header_says_so(tmp_path, emb, capsys):
    """It said "no embedding source matches a 'record' value", as if the ids were wrong."""
    path, _, _ = emb
    labels = tmp_path / "labels.csv"
    labels.write_text("record,label\n")
    assert _probe(path, str(labels)) == 2
    err = capsys.readouterr().err
    assert "no data rows" in err and "Traceback" not in err, err
