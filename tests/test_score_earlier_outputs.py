"""`biosig score DATA --out DATA/run2` after `--out DATA/run1`: the earlier run's output folder is
not an input (its tables were scored as records, each one an error), with one warning naming it;
a file in it named explicitly is still read. The model is ecg-tiny with seeded random weights saved
as a checkpoint directory (as tests/test_score.py), run with the torch backend."""
import contextlib
import io
import logging

import numpy as np
import polars as pl
import pytest


@pytest.fixture(scope="module")
def model_dir(ecg_tiny_random_dir):
    return str(ecg_tiny_random_dir)


def _cli(*args):
    from biosig.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _data(folder):
    """DATA with one 20 s ECG table (t_s, II), independent of biosig's writers."""
    folder.mkdir()
    t = np.arange(20 * 250) / 250
    pl.DataFrame({"t_s": t, "II [mV]": np.sin(2 * np.pi * 1.2 * t)}).write_csv(folder / "a.csv")
    return folder


def test_a_second_run_does_not_score_the_first_runs_tables(tmp_path, model_dir, caplog):
    data = _data(tmp_path / "DATA")
    common = ("--model", model_dir, "--backend", "torch")
    assert _cli("score", data, *common, "--out", data / "run1")[0] == 0
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli("score", data, *common, "--out", data / "run2")
    assert code == 0, err   # before: exit 1, run1's windows/records/errors tables and parts failed as records
    records = pl.read_parquet(data / "run2" / "records.parquet")
    assert records.height == 1 and records["record"][0].endswith("a.csv")
    assert pl.read_parquet(data / "run2" / "errors.parquet").height == 0
    said = [r.getMessage() for r in caplog.records if "earlier 'biosig score' runs skipped" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith(": run1")   # run2, this run's own folder, is not named
    # the same command again: resumes; the old folder is still skipped, this run's own too
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert _cli("score", data, *common, "--out", data / "run2")[0] == 0
    said = [r.getMessage() for r in caplog.records if "earlier 'biosig score' runs skipped" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith(": run1")
    # a third run sees two earlier outputs
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert _cli("score", data, *common, "--out", tmp_path / "elsewhere")[0] == 0
    said = [r.getMessage() for r in caplog.records if "earlier 'biosig score' runs skipped" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith(": run1, run2")
    assert pl.read_parquet(tmp_path / "elsewhere" / "records.parquet").height == 1


def test_discover_skips_score_outputs_but_not_named_files(tmp_path, model_dir):
    from biosig.readers import discover
    from biosig.readers.discover import is_score_output

    data = _data(tmp_path / "DATA")
    assert _cli("score", data, "--model", model_dir, "--backend", "torch", "--out", data / "run1")[0] == 0
    assert is_score_output(data / "run1") and not is_score_output(data)
    assert discover(data) == [str(data / "a.csv")]
    named = data / "run1" / "records.parquet"
    assert discover([data, named]) == [str(data / "a.csv"), str(named)]   # a file named explicitly is kept
    # a run killed before its first run.json: parts/job.json tells
    (data / "run1" / "run.json").unlink()
    assert is_score_output(data / "run1") and discover(data) == [str(data / "a.csv")]
    # a folder of recordings that merely holds a run.json of something else is searched
    other = data / "session"
    other.mkdir()
    (other / "run.json").write_text('{"tool": "my recorder"}')
    (other / "b.csv").write_text((data / "a.csv").read_text())
    assert discover(data) == [str(data / "a.csv"), str(other / "b.csv")]


def test_only_earlier_outputs_is_no_records(tmp_path, model_dir):
    data = _data(tmp_path / "DATA")
    common = ("--model", model_dir, "--backend", "torch")
    assert _cli("score", data, *common, "--out", data / "run1")[0] == 0
    (data / "a.csv").unlink()
    code, _, err = _cli("score", data, *common, "--out", data / "run2")
    assert code == 2 and "no records found under" in err
