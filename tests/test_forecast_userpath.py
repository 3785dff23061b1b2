"""`biosig forecast evaluate` with a user's own marker / surrogate files: rows dropped are counted
and said, a column of text is named, an output that cannot be written is one line (not a
traceback), and a failed run does not run its remaining jobs first."""
import logging
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from biosig.cli import main
from biosig.readers.surrogates import read_surrogate_csv, read_vxp

RATE_HZ = 10.0


def _write_markers(path, n=900, rows=None, extra=None):
    """A user's CSV of 1 marker x 3 coordinates in mm at 10 Hz, time in ms; ``rows`` picks (and may
    repeat) row indices; ``extra``: (name, values as text) of one more column."""
    t = np.arange(n) / RATE_HZ
    x = 4 * np.sin(2 * np.pi * t / 4.0) + 0.05 * np.random.default_rng(0).standard_normal(n)
    X = np.column_stack([x, 0.5 * x + 10, -x + 100])
    idx = np.arange(n) if rows is None else np.asarray(rows)
    head = "time_ms,M1_x_mm,M1_y_mm,M1_z_mm" + (f",{extra[0]}" if extra else "")
    lines = [head] + [f"{round(1000 * t[i])},{X[i, 0]:.4f},{X[i, 1]:.4f},{X[i, 2]:.4f}" +
                      (f",{extra[1][k]}" if extra else "") for k, i in enumerate(idx)]
    path.write_text("\n".join(lines) + "\n")
    return t, X


def test_rows_with_a_repeated_timestamp_are_counted_and_said(tmp_path, caplog):
    f = tmp_path / "dup.csv"
    _write_markers(f, rows=np.r_[0:300, 299, 299, 300:900])   # row 299 written three times
    with caplog.at_level(logging.WARNING):
        rec = read_surrogate_csv(f)
    assert rec.samples.shape == (3, 900)
    said = [r.getMessage() for r in caplog.records if "repeating the previous timestamp" in r.getMessage()]
    assert len(said) == 1 and "2 row(s)" in said[0] and "data row 301" in said[0]
    assert "other values" not in said[0]        # the copies are identical: nothing lost


def test_a_repeated_timestamp_with_other_values_says_so(tmp_path, caplog):
    f = tmp_path / "clash.csv"
    t, X = _write_markers(f)
    text = f.read_text().splitlines()
    text[302] = text[301].split(",")[0] + "," + ",".join(text[302].split(",")[1:])   # row 302 takes row 301's time
    f.write_text("\n".join(text) + "\n")
    with caplog.at_level(logging.WARNING):
        rec = read_surrogate_csv(f)
    assert rec.samples.shape == (3, 899)
    np.testing.assert_allclose(rec.samples[:, 300], X[300], atol=1e-4)   # the first row of that time is kept
    said = [r.getMessage() for r in caplog.records if "repeating the previous timestamp" in r.getMessage()]
    assert len(said) == 1 and "1 row(s)" in said[0] and "1 of them with other values" in said[0]


def test_vxp_repeated_timestamps_are_said(tmp_path, caplog):
    lines = ["[Header]", "Version=1.6", "Data_layout=amplitude,phase,timestamp,validflag,ttlin,mark,ttlout",
             "Samples_per_second=10", "Scale_factor=1", "[Data]"]
    for i in [0, 1, 2, 2, 3, 4]:
        lines.append(f"{0.1 * i:.2f},0,{100 * i},0,0,,0")
    f = tmp_path / "rep.vxp"
    f.write_text("\r\n".join(lines) + "\r\n")
    with caplog.at_level(logging.WARNING):
        rec = read_vxp(f)
    assert rec.samples.shape == (1, 5)
    assert any("1 row(s) repeating the previous timestamp" in r.getMessage() and "data row 4" in r.getMessage()
               for r in caplog.records)


def test_timestamps_going_back_name_the_row_of_the_file(tmp_path):
    from biosig.errors import ReadError
    f = tmp_path / "back.csv"
    rows = np.r_[0:100, 99, 100:500]
    rows[300] = 250                                 # data row 301 goes back in time
    _write_markers(f, n=500, rows=rows)
    with pytest.raises(ReadError, match="backwards at data row 301$"):
        read_surrogate_csv(f)


def test_a_column_of_text_is_named(tmp_path, capsys):
    f = tmp_path / "note.csv"
    _write_markers(f, extra=("note_mm", ["ok"] * 900))
    rc = main(["forecast", "evaluate", str(f), "--methods", "last", "--horizons", "1", "--workers", "1",
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "column 'note_mm' holds no numbers (e.g. 'ok' at data row 1)" in err[0]


def test_text_values_among_numbers_are_counted(tmp_path, caplog):
    f = tmp_path / "some.csv"
    _write_markers(f, extra=("w_mm", ["n/a" if i in (5, 7) else "1.5" for i in range(900)]))
    with caplog.at_level(logging.WARNING):
        rec = read_surrogate_csv(f)
    assert np.isnan(rec.samples[3, [5, 7]]).all() and rec.metadata["invalid_samples"] == 2
    assert any("column 'w_mm': 2 value(s) that are not numbers" in r.getMessage() and "data row 6" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("blocked", ["predictions/clip/truth.parquet", "predictions/clip/last.parquet",
                                     "report.json"])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, capsys, blocked):
    f = tmp_path / "clip.csv"
    _write_markers(f)
    out = tmp_path / "out"
    (out / blocked).mkdir(parents=True)             # a folder where the file goes: cannot be written, even as root
    rc = main(["forecast", "evaluate", str(f), "--methods", "last", "--horizons", "1", "--workers", "1",
               "--out", str(out)])
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if " jobs, " not in ln]   # not progress
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("biosig forecast: error: ") and f"{out / blocked}: cannot write" in err[0]


def test_an_error_in_the_parent_cancels_the_jobs_not_started():
    from realtime.evaluation import _cancel_on_error
    futs = []
    with pytest.raises(RuntimeError):
        with ProcessPoolExecutor(max_workers=1) as pool, _cancel_on_error(pool):
            futs = [pool.submit(time.sleep, 0.2) for _ in range(50)]
            raise RuntimeError("on_predictions could not write")
    assert sum(f.cancelled() for f in futs) >= 40   # at most the few already handed to the worker ran
