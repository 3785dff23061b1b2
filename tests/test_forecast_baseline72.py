"""The baseline check (realtime.trust.BASELINE_WINDOW/RATIO): a learner that stays worse than holding the last
position over a long window is withheld (ready False, untrusted, a divergence detail), one that beats it is not;
the verdicts agree with a NumPy twin of the rule on the forecasts and samples, and published forecasts are unchanged."""
import numpy as np

from realtime import make_forecaster
from realtime.methods import LMS
from realtime.trust import BASELINE_RATIO, BASELINE_RELEASE, BASELINE_WINDOW


class _Overshoot(LMS):
    """A learner worse than last-value, as the RNNs of the default grid at h 1: it forecasts the last sample plus
    twice the last step (overshoots every turn of the breath)."""
    method = "overshoot"

    def _predict(self, u):
        n = self.n_coords
        last, prev = u[(self.lookback - 1) * n:self.lookback * n], u[(self.lookback - 2) * n:(self.lookback - 1) * n]
        self._y[:] = last + 2.0 * (last - prev)


def _series(n=1400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    x = 8 * np.sin(2 * np.pi * t / 4.0) ** 3 + 2 * np.sin(2 * np.pi * t / 9.0) + rng.normal(0, 0.3, n)
    return np.stack([x, 0.5 * x + rng.normal(0, 0.2, n)], axis=1)


def _run(f, X, h):
    n = len(X)
    ready, made, untrusted = np.zeros(n, bool), np.full(X.shape, np.nan), np.zeros(n, bool)
    detail = ""
    for t in range(n - h):
        f.learn_one(X[t])
        ready[t + h], untrusted[t + h] = f.ready, f.untrusted
        if f._made:
            made[t + h] = f.predict_one() if f.ready else f._y * f._scale + f._center
        if f.untrusted and not detail:
            detail = f.divergence
    return ready, made, untrusted, detail


def _twin(X, made, h, window=BASELINE_WINDOW):
    """hold[k] for the forecast of X[k]: discounted squared errors of the forecasts of X[h..k-h] vs last-value's."""
    a, ef, el, w, cnt, held = 1.0 - 1.0 / window, 0.0, 0.0, 0.0, 0, False
    hold = np.zeros(len(X), bool)
    for t in range(h, len(X) - h):
        if np.isfinite(made[t]).all():
            ef, el, w = a * ef + ((made[t] - X[t]) ** 2).sum(), a * el + ((X[t - h] - X[t]) ** 2).sum(), a * w + 1
            cnt += 1
            if cnt >= window:
                r = BASELINE_RELEASE if held else BASELINE_RATIO
                held = ef > r * r * el
        hold[t + h] = held
    return hold


def _forecaster(cls_or_name, h):
    opts = dict(horizon_steps=h, lookback=4, n_coords=2, norm_steps=4, seed=0)
    if isinstance(cls_or_name, str):
        return make_forecaster(cls_or_name, **opts)
    from realtime.config import ForecasterConfig
    return cls_or_name(ForecasterConfig(**opts, lr=0.0))


def test_learner_worse_than_last_value_is_held_like_the_twin():
    X, h = _series(), 1
    ready, made, untrusted, detail = _run(_forecaster(_Overshoot, h), X, h)
    hold = _twin(X, made, h)
    late = np.arange(len(X)) >= 4 + BASELINE_WINDOW + 20   # the twin counts from the first forecast it sees
    assert hold[late].mean() > 0.9
    assert np.array_equal(~ready[late], hold[late]) and np.array_equal(untrusted[late], hold[late])
    assert "worse than holding the last position" in detail and f"last {BASELINE_WINDOW} samples" in detail
    # the runtime's learner is told its stream's rate and declared units (for the detail; the window stays 600 samples)
    from streams.config import ForecasterConfig
    from streams.forecast import SourceForecaster
    sf = SourceForecaster("m/pos", ["c0", "c1"], 20.0, ForecasterConfig(method="mix"))
    sf.units = ("mm", "mm")
    assert sf.forecaster._bl_fs_hz == 20.0 and sf.forecaster._bl_unit == "mm"
    sf.units = ("mm", "cm")   # no one unit: the detail says input units
    assert sf.forecaster._bl_unit == ""


def test_detail_in_seconds_of_the_stream_and_its_units():
    X, h = _series(), 1
    f = _forecaster(_Overshoot, h)
    f.set_stream_terms(fs_hz=20.0, unit="mm")
    ready, made, untrusted, detail = _run(f, X, h)
    hold = _twin(X, made, h)   # the same verdicts: told a rate, the window is still BASELINE_WINDOW samples
    late = np.arange(len(X)) >= 4 + BASELINE_WINDOW + 20
    assert hold[late].mean() > 0.9 and np.array_equal(untrusted[late], hold[late])
    assert f"over the last {BASELINE_WINDOW / 20:g} s: RMS" in detail and "(mm; held while over" in detail, detail


def test_baseline_and_post_restart_records_survive_a_checkpoint():
    X, h = _series(), 1
    f = _forecaster(_Overshoot, h)
    _run(f, X[:900], h)
    assert f.baseline_hold()[0]
    g = _forecaster(_Overshoot, h)
    g.load_state_dict(f.state_dict())
    assert g.baseline_hold() == f.baseline_hold() and np.array_equal(g._pg_rec, f._pg_rec)
    assert g.untrusted and not g.ready
    legacy = {k: v for k, v in f.state_dict().items() if k not in ("_bl", "_bl_hold", "_pg", "_pg2")}
    g2 = _forecaster(_Overshoot, h)
    g2.load_state_dict(legacy)   # a checkpoint from before: no record, learnt again
    assert not g2.baseline_hold()[0] and g2.ready


def test_mix_beating_last_value_is_not_held_and_published_unchanged():
    X, h = _series(seed=1), 3
    f = _forecaster("mix", h)
    ready, made, untrusted, _ = _run(f, X, h)
    assert not untrusted.any() and ready[-len(X) // 2:].all()
    held, rms, rms_last = f.baseline_hold()
    assert not held and rms < rms_last
    assert not _twin(X, made, h).any()


def test_a_checkpoint_with_another_number_of_post_restart_blocks_loads_its_common_blocks():
    """(2026-12-07 review) ``_pg_rec`` of another POST_GAP_BLOCKS: the blocks both have kept, not the whole state
    refused over its shape."""
    X, h = _series(), 1
    f = _forecaster("lms", h)
    _run(f, X[:300], h)
    f._pg_rec[:] = np.arange(f._pg_rec.size, dtype=float).reshape(f._pg_rec.shape) + 1.0
    n = len(f._pg_rec)
    for rows in (n + 2, 1):
        state = f.state_dict()
        state["_pg_rec"] = np.vstack([f._pg_rec, np.full((2, 3), 9.0)]) if rows > n else f._pg_rec[:1].copy()
        state["_pg_hold"] = rows
        g = _forecaster("lms", h)
        g.load_state_dict(state)
        k = min(rows, n)
        assert np.array_equal(g._pg_rec[:k], f._pg_rec[:k]) and not g._pg_rec[k:].any() and g._pg_hold == k
    bad = f.state_dict()
    bad["_pg_rec"] = np.zeros((n, 4))
    import pytest
    from realtime.errors import ForecastError
    with pytest.raises(ForecastError, match="_pg_rec"):
        _forecaster("lms", h).load_state_dict(bad)
