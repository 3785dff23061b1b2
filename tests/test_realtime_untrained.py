"""No forecast from a model that has not learnt a single target.

The first target of a forecaster arrives ``lookback + horizon_steps`` samples after its scaler fit
(the window that ends ``horizon_steps`` before it). With a horizon longer than the warm-up, the
input window was full - ``ready`` True - long before: the untrained weights' output (RLS, LMS,
RNNs: about the warm-up mean) was handed out as a forecast, 10 mm off on a real session at h = 6 s
in ``biosig serve`` (warm-up 5 s at 10 Hz).
"""
import numpy as np
import pytest

from realtime import make_forecaster

L, H, NORM = 5, 30, 10


def _trace(n=200):
    t = np.arange(n) / 10.0
    return np.stack([5 * np.sin(2 * np.pi * t / 4), 2 * np.cos(2 * np.pi * t / 4), 100 + t / 50], axis=1)


@pytest.mark.parametrize("method", ["rls", "lms", "snap1", "mix", "rtrl", "uoro", "dni", "linreg"])
def test_no_forecast_before_the_first_training_step(method):
    f = make_forecaster(method, horizon_steps=H, lookback=L, hidden=4, lr=0.01, seed=0, n_coords=3,
                        norm_steps=NORM, fit_steps=60)
    ready, made = [], []
    for x in _trace():
        f.learn_one(x)
        ready.append(f.ready)
        made.append(f.ready or f.out_of_range)   # a forecast exists (withheld when far out of range)
    first = int(np.argmax(made))
    assert first == L + H - 1      # sample L + H is the first whose window's target is known
    assert all(made[first:]) and not any(ready[:first])
    # rls's first forecast here (1 s of warm-up, h 3 s) is -16.5 z-units where the drifting third
    # coordinate is at +20.7: withheld as far out of the range seen, not published
    assert sum(r != m for r, m in zip(ready, made)) <= 1


def test_last_needs_no_training():
    f = make_forecaster("last", horizon_steps=H, lookback=L, n_coords=3, norm_steps=NORM)
    ready = []
    for x in _trace(50):
        f.learn_one(x)
        ready.append(f.ready)
    assert int(np.argmax(ready)) == NORM - 1


def test_after_a_reset_the_next_training_step_comes_first():
    """A reset re-initialises the weights; the sample after it trains before it predicts, so the
    forecaster is ready again at once (no extra hold), with a trained model."""
    f = make_forecaster("rls", horizon_steps=3, lookback=L, n_coords=3, norm_steps=NORM)
    X = _trace()
    for x in X[:60]:
        f.learn_one(x)
    assert f.ready
    f.learn_one(X[60] + 1e6)           # absurd sample: the training step diverges, the model resets
    assert f.diverged and not f.ready
    ready = []
    for x in X[61:90]:
        f.learn_one(x)
        ready.append(f.ready)
    assert ready[-1]


def test_checkpoint_without_the_flag_still_loads():
    """A state saved before the flag existed loads; the forecaster is ready after its next step."""
    f = make_forecaster("rls", horizon_steps=3, lookback=L, n_coords=3, norm_steps=NORM)
    X = _trace()
    for x in X[:60]:
        f.learn_one(x)
    state = {k: v for k, v in f.state_dict().items() if k != "_learnt"}
    g = make_forecaster("rls", horizon_steps=3, lookback=L, n_coords=3, norm_steps=NORM)
    g.load_state_dict(state)
    assert not g.ready
    f.learn_one(X[60])
    g.learn_one(X[60])
    assert g.ready and np.array_equal(f.predict_one(), g.predict_one())
