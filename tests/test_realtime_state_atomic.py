"""``load_state_dict`` is all or nothing: a state it refuses (a field missing, a truncated array, a
field of the wrong type) leaves the forecaster exactly as it was. Until 2026-12-05 it assigned field
by field, so a hand-made checkpoint without ``warm`` (or with a bad last scalar) left the saved
weights and ring buffer beside this forecaster's own counters: a half-loaded learner that the
runtime, which logs the refusal and "starts afresh", then kept forecasting with."""
import numpy as np
import pytest

from realtime import make_forecaster
from realtime.errors import ForecastError

N = 3


def _trace(n, phase):
    t = np.arange(n) / 10.0
    return np.stack([5 * np.sin(2 * np.pi * 0.25 * t + phase + k) + k for k in range(N)], axis=1)


def _trained(method, phase, n=160):
    f = make_forecaster(method, horizon_steps=3, lookback=6, hidden=8, n_coords=N, norm_steps=40)
    for x in _trace(n, phase):
        f.learn_one(x)
    return f


def _same(a: dict, b: dict) -> list:
    """Keys whose values differ between two state_dict()s (NaN equal to NaN)."""
    diff = []
    for k in a.keys() | b.keys():
        x, y = a.get(k), b.get(k)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (np.shape(x) == np.shape(y) and np.array_equal(x, y, equal_nan=True)):
                diff.append(k)
        elif x != y and not (isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y)):
            diff.append(k)
    return sorted(diff)


def _broken(state: dict, how: str) -> dict:
    s = dict(state)
    if how == "no warm":                # the last field read: every other one was loaded before
        del s["warm"]
    elif how == "a count that is not a number":   # a scalar that cannot be a count, after the arrays
        s["_count"] = "many"
    elif how == "truncated last array":
        last = [k for k, v in s.items() if isinstance(v, np.ndarray) and v.ndim and k != "warm"][-1]
        s[last] = s[last].ravel()[:-1]
    return s


@pytest.mark.parametrize("method", ["mix", "rls", "lms", "snap1"])
@pytest.mark.parametrize("how", ["no warm", "a count that is not a number", "truncated last array"])
def test_a_refused_state_leaves_the_forecaster_as_it_was(method, how):
    source = _trained(method, phase=0.0)
    target = _trained(method, phase=1.3, n=120)   # another stream, another point in it
    before = target.state_dict()
    assert _same(before, source.state_dict())     # the two differ, so a partial load would show
    with pytest.raises(ForecastError):
        target.load_state_dict(_broken(source.state_dict(), how))
    assert _same(target.state_dict(), before) == []
    # and it learns on as the untouched twin does
    twin = _trained(method, phase=1.3, n=120)
    for x in _trace(20, 2.0):
        target.learn_one(x)
        twin.learn_one(x)
        assert target.ready == twin.ready
        np.testing.assert_array_equal(target.predict_one(), twin.predict_one())


def test_a_missing_field_is_named_in_one_line():
    f = _trained("rls", phase=0.0)
    state = f.state_dict()
    del state["warm"], state["_hist"]
    g = _trained("rls", phase=1.0)
    with pytest.raises(ForecastError, match=r"state lacks field\(s\) _hist, warm"):
        g.load_state_dict(state)


def test_the_complete_state_still_loads_bit_identically():
    f = _trained("mix", phase=0.0)
    g = _trained("mix", phase=1.3, n=120)
    g.load_state_dict(f.state_dict())
    assert _same(g.state_dict(), f.state_dict()) == []


def test_a_refused_checkpoint_file_leaves_the_runtime_forecaster_fresh(tmp_path):
    """Through a real .npz file: the runtime logs the refusal and starts afresh, and afresh it is."""
    import json
    from streams.config import ForecasterConfig
    from streams.forecast import SourceForecaster, write_checkpoint
    cfg = ForecasterConfig(method="lms", lookback=8, horizon_steps=3, warmup_s=1.0)
    sf = SourceForecaster("couch1/markers", ["x", "y", "z"], 30.0, cfg)
    for i in range(120):
        sf.on_frame(np.sin(np.arange(3)[:, None] + i / 15), 1000.0 + i / 30, 1000.0 + i / 30)
    source, meta, arrays = sf.snapshot()
    meta = json.loads(json.dumps(meta))
    del meta["state"]["n_seen"]                      # a hand-edited checkpoint
    write_checkpoint(tmp_path, source, meta, arrays)
    fresh = SourceForecaster("couch1/markers", ["x", "y", "z"], 30.0, cfg)
    before = fresh.forecaster.state_dict()
    assert not fresh.try_restore(tmp_path) and not fresh.resumed
    assert _same(fresh.forecaster.state_dict(), before) == []   # before: the saved weights and ring, n_seen 0
