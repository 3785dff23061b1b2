"""Hyperparameter selection scores only published forecasts (the test metrics' rule), and a
configuration cannot win by holding (realtime.evaluation.selection_scores)."""
import numpy as np
import pytest

from realtime import evaluation as ev
from realtime.evaluation import DUTY_SLACK, Protocol, evaluate, selection_scores
from realtime.sessions import Session

GAPS = range(100, 200, 20)   # one missing step every 2 s through the selection window (10-20 s)


def _gapped_session(n=320, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    x = 5 * np.sin(2 * np.pi * t / 3.7) + 0.2 * rng.normal(size=n)
    X = np.stack([x, 0.5 * x + 0.1 * rng.normal(size=n)], axis=1)
    X[list(GAPS)] = np.nan
    return Session("gapped", X, t, ("m_x", "m_y"), ("mm", "mm"), [[0, 1]])


def test_a_configuration_that_holds_through_the_selection_window_is_not_chosen(monkeypatch):
    """After each missing step the input window restarts: lookback 2.5 s (25 steps) never fills
    again between the gaps 20 steps apart, so that configuration holds through the whole window
    (its selection nRMSE is NaN: no forecast to score). Listed first, it would be what a bare
    argmin over NaN picks; the 0.4 s window is chosen, and its duty is the share of the window's
    scored steps whose 4 preceding samples are all valid (NumPy, from the gap positions)."""
    grid = {**ev.GRIDS["default"], "lms": ([2.5, 0.4], [1], [0.01])}
    monkeypatch.setitem(ev.GRIDS, "gappy", grid)
    pr = Protocol(norm_s=10, select_start_s=10, test_start_s=20)
    s = _gapped_session()
    rep = evaluate([s], ["lms"], [1], pr, grid="gappy", workers=1)
    res = rep["results"]["gapped"]["lms"]["1"]
    assert res["lookback"] == 4
    valid = np.isfinite(s.X).all(axis=1)
    k = np.arange(100, 200)[valid[100:200]]   # scored targets of the selection window
    published = np.array([valid[j - 4:j].all() for j in k])
    assert res["selection_duty"] == pytest.approx(published.mean(), abs=1e-12)
    assert 0.5 < res["selection_duty"] < 1.0 and np.isfinite(res["selection_nrmse"])


def test_selection_scores_leave_out_configurations_that_win_by_holding():
    nrmse = [0.20, 0.50, np.nan, 0.40, 0.45]
    duty = [0.30, 1.00, 0.00, 1.00 - DUTY_SLACK, 1.00 - DUTY_SLACK - 0.01]
    score = selection_scores(nrmse, duty)
    assert score.tolist() == [np.inf, 0.50, np.inf, 0.40, np.inf]
    assert int(np.argmin(score)) == 3   # the lowest error among those that forecast about as often
    assert selection_scores([np.nan, np.inf], [0.0, 1.0]).tolist() == [np.inf, np.inf]
