"""Bug-bash 74 of the surrogate (marker position) CSV reader, ``biosig.readers.surrogates``, as ``biosig forecast``
reads it (real CSV files, the real CLI; NumPy oracles).

* A unit-labelled CSV ``t_s, x_mm, y_mm, z_mm`` with one column all NaN was refused whole ("column 'y_mm' holds no
  numbers"), even with ``--channel`` naming the other columns: the dead column now matters only where it is used.
* Columns in metres (``x_m``) were not taken for a unit: the file was read as a plain ``t_s`` table whose errors are
  in unstated units ("states no unit"); a metre column is now converted to mm, as cm is.
* A misspelled unit (``x_mmm``) is named, with the units accepted; a ``", "``-separated file (np.savetxt) is read
  (its columns of " -489.2" were text, refused).
* A bare ``time, x, y, z`` header was refused with a hint about ``--sample-rate-hz``, an option ``biosig forecast``
  does not have: the readers' hints name the caller's way to state a rate
  (``biosig.readers.table_time_units.rate_option``; forecast: none).
"""
import json
import logging

import numpy as np
import pytest

from test_cli_errors import assert_one_line_error, one_line_error, run_main

from test_forecast_bugbash74 import FS_HZ, _breathing as _breathing_75s   # one marker's 3-D breathing, 10 Hz


def _breathing(n_s=66.0, seed=0):
    return _breathing_75s(n_s=n_s, seed=seed)


def _write(path, t, X, header, sep=","):
    np.savetxt(path, np.column_stack([t, X]), delimiter=sep, header=header.replace(", ", sep), comments="",
               fmt="%.9g")
    return path


def _evaluate(capsys, src, out, *extra):
    code, stdout, err = run_main(capsys, "forecast", "evaluate", src, "--methods", "last", "--horizons", "1,5", "--seeds", "1",
                                 "--workers", "1", "--out", out, *extra)
    return code, stdout, err


def _last_value_errors(X, h):
    """NumPy oracle: the 3-D error of the last-value forecast at horizon h on the test steps (after 60 s)."""
    n0 = int(60 * FS_HZ)
    return np.linalg.norm(X[n0:] - X[n0 - h:len(X) - h], axis=1)


def test_a_column_of_nan_is_left_out_by_naming_the_others(tmp_path, capsys):
    t, X = _breathing()
    dead = X.copy()
    dead[:, 1] = np.nan   # y_mm: a coordinate the tracker never wrote
    src = _write(tmp_path / "couch.csv", t, dead, "t_s, x_mm, y_mm, z_mm")
    code, _, err = _evaluate(capsys, src, tmp_path / "run", "--channel", "x_mm", "--channel", "z")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "report.json").read_text())["results"]["couch"]["last"]
    for h in (1, 5):   # x and z: one marker, its error in the x-z plane
        d = _last_value_errors(X[:, [0, 2]], h)
        assert res[str(h)]["rmse"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-4)
        assert res[str(h)]["max"] == pytest.approx(d.max(), rel=1e-4)


def test_a_column_of_nan_still_matters_where_it_is_used(tmp_path, capsys, caplog):
    t, X = _breathing()
    X[:, 1] = np.nan
    src = _write(tmp_path / "couch.csv", t, X, "t_s, x_mm, y_mm, z_mm")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.surrogates"):
        code, _, err = _evaluate(capsys, src, tmp_path / "run")
    line = one_line_error(code, err)
    assert "missing: y 100 %" in line and "--channel" in line, line
    assert any("'y_mm' has no sample" in r.getMessage() for r in caplog.records)


def test_a_text_column_under_a_unit_is_still_refused(tmp_path):
    from biosig.errors import ReadError
    from biosig.readers.surrogates import read_surrogate_csv

    src = tmp_path / "note.csv"
    src.write_text("t_s,x_mm,note_mm\n" + "".join(f"{i / 10},{i % 7},ok\n" for i in range(30)))
    with pytest.raises(ReadError, match="column 'note_mm' holds no numbers"):
        read_surrogate_csv(src)


@pytest.mark.parametrize("header", ["t_s, x_m, y_m, z_m", "time (s), x (m), y [m], z_m"])
def test_metre_columns_are_read_in_mm(tmp_path, header):
    from biosig.readers import detect_format, read

    t, X = _breathing(n_s=5)
    src = _write(tmp_path / "metres.csv", t, X / 1000.0, header)
    assert detect_format(src) == "surrogate-csv"
    rec = read(src)
    assert rec.channels == ("x", "y", "z") and rec.units == ("mm",) * 3
    np.testing.assert_allclose(rec.samples.T, X, rtol=1e-6)   # metres x 1000, as the file holds 9 digits


def test_metre_columns_are_scored_in_mm(tmp_path, capsys):
    t, X = _breathing()
    src = _write(tmp_path / "couch.csv", t, X / 1000.0, "t_s, x_m, y_m, z_m")
    code, stdout, err = _evaluate(capsys, src, tmp_path / "run", "--channel", "x_m", "--channel", "y",
                                  "--channel", "z_m")
    assert code == 0, err
    assert "RMSE mm" in stdout and "no unit" not in stdout, stdout
    res = json.loads((tmp_path / "run" / "report.json").read_text())["results"]["couch"]["last"]
    for h in (1, 5):
        d = _last_value_errors(X, h)
        assert res[str(h)]["rmse"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-4)
        assert res[str(h)]["frac_gt2"] == pytest.approx(np.mean(d > 2.0), abs=1e-9)


def test_a_misspelled_unit_is_named_with_the_units_accepted(tmp_path, capsys):
    t, X = _breathing(n_s=5)
    src = _write(tmp_path / "typo.csv", t, X, "t_s, x_mmm, y_mm, z_mm", sep=", ")
    code, _, err = _evaluate(capsys, src, tmp_path / "run")
    assert_one_line_error(code, err, "column(s) 'x_mmm' carry no unit")
    line = one_line_error(code, err)
    assert "mm, cm or m" in line and "sample-rate" not in line, line


def test_comma_space_separated_columns_are_read(tmp_path):
    """``t_s, x_mm, y_mm, z_mm`` as np.savetxt(delimiter=", ") writes it: polars reads " x_mm" and " -489.2" as
    text; the column was refused as holding no numbers."""
    from biosig.readers.surrogates import read_surrogate_csv

    t, X = _breathing(n_s=5)
    rec = read_surrogate_csv(_write(tmp_path / "spaced.csv", t, X, "t_s, x_mm, y_mm, z_cm", sep=", "))
    assert rec.channels == ("x", "y", "z") and rec.units == ("mm",) * 3
    np.testing.assert_allclose(rec.samples.T, X * [1, 1, 10], rtol=1e-6)
    np.testing.assert_allclose(rec.times_s, t, atol=1e-9)


def test_a_bare_time_header_gets_no_hint_about_an_option_forecast_lacks(tmp_path, capsys):
    t, X = _breathing(n_s=5)
    src = _write(tmp_path / "bare.csv", t, X, "time, x, y, z")
    code, _, err = _evaluate(capsys, src, tmp_path / "run")
    line = one_line_error(code, err)
    assert "'time'" in line and "--sample-rate-hz" not in line, line
