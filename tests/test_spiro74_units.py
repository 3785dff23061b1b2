"""Spirometry units in offline scoring: a flow file labelled L/min that holds L/s (or the reverse) is found by the one
rule ``biosig spiro`` refuses it by (``spirometry_units.flow_unit_doubt``), and offline scoring's per-window measures
(``encoders.heads.features.record_window_measures``) withhold every window of it (``missing`` "unit_in_doubt"), said
once per record. Before: the windows were measured as they came (the reader had integrated the flow to mL) or the
call raised (a channel that kept its flow unit), and a flow in L/min labelled L/s was refused as "mL labelled as
litres, 1000x too large".

Built from UK Biobank's real blow (field 3066, volume in mL at 100 Hz): its flow by ``np.gradient`` written in L/s
or L/min under either label. Oracles: the blow's own volume column (FVC 5.836 L: times 1/60 or 60 is what the
messages must name) and ``biosig score``'s output of the correctly labelled files as it was before this change."""
import logging
import os
import pathlib
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from biosig.errors import SignalError
from biosig.readers import read
from encoders.heads.features import UNIT_IN_DOUBT, record_window_measures

ROOT = pathlib.Path(__file__).resolve().parents[1]
UKB = ROOT.parent / "shared" / "data" / "spirometry" / "ukb_field3066_demo_blow.csv"
SPIRO_KEYS = ("fvc_l", "fev1_l", "fev1_fvc", "pef_l_s", "fef25_75_l_s")
#: ``biosig score --model spiro-tiny`` of the blow as a flow in L/s (or L/min), before 2026-12-07's change
SCORED = {"fvc_l": 5.8359, "fev1_l": 4.676287103859429, "fev1_fvc": 0.8012966472796704, "pef_l_s": 9.959375,
          "fef25_75_l_s": 4.444665994056555}


def _blow(pad_s: float = 0.0):
    if not UKB.exists():
        pytest.skip(f"{UKB} is absent (../shared/data holds the one real blow these numbers are of)")
    d = np.loadtxt(UKB, delimiter=",", skiprows=1)
    t, v = d[:, 0], d[:, 1]
    flow = np.gradient(v, t) / 1000.0                        # L/s
    if pad_s:   # rest after the blow: several windows of one record
        flow = np.r_[flow, np.zeros(int(round(pad_s * 100)))]
        t = np.arange(len(flow)) / 100.0
    return t, flow, float(v.max() - v.min())


def _csv(path, t, values, header) -> str:
    with open(path, "w") as f:
        f.write(f"t_s,{header}\n" + "".join(f"{a:.2f},{b:.6f}\n" for a, b in zip(t, values)))
    return str(path)


def _files(tmp_path, pad_s=0.0) -> dict:
    t, flow, _ = _blow(pad_s)
    return {"ok_ls": _csv(tmp_path / "ok_ls.csv", t, flow, "flow [L/s]"),
            "ok_lmin": _csv(tmp_path / "ok_lmin.csv", t, flow * 60.0, "flow [L/min]"),
            "ls_as_lmin": _csv(tmp_path / "ls_as_lmin.csv", t, flow, "flow [L/min]"),
            "lmin_as_ls": _csv(tmp_path / "lmin_as_ls.csv", t, flow * 60.0, "flow [L/s]")}


def test_biosig_score_names_each_mislabelled_unit_and_keeps_the_right_ones(tmp_path):
    """A real ``biosig score`` run over the four files. Before: the L/min file labelled L/s failed with "divided by
    1000 ... values in mL labelled as litres" (the wrong mistake); the correctly labelled files' windows and records
    are as they were."""
    files = _files(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "biosig", "score", "--model", "spiro-tiny", "--out", str(out),
                          *files.values()], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert run.returncode == 1, run.stderr
    errors = {pathlib.Path(r["record"]).stem: r["message"] for r in pl.read_parquet(out / "errors.parquet").to_dicts()}
    fvc_l = _blow()[2] / 1000.0
    assert set(errors) == {"ls_as_lmin", "lmin_as_ls"}, errors
    assert "labelled as L/min" in errors["ls_as_lmin"] and f"FVC {fvc_l:.3g} L" in errors["ls_as_lmin"]
    assert "labelled as L/s" in errors["lmin_as_ls"] and "divided by 60" in errors["lmin_as_ls"]
    assert f"FVC {fvc_l:.3g} L" in errors["lmin_as_ls"] and "1000" not in errors["lmin_as_ls"], errors["lmin_as_ls"]
    windows = pl.read_parquet(out / "windows.parquet")
    records = pl.read_parquet(out / "records.parquet")
    for name in ("ok_ls", "ok_lmin"):
        w = windows.filter(pl.col("record") == files[name]).to_dicts()
        assert len(w) == 1 and w[0]["measures_ok"] and w[0]["missing"] is None
        assert {k: w[0][k] for k in SCORED} == pytest.approx(SCORED, rel=1e-12, abs=0.0)
        r = records.filter(pl.col("record") == files[name]).to_dicts()[0]
        assert (r["fvc_l"], r["fev1_l"], r["pef_l_s"]) == pytest.approx(
            (SCORED["fvc_l"], SCORED["fev1_l"], SCORED["pef_l_s"]), rel=1e-12)
        assert abs(r["fvc_l"] - fvc_l) < 0.01          # the blow's own volume column


@pytest.mark.parametrize("name, said", [("ls_as_lmin", "labelled as L/min"), ("lmin_as_ls", "labelled as L/s")])
def test_offline_windows_of_a_mislabelled_flow_file_are_withheld_and_said_once(tmp_path, caplog, name, said):
    """The reader integrated the flow to mL (units "mL", ``metadata["flow_unit"]``): every window of the record is
    withheld as unit_in_doubt, said in one warning. Before: no ``flow_unit`` to give; the windows were measured."""
    rec = read(_files(tmp_path, pad_s=30.0)[name])
    assert rec.units == ("mL",) and rec.metadata["flow_unit"] in ("L/s", "L/min")
    with caplog.at_level(logging.WARNING):
        rows = record_window_measures(rec.samples, rec.fs_hz, rec.channels, "spiro", None, 15.0, 5.0, 1, None,
                                      rec.units, flow_unit=rec.metadata["flow_unit"])
    assert len(rows) >= 5
    assert all(r["missing"] == UNIT_IN_DOUBT and r["ok"] is False and all(r[k] is None for k in SPIRO_KEYS)
               for r in rows), rows
    said_lines = [m for m in caplog.messages if said in m]
    assert len(said_lines) == 1 and UNIT_IN_DOUBT in said_lines[0], caplog.messages


@pytest.mark.parametrize("factor, unit, said", [(1.0, "L/min", "labelled as L/min"), (60.0, "L/s", "labelled as L/s")])
def test_a_channel_that_keeps_its_flow_unit_is_withheld_not_raised(caplog, factor, unit, said):
    """A flow channel read with its unit (no integration at read): before, ``record_window_measures`` raised
    SignalError for L/s labelled L/min (and measured the reverse as "no_manoeuvre")."""
    _, flow, _ = _blow(pad_s=20.0)
    with caplog.at_level(logging.WARNING):
        rows = record_window_measures((flow * factor)[None], 100.0, ("flow",), "spiro", None, 15.0, 5.0, 1, None,
                                      (unit,))
    assert rows and all(r["missing"] == UNIT_IN_DOUBT and r["fvc_l"] is None for r in rows), rows
    assert sum(said in m for m in caplog.messages) == 1


def test_correct_labels_are_measured_as_before(tmp_path, caplog):
    """A correctly labelled flow (either unit) gives the same windows with or without ``flow_unit``, published, no
    warning; a NaN gap in a flow still raises as before (the volume after it is unknown)."""
    files = _files(tmp_path)
    for name in ("ok_ls", "ok_lmin"):
        rec = read(files[name])
        args = (rec.samples, rec.fs_hz, rec.channels, "spiro", None, 15.0, 5.0, 1, 1, rec.units)   # one window
        with caplog.at_level(logging.WARNING):
            rows = record_window_measures(*args, flow_unit=rec.metadata["flow_unit"])
        assert rows == record_window_measures(*args)
        assert rows[0]["ok"] and rows[0]["fvc_l"] == pytest.approx(SCORED["fvc_l"], rel=1e-12)
    assert not [m for m in caplog.messages if "labelled" in m]
    _, flow, _ = _blow()
    flow[300] = np.nan
    with pytest.raises(SignalError, match="missing sample"):
        record_window_measures(flow[None], 100.0, ("flow",), "spiro", None, 15.0, 5.0, 1, None, ("L/s",))


def test_biosig_spiro_names_a_flow_in_L_per_min_labelled_L_per_s(tmp_path, capsys):
    """The CLI and offline scoring share the rule: before, ``biosig spiro`` called this file's values "mL labelled as
    litres" (1000x)."""
    from biosig.cli import main
    code = main(["spiro", _files(tmp_path)["lmin_as_ls"]])
    err = capsys.readouterr().err
    assert code == 2 and "labelled as L/s" in err and "divided by 60" in err, err
