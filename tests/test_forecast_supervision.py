"""Causal vs paper supervision: which samples each forecast may depend on, and the paper loop
against a plain re-implementation of the published MATLAB iteration (predict, then update with
y(t + h) at once)."""
import numpy as np
import pytest

from realtime import ForecastError, make_forecaster
from realtime.evaluation import Protocol, run_forecaster

NORM = 300  # Protocol().norm_s at 10 Hz


def _signal(n=900, coords=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    phase = rng.uniform(0, 2 * np.pi, coords)
    return 5 * np.sin(2 * np.pi * t[:, None] / 4.0 + phase) + rng.normal(0, 0.3, (n, coords))


def _run(X, method, h, supervision, **config):
    cfg = {"lookback": 6, "hidden": 12, "lr": 0.02, **config}
    P, _, _ = run_forecaster(X, method, h, cfg, 0, len(X), Protocol(supervision=supervision), 600)
    return P


H, J = 5, 600  # horizon of the dependency tests; the input changes from sample J on


def _with_and_without_change(method, supervision):
    """Forecasts of the signal and of the same signal shifted by 3 from sample J on."""
    X = _signal()
    Y = X.copy()
    Y[J:] += 3.0
    return _run(X, method, H, supervision), _run(Y, method, H, supervision)


@pytest.mark.parametrize("method", ["lms", "snap1", "uoro"])
def test_causal_forecast_never_sees_the_future(method):
    """Causal: the forecast of X[k] (made at k - h) is unchanged by any change from k - h + 1 on."""
    h, j = H, J
    P, Q = _with_and_without_change(method, "causal")
    np.testing.assert_array_equal(P[:j + h], Q[:j + h])
    assert not np.allclose(P[j + h:], Q[j + h:])


@pytest.mark.parametrize("method", ["lms", "snap1", "uoro"])
def test_paper_forecast_uses_targets_early(method):
    """Paper: the forecast of X[k] already depends on X[k - 1], h - 1 samples after it was due."""
    j = J
    P, Q = _with_and_without_change(method, "paper")
    np.testing.assert_array_equal(P[:j + 1], Q[:j + 1])  # X[k] itself is never used for its forecast
    assert not np.allclose(P[j + 1], Q[j + 1])  # ...but X[k - 1] is, which causal could not


def _matlab_lms_loop(X, h, L, lr, clip):
    """Pohl et al.'s loop for LMS, written from the paper: z-score on the first 30 s, input =
    L frames + bias, predict y(t + h) with the current weights, then update with it at once."""
    mu, sd = X[:NORM].mean(0), X[:NORM].std(0)
    Z = (X - mu) / sd
    n, m = X.shape[1], X.shape[1] * L + 1
    W = np.zeros((n, m))
    P = np.full_like(X, np.nan)
    for t in range(L - 1, len(X) - h):
        u = np.append(Z[t - L + 1:t + 1].reshape(-1), 1.0)
        y = W @ u
        P[t + h] = y * sd + mu
        e = y - Z[t + h]
        norm = np.sqrt(e @ e) * np.sqrt(u @ u)
        W -= lr * (clip / norm if norm > clip else 1.0) * np.outer(e, u)
    return P


def test_paper_lms_equals_the_published_loop():
    X, h, L, lr = _signal(coords=2), 4, 6, 0.02
    P = _run(X, "lms", h, "paper", lookback=L, lr=lr)
    ref = _matlab_lms_loop(X, h, L, lr, Protocol(supervision="paper").effective_clip)  # the published 100
    np.testing.assert_allclose(P[NORM:], ref[NORM:], rtol=1e-9, atol=1e-9)


def test_linreg_and_last_score_the_same_in_both_modes():
    X = _signal()
    for method in ("linreg", "last"):
        np.testing.assert_array_equal(_run(X, method, 3, "causal")[NORM:], _run(X, method, 3, "paper")[NORM:])


def test_train_forecast_is_none_until_a_step_trains_and_after_a_missing_sample():
    f = make_forecaster("snap1", horizon_steps=2, lookback=3, hidden=5, norm_steps=5, n_coords=1, max_gap_steps=3)
    seen = []
    for x in [0.0, 1.0, 0.5, -0.5, 0.2, 0.7, 0.1, np.nan, 0.3]:
        f.learn_one([x])
        seen.append(f.train_forecast() is not None)
    # 5 warm-up samples replayed at the 5th: the window (3) + horizon (2) fills then
    assert seen == [False, False, False, False, True, True, True, False, True]


def test_unknown_supervision_is_refused():
    with pytest.raises(ForecastError, match="causal, paper"):
        Protocol(supervision="oracle")


def test_paper_mode_uses_the_published_clip_and_dni_rate():
    from realtime.evaluation import PAPER_CLIP, PAPER_SG_LR

    assert Protocol(supervision="paper").effective_clip == PAPER_CLIP == 100.0
    assert Protocol().effective_clip == 2.0 and Protocol(clip=5.0, supervision="paper").effective_clip == 5.0
    X = _signal()
    cfg = {"lookback": 4, "hidden": 6, "lr": 0.02}
    a, _, _ = run_forecaster(X, "dni", 2, cfg, 0, X.shape[0], Protocol(supervision="paper"), 600)
    b, _, _ = run_forecaster(X, "dni", 2, {**cfg, "sg_lr": PAPER_SG_LR}, 0, X.shape[0],
                             Protocol(supervision="paper", clip=100.0), 600)
    np.testing.assert_array_equal(a, b)
    c, _, _ = run_forecaster(X, "dni", 2, {**cfg, "sg_lr": 0.02}, 0, X.shape[0], Protocol(supervision="paper"), 600)
    assert not np.array_equal(a[NORM:], c[NORM:])
