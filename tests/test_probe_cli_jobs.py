"""``biosig probe --jobs N``: the baseline features over N worker processes print what one process
prints; recordings that moved or broke since ``embed`` are one line and exit code 2."""
from __future__ import annotations

import pytest

from biosig.cli import main
from biosig.synthetic import simulate
from biosig.writers import write


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """10 synthetic ECGs, 5 slow and 5 fast, embedded with random weights on 5 s windows."""
    d = tmp_path_factory.mktemp("probe_jobs")
    rows = ["record,label"]
    for i in range(10):
        fast = i % 2
        write(simulate("ecg", 16, seed=i, fs_hz=250.0, heart_rate_bpm=(100 + 3 * i) if fast else (55 + 2 * i)),
              d / f"r{i}.csv")
        rows.append(f"r{i},{'fast' if fast else 'slow'}")
    (d / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["embed", str(d), "--model", "ecg-tiny", "--random-weights", "--window-s", "5",
                 "--out", str(d / "emb.parquet")]) == 0
    return d


def _probe(d, *extra):
    return main(["probe", "--embeddings", str(d / "emb.parquet"), "--labels", str(d / "labels.csv"),
                 "--label-column", "label", "--bootstrap", "30", "--baseline", "ibi", *extra])


def test_two_jobs_print_what_one_prints(embedded, capsys):
    capsys.readouterr()
    outs = {}
    for jobs in ("1", "2"):
        assert _probe(embedded, "--jobs", jobs, "--combined") == 0
        outs[jobs] = capsys.readouterr().out
    assert outs["1"] == outs["2"]
    ibi = next(line for line in outs["1"].splitlines() if line.startswith("ibi "))
    assert float(ibi.split("|")[1].split()[0]) > 0.9   # the heart rate separates the classes


@pytest.mark.parametrize("jobs", ["0", "-2", "two"])
def test_a_bad_job_count_is_a_usage_error(embedded, jobs, capsys):
    with pytest.raises(SystemExit) as info:
        _probe(embedded, "--jobs", jobs)
    assert info.value.code == 2 and "--jobs" in capsys.readouterr().err


def test_recordings_that_moved_or_broke_are_one_line(embedded, tmp_path, capsys):
    import shutil
    d = tmp_path / "copy"
    shutil.copytree(embedded, d)
    # the embeddings name the recordings where embed found them: point them at the copy
    import polars as pl
    emb = pl.read_parquet(d / "emb.parquet")
    emb.with_columns(pl.col("source").str.replace(str(embedded), str(d), literal=True)).write_parquet(
        d / "emb.parquet")
    (d / "r3.csv").unlink()
    (d / "r7.csv").unlink()
    capsys.readouterr()
    assert _probe(d, "--jobs", "2") == 2
    err = capsys.readouterr().err
    assert "2 of 10 are not there" in err and "r3.csv" in err and "Traceback" not in err
    (d / "r3.csv").write_text("t_s,ecg\n")            # a file again, but no samples
    (d / "r7.csv").write_text("garbage\x00\x01\n")
    assert _probe(d, "--jobs", "2") == 2
    err = capsys.readouterr().err
    assert "--baseline needs the recordings behind the embeddings" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
