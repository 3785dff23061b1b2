"""``catch_up_steps``: once the scaler is fitted, the warm-up samples are replayed a few per new
sample instead of all at once (the runtime's event loop must not stop for 150 mix steps). The
learnt state must be exactly the one of the all-at-once replay, and no forecast may be made from
a state that has not seen the newest sample."""
import numpy as np
import pytest

from realtime import make_forecaster


def _signal(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    base = np.stack([np.sin(2 * np.pi * 0.25 * t), np.cos(2 * np.pi * 0.21 * t), 0.3 * np.sin(t)], axis=1)
    return base + 0.02 * rng.standard_normal(base.shape)


def _make(method, catch_up):
    return make_forecaster(method, horizon_steps=3, lookback=8, n_coords=3, norm_steps=60,
                           catch_up_steps=catch_up, max_gap_steps=4)


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    sa["config"].pop("catch_up_steps"), sb["config"].pop("catch_up_steps")
    assert sa.keys() == sb.keys()
    for k in sa:
        if isinstance(sa[k], np.ndarray):
            np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
        else:
            assert sa[k] == sb[k], k


@pytest.mark.parametrize("method", ["rls", "lms", "mix"])
def test_spread_replay_learns_exactly_what_the_all_at_once_replay_learns(method):
    x = _signal(260)
    now, spread = _make(method, 0), _make(method, 4)
    for i, xi in enumerate(x):
        now.learn_one(xi)
        before = len(spread._warm)
        spread.learn_one(xi)
        if spread._fitted and before:
            assert len(spread._warm) >= before - 4            # at most 4 old + the new one per call
        if spread._warm:
            assert not spread.ready                            # never a forecast from a stale state
            np.testing.assert_array_equal(spread.predict_one(), xi)   # the last sample, as in warm-up
    assert not spread._warm and spread.ready and now.ready
    _same_state(now, spread)
    np.testing.assert_array_equal(now.predict_one(), spread.predict_one())


def test_a_checkpoint_taken_during_the_replay_resumes_exactly():
    x = _signal(200, seed=1)
    a = _make("rls", 4)
    for xi in x[:70]:                  # fitted at 60, 10 samples into the replay
        a.learn_one(xi)
    assert a._fitted and a._warm
    b = _make("rls", 4)
    b.load_state_dict(a.state_dict())
    for xi in x[70:]:
        a.learn_one(xi)
        b.learn_one(xi)
    _same_state(a, b)


def test_a_long_gap_during_the_replay_replays_the_rest_first():
    x = _signal(220, seed=2)
    x[66:73] = np.nan                  # 7 missing > max_gap_steps 4: the window restarts
    now, spread = _make("rls", 0), _make("rls", 4)
    for i, xi in enumerate(x):
        if i == 66:
            assert spread._warm        # the gap comes while the replay is still going on
        now.learn_one(xi)
        spread.learn_one(xi)
    assert not spread._warm
    _same_state(now, spread)


def test_catch_up_steps_must_be_a_non_negative_integer():
    from realtime import ForecastError
    with pytest.raises(ForecastError):
        _make("rls", -1)
