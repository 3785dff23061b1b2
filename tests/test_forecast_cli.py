"""`biosig forecast evaluate | plot` end to end, on synthetic and real sessions, and bad input."""
import json

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from conftest import shared_path


def _write_csv(path, n=800, rate_hz=10.0, seed=0, nan_burst=None):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    x = 5 * np.sin(2 * np.pi * t / 4.0)
    cols = {"t_s": t, "m1_x": x + rng.normal(0, 0.05, n), "m1_y": 0.5 * x + rng.normal(0, 0.05, n),
            "m1_z": -x + 100 + rng.normal(0, 0.05, n), "amp": np.cos(2 * np.pi * t / 4.0) + rng.normal(0, 0.02, n)}
    df = pl.DataFrame(cols)
    if nan_burst:
        a, b = nan_burst
        df = df.with_columns(pl.when((pl.col("t_s") >= a) & (pl.col("t_s") < b)).then(None)
                             .otherwise(pl.col("m1_x")).alias("m1_x"))
    df.write_csv(path)
    return df


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc")
    df = _write_csv(d / "synthetic.csv")
    out = d / "out"
    rc = main(["forecast", "evaluate", str(d / "synthetic.csv"), "--rate-hz", "10", "--horizons", "1,3",
               "--methods", "last,lms,snap1", "--seeds", "2", "--select-seeds", "1", "--workers", "2",
               "--out", str(out)])
    assert rc == 0
    return out, df


def test_evaluate_writes_report_and_predictions(evaluated, capsys):
    out, df = evaluated
    report = json.loads((out / "report.json").read_text())
    assert set(report["averages"]) >= {"last", "lms", "snap1", "snap1-ens"}
    res = report["results"]["synthetic"]
    assert set(res["snap1"]) == {"1", "3"}
    for key in ("rmse", "nrmse", "mae", "max", "jitter", "us_mean", "us_p99", "lookback", "hidden", "lr"):
        assert key in res["snap1"]["3"]
    pred = pl.read_parquet(out / "predictions" / "synthetic" / "snap1.parquet")
    assert pred.columns == ["horizon", "seed", "step", "t_s", "m1_x", "m1_y", "m1_z", "amp", "hold"]
    assert pred.height == 2 * 2 * (800 - 600)
    assert pred["step"].min() == 600 and pred["step"].max() == 799
    # `last` is an independent oracle: its forecast of step k is sample k - h, scored by hand
    X = df.drop("t_s").to_numpy()
    last = pl.read_parquet(out / "predictions" / "synthetic" / "last.parquet").filter(pl.col("horizon") == 3)
    P = last.drop(["horizon", "seed", "step", "t_s", "hold"]).to_numpy()
    np.testing.assert_allclose(P, X[597:797], rtol=1e-12)
    d = np.concatenate([np.linalg.norm(P[:, :3] - X[600:, :3], axis=1), np.abs(P[:, 3] - X[600:, 3])])
    denom = np.sqrt(np.sum((X[600:] - X[600:].mean(axis=0)) ** 2))
    assert res["last"]["3"]["nrmse"] == pytest.approx(np.sqrt(np.sum(d ** 2)) / denom, rel=1e-9)
    assert res["last"]["3"]["rmse"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-9)
    # learners beat no-prediction on a clean periodic signal
    assert report["averages"]["snap1"]["nrmse"] < report["averages"]["last"]["nrmse"]
    assert report["averages"]["lms"]["nrmse"] < report["averages"]["last"]["nrmse"]


def test_plot_writes_png_and_rejects_unknown_names(evaluated, tmp_path, capsys):
    out, _ = evaluated
    png = tmp_path / "p.png"
    assert main(["forecast", "plot", str(out), "--session", "synthetic", "--method", "snap1", "--horizon", "3",
                 "--out", str(png)]) == 0
    assert png.stat().st_size > 10000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["forecast", "plot", str(out), "--session", "nope", "--method", "snap1", "--horizon", "3",
                 "--out", str(png)]) == 2
    err = capsys.readouterr().err
    assert "synthetic" in err and "Traceback" not in err
    assert main(["forecast", "plot", str(out), "--session", "synthetic", "--method", "snap1", "--horizon", "9",
                 "--out", str(png)]) == 2
    assert "horizons: 1, 3" in capsys.readouterr().err


def _bad(args, capsys):
    rc = main(["forecast", "evaluate", *map(str, args)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    return err


def test_bad_inputs_give_one_clear_line(tmp_path, capsys):
    one = tmp_path / "one.csv"
    pl.DataFrame({"t_s": np.arange(900) / 10}).write_csv(one)
    assert "coordinate column" in _bad([one, "--out", tmp_path / "o"], capsys)
    short = tmp_path / "short.csv"
    _write_csv(short, n=50)
    assert "5.0 s of data" in _bad([short, "--out", tmp_path / "o"], capsys)
    ok = tmp_path / "ok.csv"
    _write_csv(ok, n=700)
    err = _bad([ok, "--horizons", "1-150", "--out", tmp_path / "o"], capsys)
    assert "horizon 150" in err and "up to 99" in err
    assert "known: " in _bad([ok, "--methods", "snap1,lstm", "--out", tmp_path / "o"], capsys)
    assert "1-21" in _bad([ok, "--horizons", "x-3", "--out", tmp_path / "o"], capsys)
    assert "no such file" in _bad([tmp_path / "missing.csv", "--out", tmp_path / "o"], capsys)
    holes = tmp_path / "holes.csv"
    _write_csv(holes, n=700, nan_burst=(5.0, 60.0))
    assert "missing" in _bad([holes, "--out", tmp_path / "o"], capsys)


def test_nan_burst_session_is_evaluated(tmp_path, capsys):
    f = tmp_path / "burst.csv"
    _write_csv(f, n=760, nan_burst=(40.0, 42.0))
    out = tmp_path / "o"
    assert main(["forecast", "evaluate", str(f), "--methods", "lms,snap1", "--horizons", "2", "--seeds", "1",
                 "--select-seeds", "1", "--workers", "1", "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["sessions"]["burst"]["missing_steps"] == 20
    assert np.isfinite(rep["averages"]["snap1"]["nrmse"]) and rep["averages"]["snap1"]["resets"] == 0


def test_real_marker_session_columns(tmp_path, capsys):
    files = sorted(shared_path("resp_motion").glob("201205111055-*.csv"))
    out = tmp_path / "o"
    assert main(["forecast", "evaluate", *map(str, files), "--methods", "last", "--horizons", "2", "--seeds", "1",
                 "--workers", "1", "--out", str(out)]) == 0
    pred = pl.read_parquet(out / "predictions" / "201205111055" / "last.parquet")
    assert pred.columns[4:] == ["LAC_x", "LAC_y", "LAC_z", "LAR_x", "LAR_y", "LAR_z", "UAR_x", "UAR_y", "UAR_z", "hold"]
    assert not pred["hold"].any()   # no gap in the test part: every step has a forecast
    assert pred["step"].min() == 600 and pred.height == 1172 - 600
    printed = capsys.readouterr().out
    assert "last" in printed and "nRMSE" in printed


def test_paper_supervision_is_recorded_and_labelled(tmp_path, capsys):
    f = tmp_path / "s.csv"
    _write_csv(f, n=760)
    out = tmp_path / "o"
    assert main(["forecast", "evaluate", str(f), "--methods", "lms", "--horizons", "3", "--seeds", "1",
                 "--workers", "1", "--supervision", "paper", "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["protocol"]["supervision"] == "paper" and rep["causal"] is False
    assert "NOT CAUSAL" in capsys.readouterr().out
