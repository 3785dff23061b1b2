"""Metrics, session loading, resampling and protocol helpers against independent computations."""
import numpy as np
import polars as pl
import pytest
from scipy.interpolate import interp1d

from realtime import ForecastError
from realtime.evaluation import Protocol, check_inputs, grid_configs, parse_int_list, run_forecaster
from realtime.metrics import forecast_metrics, marker_groups
from realtime.sessions import Session, load_sessions, read_generic_csv, resample_uniform
from conftest import shared_path


def test_marker_groups():
    assert marker_groups(["LAC_x", "LAC_y", "LAC_z", "UAC_x", "UAC_y", "UAC_z"]) == [[0, 1, 2], [3, 4, 5]]
    assert marker_groups(["amp", "m_x", "m_y", "flow"]) == [[0], [1, 2], [3]]


def test_metrics_match_hand_computation():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 3, (50, 6))
    p = y + rng.normal(0, 0.5, (50, 6))
    p[10, 2] = np.nan  # a missing forecast step is left out
    groups = [[0, 1, 2], [3, 4, 5]]
    m = forecast_metrics(y, p, groups)
    keep = [t for t in range(50) if t != 10]
    d = [np.sqrt(sum((p[t, i] - y[t, i]) ** 2 for i in g)) for t in keep for g in groups]
    d = np.array(d)
    yk = y[keep]
    denom = np.sqrt(sum((yk[t, i] - yk[:, i].mean()) ** 2 for t in range(len(keep)) for i in range(6)))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-12)
    assert m["nrmse"] == pytest.approx(np.sqrt(np.sum(d ** 2)) / denom, rel=1e-12)
    assert m["mae"] == pytest.approx(d.mean(), rel=1e-12)
    assert m["max"] == pytest.approx(d.max(), rel=1e-12)
    jit = [np.sqrt(sum((p[t + 1, i] - p[t, i]) ** 2 for i in g)) for t in range(49) if t not in (9, 10)
           for g in groups]
    assert m["jitter"] == pytest.approx(np.mean(jit), rel=1e-12)
    assert m["n_steps"] == 49
    with pytest.raises(ForecastError):
        forecast_metrics(y, p[:, :3], groups)


def test_resample_matches_scipy_and_keeps_gaps_missing():
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.08, 0.12, 300))
    X = np.stack([np.sin(t), np.cos(2 * t)], axis=1)
    X[100:110, 0] = np.nan
    grid, Y = resample_uniform(t, X, 10.0)
    assert np.allclose(np.diff(grid), 0.1)
    ok = np.isfinite(X[:, 1])
    np.testing.assert_allclose(Y[:, 1], interp1d(t[ok], X[ok, 1])(grid + t[0]), rtol=1e-12)
    gap = (grid + t[0] > t[100]) & (grid + t[0] < t[109])
    assert np.isnan(Y[gap, 0]).all() and np.isfinite(Y[~gap, 1]).all()


def test_generic_csv_irregular_is_resampled(tmp_path):
    t = np.array([0.0, 0.1, 0.21, 0.3, 0.42, 0.5, 0.6])
    pl.DataFrame({"t_s": t, "a": t * 2}).write_csv(tmp_path / "g.csv")
    s = read_generic_csv(tmp_path / "g.csv", 10.0)
    np.testing.assert_allclose(s.t_s, np.arange(7) / 10, atol=1e-12)
    np.testing.assert_allclose(s.X[:, 0], np.arange(7) / 5, atol=1e-12)
    pl.DataFrame({"time": t, "a": t}).write_csv(tmp_path / "h.csv")
    with pytest.raises(ForecastError, match="'t_s'"):
        read_generic_csv(tmp_path / "h.csv", 10.0)


def test_marker_sessions_group_by_prefix():
    files = sorted(shared_path("resp_motion").glob("*.csv"))
    sessions = load_sessions(files, 10.0)
    assert [s.name for s in sessions] == ["201205101519", "201205101534", "201205111055", "201205181211"]
    s = sessions[2]
    assert s.X.shape == (1172, 9) and s.groups == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    np.testing.assert_allclose(np.diff(s.t_s), 0.1)  # one row = one step at the nominal rate


def test_parse_and_grid_and_checks():
    assert parse_int_list("1-3,7") == [1, 2, 3, 7]
    assert parse_int_list("5") == [5]
    for bad in ("0-3", "3-1", "a", ""):
        with pytest.raises(ForecastError):
            parse_int_list(bad)
    from realtime.grids import horizon_steps
    assert horizon_steps("0.1, 0.5,1,0.5", 10.0) == [1, 5, 10]
    assert horizon_steps("0.1,0.3", 30.0) == [3, 9] and horizon_steps("0.2999", 30.0) == [9]
    for bad, match in (("0.25", "2.5 steps at 10 Hz; give whole steps .*e.g. 0.2"), ("0.05", "at least one step"),
                       ("x", "comma list of seconds"), ("", "comma list of seconds"), ("nan", "at least one step")):
        with pytest.raises(ForecastError, match=match):
            horizon_steps(bad, 10.0)
    cfgs = grid_configs("paper", "snap1", 10.0)
    assert len(cfgs) == 90 and {c["lookback"] for c in cfgs} == {12, 24, 36, 48, 60}
    assert {c["hidden"] for c in grid_configs("paper", "rtrl", 10.0)} == {10, 20, 30, 40}
    with pytest.raises(ForecastError, match="default, full, paper"):
        grid_configs("huge", "snap1", 10.0)
    # the default grid runs each RNN with one configuration (no selection); full keeps the old grid
    for m in ("rtrl", "uoro", "snap1", "dni"):
        assert len(grid_configs("default", m, 10.0)) == 1 < len(grid_configs("full", m, 10.0))
    s = Session("s", np.zeros((50, 1)), np.arange(50) / 10, ("a",), ("",), [[0]])
    with pytest.raises(ForecastError, match="5.0 s of data"):
        check_inputs([s], ["lms"], [1], Protocol())


def test_run_forecaster_aligns_forecasts_with_targets():
    X = np.arange(200, dtype=float)[:, None] * np.ones((1, 2))
    P, us, resets = run_forecaster(X, "last", 4, {"lookback": 1, "hidden": 1, "lr": 0.0}, 0, 200, Protocol(), 600)
    np.testing.assert_array_equal(P[4:], X[:-4])  # forecast of step k made at k - h
    assert np.isnan(P[:4]).all() and (us[4:] > 0).all() and resets == 0
