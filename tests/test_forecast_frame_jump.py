"""A marker that swaps to another coordinate frame (a 50 mm step between two samples) is a hold,
never a number: the step is taken as a new origin, the input window restarts and the forecaster holds
until it is whole and the model has learnt a target after the step (realtime.base.Forecaster._on_jump).
Until then a window joining both sides was extrapolated: mix published forecasts 51 mm off after the
step on session 201205181211, LMS 139 mm."""
import numpy as np
import pytest

from realtime import make_forecaster
from realtime.config import frozen_steps
from realtime.sessions import load_sessions
from streams.config import ForecasterConfig
from conftest import shared_path
from test_streams_helpers import marker_forecast_frames

STEP_MM = 50.0


def _run(method, X, h, lookback, f=None, start=0):
    """Published forecasts (t -> forecast of X[t + h]) from step ``start``, the steps held, the
    forecaster (``f``, else a new one)."""
    f = f or make_forecaster(method, horizon_steps=h, lookback=lookback, n_coords=X.shape[1], norm_steps=300,
                             max_frozen_steps=frozen_steps(2.0, 10.0))
    out, held = {}, []
    for t in range(start, len(X) - h):
        f.learn_one(X[t])
        if f.ready:
            out[t] = f.predict_one()
        else:
            held.append(t)
    return out, held, f


@pytest.mark.parametrize("method", ["mix", "lms"])
def test_a_50_mm_step_is_held_then_forecast_at_the_new_origin(method):
    files = sorted(shared_path("resp_motion").glob("201205181211-*.csv"))
    X = load_sessions(files, 10.0)[0].X
    k0, h, L = 1500, 5, 12
    Y = X.copy()
    Y[k0:, 0] += STEP_MM                       # marker 1's x: another coordinate frame from sample k0 on
    base, _, f0 = _run(method, X, h, L)
    got, held, f = _run(method, Y, h, L)
    # held from the step until a whole window and one target after it (L + h samples)
    assert set(range(k0, k0 + L + h - 1)) <= set(held)
    after = [t for t in got if k0 <= t < k0 + 600]
    err = max(float(np.max(np.abs(got[t] - Y[t + h]))) for t in after)
    err0 = max(float(np.max(np.abs(base[t] - X[t + h]))) for t in after if t in base)
    # as close to the moved truth as the unmoved session's forecasts are to theirs (mix 5.9 / 5.8 mm,
    # LMS 8.0 / 8.4); before: 50.8 mm (mix) and 138.6 mm (LMS) within 1 s of the step
    assert err <= 1.5 * err0, (err, err0)
    assert f0.n_jumps == 0 and f.n_jumps == 1  # the real session has no such jump


def test_the_runtime_holds_a_frame_change_over_zeromq():
    fs, n, k0 = 10.0, 160, 110
    t = np.arange(n) / fs
    x = np.stack([5 * np.sin(2 * np.pi * 0.25 * t + k) for k in range(3)])
    x[0, k0:] += STEP_MM
    fc = ForecasterConfig(method="lms", horizon_steps=2, lookback=4, warmup_s=3.0, recover_steps=5, stale_s=5.0,
                          max_input_age_s=30.0)   # generous: this test is about values, not timing
    frames = marker_forecast_frames(x, fs, fc)
    jump = frames[k0]
    assert jump.kind == "hold" and jump.header["reason"] == "gap" and "input jumped" in jump.header["detail"]
    assert all(frames[i].kind == "hold" for i in range(k0, k0 + 4 + 2 - 1))   # window and first target
    late = [i for i in range(k0, n - 2) if frames[i].kind == "forecast"]
    assert late, "forecasting resumes at the new origin"
    for i in late:   # each forecast near the moved truth (before: the step extrapolated, 40+ mm off)
        assert np.max(np.abs(frames[i].array - x[:, i + 2])) < 0.2 * STEP_MM, i
