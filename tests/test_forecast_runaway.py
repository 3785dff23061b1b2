"""A runaway learner's forecast far outside the range of motion seen is withheld (a hold), never
a number, and a learner that stays out is reset (realtime.base.FORECAST_REACH): an LMS with a huge
step size on a real marker session.

Until 2026-12-06 only a training loss or a forecast distance above ``max_loss`` (1e4, i.e. ~140
z-units) reset the learner: at lr 2 on session 201205111055 LMS never reset and published
forecasts up to 40 z-units (lr 5: 224 forecasts over 50), where breathing stays within a few.
"""
import logging

import numpy as np
import pytest

from realtime import make_forecaster
from realtime.base import FORECAST_REACH
from realtime.sessions import load_sessions
from conftest import shared_path

NORM = 300   # z-score on the first 30 s at 10 Hz


def _session():
    files = sorted(shared_path("resp_motion").glob("201205111055-*.csv"))
    return load_sessions(files, 10.0)[0]


def _reach_oracle(X):
    """Per step t: the z-scored data (scaler of the first NORM valid samples, NumPy), and the
    bounds a forecast made at t may reach: the range of the samples up to t, widened on each side
    by FORECAST_REACH times its largest per-coordinate extent (at least 1 z-unit)."""
    valid = np.isfinite(X).all(axis=1)
    W = X[valid][:NORM]
    center, std = W.mean(axis=0), W.std(axis=0)
    Zv = np.where(valid[:, None], (X - center) / std, np.nan)
    lo, hi = np.fmin.accumulate(Zv, axis=0), np.fmax.accumulate(Zv, axis=0)
    reach = FORECAST_REACH * np.maximum(np.max(hi - lo, axis=1), 1.0)[:, None]
    return center, std, lo - reach, hi + reach


@pytest.mark.parametrize("lr", [2.0, 5.0])
def test_huge_step_lms_is_reset_and_never_publishes_a_runaway_forecast(lr, caplog):
    s = _session()
    center, std, low, high = _reach_oracle(s.X)
    f = make_forecaster("lms", horizon_steps=5, lookback=12, lr=lr, seed=0, n_coords=s.X.shape[1], norm_steps=NORM)
    published, outside, after_reset = 0, 0, 0
    with caplog.at_level(logging.WARNING, logger="realtime"):
        for t in range(s.n_steps):
            f.learn_one(s.X[t])
            y = f.predict_one()
            if not f.ready:
                continue
            published += 1
            after_reset += f.n_resets > 0
            yz = (y - center) / std
            outside += bool(((yz < low[t] - 1e-9) | (yz > high[t] + 1e-9)).any())
    assert outside == 0   # the old code published 609 (lr 2) / 663 (lr 5) forecasts over 10 z-units
    assert f.n_resets >= 1 and "outside the range seen" in caplog.text
    assert published > 0 and after_reset > 0   # it forecasts again after a reset, as after any divergence


def test_an_overshoot_is_withheld_and_the_learner_learns_on():
    """RLS (forget 0.999, init_reg 0.1, h 15) overshoots once right after its warm-up on this
    session: that forecast is withheld, not published, and the model is kept (a reset threw away
    what it had learnt: its selection nRMSE went from 0.62 to 1.08), so it forecasts on."""
    s = _session()
    center, std, low, high = _reach_oracle(s.X)
    f = make_forecaster("rls", horizon_steps=15, lookback=12, seed=0, n_coords=s.X.shape[1], norm_steps=NORM,
                        forget=0.999, init_reg=0.1)
    withheld = []
    for t in range(s.n_steps):
        f.learn_one(s.X[t])
        if f.out_of_range:
            assert not f.ready and "outside the range seen" in f.divergence
            withheld.append(t)
        elif f.ready:
            z = (f.predict_one() - center) / std
            assert ((z >= low[t] - 1e-9) & (z <= high[t] + 1e-9)).all()
    assert 1 <= len(withheld) <= 3 and f.n_resets == 0


def test_usual_settings_are_never_reset_on_a_real_session():
    """The check must not touch a learner that behaves: LMS at its usual rate, RLS and mix."""
    s = _session()
    for method, lr in (("lms", 0.01), ("rls", 0.0), ("mix", 0.0)):
        for h in (1, 11, 21):
            f = make_forecaster(method, horizon_steps=h, lookback=12, lr=lr, seed=0, n_coords=s.X.shape[1],
                                norm_steps=NORM)
            for t in range(s.n_steps):
                f.learn_one(s.X[t])
            assert f.n_resets == 0, (method, h, f.divergence)


def test_range_is_checkpointed_and_rebuilt_from_an_older_checkpoint():
    rng = np.random.default_rng(0)
    X = np.cumsum(rng.normal(size=(200, 3)), axis=0)
    f = make_forecaster("lms", horizon_steps=2, lookback=4, lr=0.01, n_coords=3, norm_steps=50)
    for x in X[:150]:
        f.learn_one(x)
    state = f.state_dict()
    g = f.clone()
    g.load_state_dict(state)
    np.testing.assert_array_equal(g._lo, f._lo)
    old = {k: v for k, v in state.items() if k not in ("_lo", "_hi")}   # saved before the range existed
    g = f.clone()
    g.load_state_dict(old)
    ring = (X[150 - f._cap:150] - f._center) / f._scale   # the samples still in the ring
    np.testing.assert_allclose(g._lo, ring.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(g._hi, ring.max(axis=0), rtol=1e-12)
    for x in X[150:]:
        f.learn_one(x)
        g.learn_one(x)
    np.testing.assert_array_equal(g.predict_one(), f.predict_one())
