"""Edge cases of `biosig forecast evaluate` found in a bug bash: dropped marker frames, text
columns in tables, and the hold trade-off's duty cycle against the forecaster's own holds."""
import json
import logging

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from conftest import shared_path
from realtime.errors import ForecastError
from realtime.evaluation import HOLD_THRESHOLDS_MM, Protocol, _init_worker, _test_job
from realtime.metrics import forecast_metrics, hold_tradeoff
from realtime.sessions import load_sessions

SESSION = "201205111055"   # shared marker session: 3 markers, 1172 rows at 10 Hz, no dropped frame


def _marker_files():
    folder = shared_path("resp_motion")
    files = sorted(folder.glob(f"{SESSION}-*.csv"))
    if len(files) != 3:
        pytest.skip(f"session {SESSION} not complete in {folder}")
    return files


def test_dropped_marker_frames_become_missing_steps(tmp_path, caplog):
    """Rows lost from a marker CSV (a timestamp jump of 3 s) were glued together as consecutive
    steps: no gap, no hold (duty 1.000), every later step 3 s early and the jump scored as a
    one-step forecast error.  They must be missing steps at their own time."""
    files = _marker_files()
    ref = load_sessions(files, 10.0)[0]
    assert ref.n_steps == 1172 and np.isfinite(ref.X).all()   # the shared files lose no frame
    for f in files:   # drop data rows 700-729 (file lines 702-731) of every marker
        lines = f.read_text().splitlines(keepends=True)
        (tmp_path / f.name).write_text("".join(lines[:701] + lines[731:]))
    with caplog.at_level(logging.WARNING, logger="realtime.sessions"):
        s = load_sessions(sorted(tmp_path.glob("*.csv")), 10.0)[0]
    assert "lost frame" in caplog.text
    assert s.n_steps == ref.n_steps
    missing = ~np.isfinite(s.X).all(axis=1)
    assert np.flatnonzero(missing).tolist() == list(range(700, 730))
    np.testing.assert_array_equal(s.X[~missing], ref.X[~missing])
    np.testing.assert_allclose(s.t_s, ref.t_s)
    # end to end: the last-value forecaster holds after the dropout instead of scoring across it
    out = tmp_path / "out"
    assert main(["forecast", "evaluate", *map(str, sorted(tmp_path.glob("*.csv"))), "--methods", "last",
                 "--horizons", "1", "--workers", "1", "--out", str(out)]) == 0
    pred = pl.read_parquet(out / "predictions" / SESSION / "last.parquet")
    held = pred.filter(pl.col("hold"))["step"].to_list()
    assert held == list(range(701, 731))


def _table(path, extra):
    t = np.arange(900) / 10.0
    cols = {"t_s": t, "amp": np.sin(2 * np.pi * t / 4.0)}
    cols.update(extra)
    pl.DataFrame(cols).write_csv(path)


def test_text_column_is_named_not_reported_as_missing_steps(tmp_path, capsys):
    """A note column in a t_s table made every step 'missing': "100 % of the steps are missing
    (NaN)", blaming the data.  The error must name the column and point to --channel."""
    f = tmp_path / "noted.csv"
    _table(f, {"note": [None] * 499 + ["cough"] + [None] * 400})
    with pytest.raises(ForecastError, match=r"column 'note' holds no numbers \(e.g. 'cough' at data row 500\)"):
        load_sessions([f], 10.0)
    assert main(["forecast", "evaluate", str(f), "--methods", "last", "--horizons", "1", "--workers", "1",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'note'" in err[0] and "--channel" in err[0] and "Traceback" not in err[0]
    s = load_sessions([f], 10.0, channels=["amp"])[0]   # the way out the message names
    assert s.channels == ("amp",) and np.isfinite(s.X).all()


def test_text_values_among_numbers_are_missing_and_said(tmp_path, caplog):
    f = tmp_path / "na.csv"
    amp = [f"{v:.6f}" for v in np.sin(np.arange(900) / 10.0)]
    amp[700:706] = ["n/a"] * 6
    _table(f, {"amp": amp})
    with caplog.at_level(logging.WARNING, logger="realtime.sessions"):
        s = load_sessions([f], 10.0)[0]
    assert "6 value(s) that are not numbers (e.g. 'n/a' at data row 701)" in caplog.text
    assert np.flatnonzero(~np.isfinite(s.X[:, 0])).tolist() == list(range(700, 706))


@pytest.fixture
def realtime_log_level():
    """_init_worker (meant for worker processes) raises the 'realtime' logger to ERROR: put it back,
    or every later test that reads realtime's warnings sees nothing."""
    lg = logging.getLogger("realtime")
    old = lg.level
    yield
    lg.setLevel(old)


def test_hold_tradeoff_duty_counts_the_forecasters_own_holds(tmp_path, realtime_log_level):
    """The 'never hold' row of hold_tradeoff said duty 1.0 while the forecaster held after a gap
    (table duty < 1): held steps were dropped from its denominator.  Every row's duty must be a
    share of the same steps as the table's, and the 'never' row must equal the table's numbers."""
    f = tmp_path / "gap.csv"
    t = np.arange(1200) / 10.0
    rng = np.random.default_rng(1)
    amp = 6 * np.sin(2 * np.pi * t / 4.0) + rng.normal(0, 0.3, t.size)
    amp[800:830] = np.nan   # a 3 s gap in the test window
    pl.DataFrame({"t_s": t, "amp": amp}).write_csv(f)
    s = load_sessions([f], 10.0)[0]
    protocol = Protocol(rate_hz=10.0, seeds=1, select_seeds=1)
    _init_worker([s])
    h = 5
    _, _, _, res, _, holds = _test_job(0, "rls", h, {"lookback": 12, "hidden": 1, "lr": 0.0}, [0], protocol)
    assert holds.any() and res["duty"] < 1.0
    never = res["hold_tradeoff"][-1]
    assert never["threshold"] == np.inf
    assert never["duty"] == pytest.approx(res["duty"])
    assert never["frac_gt2"] == pytest.approx(res["frac_gt2"]) and never["frac_gt5"] == pytest.approx(res["frac_gt5"])
    assert all(row["duty"] <= res["duty"] + 1e-12 for row in res["hold_tradeoff"])
    assert len(res["hold_tradeoff"]) == len(HOLD_THRESHOLDS_MM)


def test_hold_tradeoff_hold_mask_against_hand_count():
    d = np.array([0.5, 3.0, 6.0, 1.0, np.nan, 2.5])
    risk = np.array([0.1, 4.0, 0.1, 0.1, 0.1, np.nan])
    hold = np.array([False, False, True, False, False, False])
    rows = hold_tradeoff(d, risk, [1.0, np.inf], hold=hold)
    # scorable: steps 0, 1, 2, 3, 5; step 2 held; at 1.0 step 1 held too
    assert rows[0]["duty"] == pytest.approx(3 / 5) and rows[0]["frac_gt2"] == pytest.approx(1 / 3)
    assert rows[1]["duty"] == pytest.approx(4 / 5) and rows[1]["frac_gt2"] == pytest.approx(2 / 4)
    y = np.zeros((6, 1))
    m = forecast_metrics(y, d[:, None], hold=hold)
    assert rows[1]["duty"] == pytest.approx(m["duty"]) and rows[1]["frac_gt2"] == pytest.approx(m["frac_gt2"])


def test_session_shorter_than_the_z_score_warm_up_is_refused(tmp_path, capsys):
    """--norm-s longer than the session: every step held, every number NaN, exit 0 and no word.
    It must be refused like a session too short for the protocol (exit 2, one line); one that
    leaves a forecast is still run."""
    f = tmp_path / "short_norm.csv"
    _table(f, {})   # 90 s at 10 Hz
    args = ["forecast", "evaluate", str(f), "--methods", "last", "--horizons", "1", "--workers", "1"]
    assert main(args + ["--norm-s", "120", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--norm-s 120" in err[0] and "no forecast" in err[0]
    assert main(args + ["--norm-s", "80", "--out", str(tmp_path / "b")]) == 0
    import json
    avg = json.loads((tmp_path / "b" / "report.json").read_text())["averages"]["last"]
    assert 0 < avg["duty"] < 1 and np.isfinite(avg["nrmse"])


def test_a_late_frame_then_an_early_one_is_jitter_not_a_lost_frame():
    """A frame 80 % late and the next one early lose nothing: inserting a missing step there would put
    every later step one period (100 ms) off its time. A real loss (two periods) is a missing step."""
    from realtime.sessions import _dropped_frames_as_gaps
    X = np.arange(6, dtype=float)[:, None]
    jitter = _dropped_frames_as_gaps("s", np.array([0.0, 0.1, 0.2, 0.38, 0.4, 0.5]), X)
    np.testing.assert_array_equal(jitter, X)
    lost = _dropped_frames_as_gaps("s", np.array([0.0, 0.1, 0.2, 0.4, 0.5, 0.6]), X)
    assert lost.shape == (7, 1) and np.isnan(lost[3, 0]) and lost[4, 0] == 3.0 and lost[-1, 0] == 5.0


def _breathing_csv(path, n_s=150.0, constant=False):
    t = np.arange(0, n_s, 0.1)
    X = np.ones((t.size, 3)) * 5.0 if constant else np.c_[10 * np.sin(2 * np.pi * t / 4), 3 * np.cos(2 * np.pi * t / 4),
                                                          np.sin(2 * np.pi * t / 5)]
    with open(path, "w") as fh:
        fh.write("t_s,m1_x,m1_y,m1_z\n")
        for ti, xi in zip(t, X):
            fh.write(f"{ti:.1f},{xi[0]:.4f},{xi[1]:.4f},{xi[2]:.4f}\n")


def test_a_horizon_past_the_end_names_the_horizon_not_norm_s(tmp_path, capsys):
    """A horizon longer than the session's test data is refused for what it is: until 2026-12-05
    the z-score check came first and told the user to shorten --norm-s (300 of 1500 samples)."""
    _breathing_csv(tmp_path / "s.csv")
    rc = main(["forecast", "evaluate", str(tmp_path / "s.csv"), "--methods", "last", "--horizons", "2000",
               "--seeds", "1", "--select-seeds", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    # 1500 steps, the test from step 600: horizons up to 1500 - 600 - 1
    assert "horizon 2000 steps (200 s)" in err and "--horizons up to 899" in err and "--norm-s" not in err


def test_a_constant_session_is_refused_not_scored_perfect(tmp_path, capsys):
    """A trace that never moves (a flat channel, a frozen tracker) has no motion to forecast: every
    method's error is 0 and its nRMSE 0/0. Until 2026-12-05 it was scored (nRMSE inf, RMSE 0.000,
    duty 1.000, with NumPy warnings on stderr); alone it is refused in one line, beside a breathing
    session it is skipped with a warning."""
    _breathing_csv(tmp_path / "flat.csv", constant=True)
    rc = main(["forecast", "evaluate", str(tmp_path / "flat.csv"), "--methods", "last", "--horizons", "1",
               "--seeds", "1", "--select-seeds", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "every coordinate is constant" in err, err
    _breathing_csv(tmp_path / "moving.csv")
    rc = main(["forecast", "evaluate", str(tmp_path / "flat.csv"), str(tmp_path / "moving.csv"), "--methods", "last",
               "--horizons", "1", "--seeds", "1", "--select-seeds", "1", "--workers", "1", "--out", str(tmp_path / "o2")])
    cap = capsys.readouterr()
    assert rc == 0 and "RuntimeWarning" not in cap.err
    report = json.loads((tmp_path / "o2" / "report.json").read_text())
    assert list(report["sessions"]) == ["moving"]
