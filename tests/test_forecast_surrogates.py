"""1-D respiratory surrogates (Varian RPM .vxp, unit-labelled CSV), clinical errors, and the
evaluate CLI details of issue 13 (skipped short sessions, --rate-hz check, windows, workers)."""
import json
import logging

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from biosig.errors import ReadError
from biosig.readers import detect_format, read
from realtime.metrics import causal_error_level
from realtime.metrics import forecast_metrics, hold_tradeoff

RATE = 30.0


def _breath(t):
    return 0.8 * np.sin(2 * np.pi * t / 4.0) + 0.2 * np.sin(4 * np.pi * t / 4.0 + 0.5)  # cm


def _write_vxp(path, n=int(40 * RATE), invalid=(), scale=10.0):
    """A VXP 1.6 export written from the public layout (readrpm.m / writerpm.m): [Header]
    key=value lines, [Data], then amplitude,phase,timestamp(ms),validflag,ttlin,mark,ttlout."""
    t = np.arange(n) / RATE
    amp_cm = _breath(t)
    lines = ["[Header]", "CRC=12345", "Version=1.6",
             "Data_layout=amplitude,phase,timestamp,validflag,ttlin,mark,ttlout", "Patient_ID=TEST",
             "Date=01-01-2026", f"Total_study_time={t[-1]:.3f}", f"Samples_per_second={RATE:g}",
             f"Scale_factor={scale:g}", "[Data]"]
    for i in range(n):
        phase = (2 * np.pi * t[i] / 4.0) % (2 * np.pi)
        valid = -1 if i in invalid else 0
        mark = "Z" if i % 120 == 0 else ("P" if i % 120 == 60 else "")
        lines.append(f"{amp_cm[i] * scale:.4f},{phase:.4f},{int(round(1000 * t[i] + 5000))},{valid},0,{mark},"
                     f"{int(i % 90 < 45)}")
    path.write_text("\r\n".join(lines) + "\r\n")
    return t, amp_cm


def test_vxp_is_read_in_mm_with_invalid_samples_as_gaps(tmp_path):
    f = tmp_path / "patient1.vxp"
    t, amp_cm = _write_vxp(f, n=300, invalid={10, 11, 200})
    assert detect_format(f) == "vxp"
    rec = read(f)
    assert rec.channels == ("amplitude",) and rec.units == ("mm",) and rec.fs_hz == RATE
    x = rec.samples[0].astype(float)
    np.testing.assert_allclose(rec.times_s, np.round(1000 * t) / 1000, atol=1e-9)
    ok = np.ones(300, bool)
    ok[[10, 11, 200]] = False
    assert np.isnan(x[~ok]).all()
    np.testing.assert_allclose(x[ok], 10 * amp_cm[ok], atol=1e-3)  # cm * Scale_factor / Scale_factor * 10
    assert rec.metadata["invalid_samples"] == 3 and rec.metadata["beam_on"].sum() == sum(i % 90 < 45 for i in range(300))


def test_surrogate_csv_in_cm_and_ms_with_validity(tmp_path):
    f = tmp_path / "trace.csv"
    t = np.arange(200) / 10
    valid = np.ones(200, int)
    valid[50:55] = 0
    pl.DataFrame({"time_ms": (1000 * t).round(), "chest (cm)": _breath(t), "valid": valid}).write_csv(f)
    assert detect_format(f) == "surrogate-csv"
    rec = read(f)
    assert rec.channels == ("chest",) and rec.units == ("mm",)
    x = rec.samples[0].astype(float)
    assert np.isnan(x[50:55]).all()
    np.testing.assert_allclose(x[valid == 1], 10 * _breath(t)[valid == 1], rtol=1e-6)
    bad = tmp_path / "nounit.csv"
    pl.DataFrame({"t_s": t, "chest_cm": t, "belly": t}).write_csv(bad)
    with pytest.raises(ReadError, match="belly"):
        read(bad)


def test_evaluate_runs_on_vxp_and_cm_csv(tmp_path, capsys):
    vxp = tmp_path / "pt.vxp"
    _write_vxp(vxp, invalid=set(range(500, 520)))
    csv = tmp_path / "cm.csv"
    t = np.arange(400) / 10
    pl.DataFrame({"t_s": t, "amp_cm": _breath(t) + 0.01 * np.random.default_rng(0).normal(size=t.size)}).write_csv(csv)
    out = tmp_path / "o"
    windows = ["--norm-s", "10", "--select-start-s", "10", "--test-start-s", "20"]
    assert main(["forecast", "evaluate", str(vxp), "--rate-hz", "30", "--horizons", "3,9", "--methods", "last,rls",
                 "--workers", "1", *windows, "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert 18 <= rep["sessions"]["pt"]["missing_steps"] <= 20 and rep["protocol"]["test_start_s"] == 20
    r = rep["results"]["pt"]
    assert r["rls"]["9"]["nrmse"] < r["last"]["9"]["nrmse"]
    for k in ("p95", "frac_gt2", "frac_gt5", "duty", "hold_tradeoff"):
        assert k in r["rls"]["3"]
    printed = capsys.readouterr().out
    assert "p95" in printed and "paper nRMSE" not in printed and "published columns left out" in printed
    out2 = tmp_path / "o2"
    assert main(["forecast", "evaluate", str(csv), "--rate-hz", "10", "--horizons", "2", "--methods", "last,rls",
                 "--workers", "1", *windows, "--out", str(out2)]) == 0
    rep2 = json.loads((out2 / "report.json").read_text())
    assert rep2["sessions"]["cm"]["channels"] == ["amp"]
    # errors are in mm: `last` at 2 steps is the mean |x(t) - x(t-2)| of the trace times 10
    truth = pl.read_parquet(out2 / "predictions" / "cm" / "truth.parquet")["amp"].to_numpy()
    assert truth.std() == pytest.approx(10 * _breath(t[200:]).std(), rel=0.05)


def test_surrogates_are_motion_whatever_their_column_says(tmp_path):
    """"chest" / "abdomen" name respiration belts too (biosig.modality); a surrogate trace in mm is a
    body-surface position all the same, streamed and forecast as motion."""
    f = tmp_path / "belts.csv"
    t = np.arange(100) / 10
    pl.DataFrame({"time_ms": 1000 * t, "chest_cm": _breath(t), "abdomen [mm]": 10 * _breath(t)}).write_csv(f)
    rec = read(f)
    assert rec.channels == ("chest", "abdomen") and rec.channel_modalities == ("motion", "motion")
    _write_vxp(tmp_path / "pt.vxp", n=100)
    assert read(tmp_path / "pt.vxp").channel_modalities == ("motion",)


def test_a_folder_of_rpm_exports_is_a_session_each(tmp_path):
    from biosig.readers import discover
    from realtime.sessions import load_sessions
    for name in ("pt1", "pt2"):
        _write_vxp(tmp_path / f"{name}.vxp", n=300)
    (tmp_path / "notes.txt").write_text("treatment log\n")
    assert discover([tmp_path]) == [str(tmp_path / "pt1.vxp"), str(tmp_path / "pt2.vxp")]
    sessions = load_sessions([tmp_path], RATE)
    assert [(s.name, s.channels, s.units) for s in sessions] == [("pt1", ("amplitude",), ("mm",)),
                                                                 ("pt2", ("amplitude",), ("mm",))]


def _bad(args, capsys):
    capsys.readouterr()
    assert main(["forecast", "evaluate", *map(str, args)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_workers_windows_and_rate_checks(tmp_path, capsys):
    csv = tmp_path / "a.csv"
    t = np.arange(800) / 10
    pl.DataFrame({"t_s": t, "amp_mm": 10 * _breath(t)}).write_csv(csv)
    assert "--workers" in _bad([csv, "--workers", "0", "--out", tmp_path / "o"], capsys)
    assert "--select-start-s" in _bad([csv, "--select-start-s", "70", "--out", tmp_path / "o"], capsys)
    # a marker CSV whose timestamps say 10 Hz, evaluated as 30 Hz: refused
    mk = tmp_path / "201201010000-LAC-1-N-80-6.csv"
    rows = ['"Frame";"Timestamp";"x";"y";"z"'] + [f"{i};{100 * i};{np.sin(i / 6):.4f};0,5;{np.cos(i / 6):.4f}"
                                                   .replace(".", ",") for i in range(800)]
    mk.write_text("\n".join(rows) + "\n")
    assert "timestamps say 10 Hz" in _bad([mk, "--rate-hz", "30", "--out", tmp_path / "o"], capsys)


def test_short_session_is_skipped_with_a_warning(tmp_path, capsys, caplog):
    good, short = tmp_path / "good.csv", tmp_path / "short.csv"
    t = np.arange(700) / 10
    pl.DataFrame({"t_s": t, "amp_mm": 10 * _breath(t)}).write_csv(good)
    pl.DataFrame({"t_s": t[:100], "amp_mm": 10 * _breath(t[:100])}).write_csv(short)
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING):
        assert main(["forecast", "evaluate", str(good), str(short), "--methods", "last", "--horizons", "1",
                     "--workers", "1", "--out", str(out)]) == 0
    assert "skipping: session short" in caplog.text
    assert list(json.loads((out / "report.json").read_text())["sessions"]) == ["good"]


def test_clinical_metrics_and_hold_tradeoff_by_hand():
    y = np.zeros((6, 3))
    p = np.zeros((6, 3))
    p[:, 0] = [0.0, 1.0, 3.0, 6.0, 1.0, 0.5]  # 3-D error per step (one marker)
    m = forecast_metrics(y, p, [[0, 1, 2]])
    assert m["frac_gt2"] == pytest.approx(2 / 6) and m["frac_gt5"] == pytest.approx(1 / 6)
    assert m["p95"] == pytest.approx(np.percentile(p[:, 0], 95)) and m["duty"] == 1.0
    hold = np.array([False, False, False, True, False, False])
    mh = forecast_metrics(y, p, [[0, 1, 2]], hold=hold)
    assert mh["duty"] == pytest.approx(5 / 6) and mh["frac_gt5"] == 0.0 and mh["frac_gt2"] == pytest.approx(1 / 5)
    # a held step has no forecast, so no error: every error metric is over the 5 beam-on steps
    on = p[~hold, 0]
    assert mh["max"] == 3.0 and mh["p95"] == pytest.approx(np.percentile(on, 95))
    assert mh["rmse"] == pytest.approx(np.sqrt(np.mean(on ** 2))) and mh["mae"] == pytest.approx(on.mean())
    assert mh["n_steps"] == 5 and mh["jitter"] == pytest.approx(np.mean([1.0, 2.0, 0.5]))   # 0-1-2 and 4-5
    none = forecast_metrics(y, p, [[0, 1, 2]], hold=np.ones(6, bool))
    assert none["duty"] == 0.0 and np.isnan(none["rmse"]) and none["n_steps"] == 0
    rows = hold_tradeoff(p[:, 0], np.array([0.1, 0.1, 4.0, 4.0, 0.1, np.nan]), [1.0, np.inf])
    assert rows[0] == {"threshold": 1.0, "duty": pytest.approx(4 / 6), "frac_gt2": 0.0, "frac_gt5": 0.0}
    assert rows[1]["duty"] == 1.0


def test_error_level_uses_only_errors_known_when_forecasting():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 3, 200)
    h = 5
    lvl = causal_error_level(d, h, window=10)
    k = 120  # forecast of step k made at k - h: known targets are <= k - h
    assert lvl[k] == pytest.approx(np.sqrt(np.mean(d[k - h - 9:k - h + 1] ** 2)))
    d2 = d.copy()
    d2[k - h + 1:] += 100.0  # errors not yet known at k - h change nothing
    assert causal_error_level(d2, h, window=10)[k] == lvl[k]
    assert np.isnan(lvl[:h]).all()


def test_gaps_are_beam_off_for_every_row_and_one_x_column_is_not_a_marker(tmp_path, capsys):
    """Steps forecast while the input is missing are holds: `last` and the seed ensemble count them
    as beam off like the members (the ensemble row used to report duty 1.000). A trace in one
    column named `x` is 1-D, so the published 3-D marker columns are left out."""
    t = np.arange(500) / 10
    x = 10 * _breath(t)
    x[300:312] = np.nan  # 1.2 s missing in the test part
    csv = tmp_path / "gap.csv"
    pl.DataFrame({"t_s": t, "x": x}).write_csv(csv)
    out = tmp_path / "o"
    assert main(["forecast", "evaluate", str(csv), "--rate-hz", "10", "--horizons", "2", "--methods", "last,snap1",
                 "--seeds", "2", "--select-seeds", "1", "--workers", "1", "--norm-s", "10", "--select-start-s", "10",
                 "--test-start-s", "20", "--out", str(out)]) == 0
    avg = json.loads((out / "report.json").read_text())["averages"]
    n_scored = 500 - 200 - 12  # test targets with a truth
    # `last` holds for the 2 targets (horizon 2) forecast from inside the gap whose truth exists
    assert avg["last"]["duty"] == pytest.approx(1 - 2 / n_scored)
    assert avg["snap1-ens"]["duty"] == pytest.approx(avg["snap1"]["duty"]) and avg["snap1"]["duty"] < avg["last"]["duty"]
    printed = capsys.readouterr().out
    assert "paper nRMSE" not in printed and "published columns left out" in printed
    # the held forecasts are marked in the predictions and left out of the errors: `last` forecasts
    # the breath 0.2 s ahead, so its beam-on max error is the largest 2-step change of the trace
    pred = pl.read_parquet(out / "predictions" / "gap" / "last.parquet")
    truth = pl.read_parquet(out / "predictions" / "gap" / "truth.parquet")
    held = pred.filter(pl.col("hold"))
    assert held["step"].to_list() == list(range(302, 314))   # forecast from inside the gap
    # a held step publishes no number: its position is null (it was the learner's fallback value,
    # the last sample before the gap, which a consumer reading the column took for a forecast)
    assert held["x"].null_count() == held.height and pred.filter(~pl.col("hold"))["x"].null_count() == 0
    for f in ("snap1.parquet", "last.parquet"):
        p = pl.read_parquet(out / "predictions" / "gap" / f)
        assert p.filter(pl.col("hold"))["x"].null_count() == p["hold"].sum() > 0
    err = np.abs(pred["x"].to_numpy() - truth["x"].to_numpy())
    on = ~pred["hold"].to_numpy() & np.isfinite(err)
    assert avg["last"]["max"] == pytest.approx(err[on].max()) and not np.isfinite(err[~on]).any()
    png = tmp_path / "gap.png"   # the plot reads the nulls (no line there, the hold shaded)
    assert main(["forecast", "plot", str(out), "--session", "gap", "--method", "last", "--horizon", "2",
                 "--out", str(png)]) == 0 and png.read_bytes()[:4] == b"\x89PNG"
    ens_row = next(line for line in printed.splitlines() if line.startswith("snap1-ens "))
    assert ens_row.split()[-1] == "-" and "nan" not in ens_row  # no timing of its own
