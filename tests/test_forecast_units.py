"""Units of `forecast evaluate` reports: a `t_s` table states no unit, so its errors are not "mm".

A file in metres used to print `RMSE mm 0.000 ... >2mm 0.000`: the error columns were labelled mm
and the clinical thresholds (2 and 5 mm) never fired. Files with a known unit keep their report.
"""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from realtime.report import error_unit, format_table


def _table(path, scale=1.0, suffix=""):
    """3-D marker motion (mm) times ``scale`` as a `t_s` table, columns named ``m1_x<suffix>``."""
    t = np.arange(900) / 10.0
    rng = np.random.default_rng(0)
    x = 6 * np.sin(2 * np.pi * t / 4.0) + rng.normal(0, 0.3, t.size)
    cols = {"t_s": t, f"m1_x{suffix}": x * scale, f"m1_y{suffix}": 0.5 * x * scale,
            f"m1_z{suffix}": (100 - x) * scale}
    pl.DataFrame(cols).write_csv(path)


def _evaluate(path, out):
    assert main(["forecast", "evaluate", str(path), "--horizons", "10", "--methods", "last", "--workers", "1",
                 "--out", str(out)]) == 0
    return json.loads((out / "report.json").read_text())


def test_table_in_metres_is_not_reported_in_mm(tmp_path, capsys):
    _table(tmp_path / "metres.csv", scale=1e-3)
    rep = _evaluate(tmp_path / "metres.csv", tmp_path / "o")
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("method"))
    assert "mm" not in header and "RMSE u" in header
    assert "state(s) no unit" in printed and "m1_x_mm" not in printed and "LAC_x_mm" in printed
    assert "paper nRMSE" not in printed          # the published mm columns are not set beside input units
    # the errors keep their digits: a 3-D error of a few mm is a few thousandths of a metre, not 0.000
    row = next(line for line in printed.splitlines() if line.startswith("last"))
    rmse = float(row.split()[2])
    assert rmse == rep["averages"]["last"]["rmse"] or abs(rmse / rep["averages"]["last"]["rmse"] - 1) < 0.01
    assert 1e-3 < rmse < 1e-2


def test_table_that_names_its_unit_is_reported_in_mm(tmp_path, capsys):
    _table(tmp_path / "named.csv", suffix="_mm")
    rep = _evaluate(tmp_path / "named.csv", tmp_path / "o")
    printed = capsys.readouterr().out
    assert rep["sessions"]["named"]["units"] == ["mm"] * 3
    assert "RMSE mm" in printed and ">2mm" in printed and "no unit" not in printed
    # the same numbers in mm as the same motion in a unit-less table
    _table(tmp_path / "plain.csv")
    plain = _evaluate(tmp_path / "plain.csv", tmp_path / "o2")
    assert plain["averages"]["last"]["rmse"] == pytest.approx(rep["averages"]["last"]["rmse"], rel=1e-6)
    assert "no unit" in capsys.readouterr().out


def test_known_units_keep_their_report():
    """Marker sessions (mm), older reports without units (mm) and recordings in mV are unchanged."""
    assert error_unit({"a": {"units": ["mm"] * 9}}) == "mm"
    assert error_unit({"a": {}}) == "mm"
    assert error_unit({"a": {"units": ["mV"]}}) == "mV"
    assert error_unit({"a": {"units": ["mm"]}, "b": {"units": ["mV"]}}) == "u"
    assert error_unit({"a": {"units": ["mm"]}, "b": {"units": [""]}}) == "u"
    avg = {"rmse": 1.23456, "nrmse": 0.5, "mae": 1.0, "max": 4.5678, "jitter": 0.25, "p95": 2.345,
           "frac_gt2": 0.25, "frac_gt5": 0.01, "duty": 1.0, "us_median": 10.0, "us_mean": 12.0, "us_p99": 20.0}
    rep = {"protocol": {"rate_hz": 10.0, "supervision": "causal"}, "averages": {"lms": avg},
           "sessions": {"s": {"channels": ["a_x", "a_y", "a_z"], "units": ["mm"] * 3}},
           "published": {"lms": {"nrmse": 0.314, "rmse": 1.42, "max": 8.58, "jitter": 1.45, "ms_per_step": 0.014}}}
    text = format_table(rep)
    assert ("lms        0.500    1.235    4.57    2.35  0.250  0.010 1.000   0.250     10.0     20.0 |       0.314"
            in text)
    assert "no unit" not in text and "RMSE mm" in text
