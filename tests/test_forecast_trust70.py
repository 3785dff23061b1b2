"""Trust of the realised errors (realtime.trust) and the refit after a run of resets, through the
runtime's per-source state machine (streams.forecast.SourceForecaster) and real forecasters."""
import logging

import numpy as np
import pytest

from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster

FS = 30.0
T0 = 1.7e9


def truth(t):
    return np.array([10 * np.sin(2 * np.pi * 0.25 * t), 5 * np.cos(2 * np.pi * 0.25 * t), 2 * np.sin(t)])


def drive(cfg, signal, seconds):
    """Answers of every sample, one frame each: (t, "forecast" or the hold reason, forecast, detail)."""
    sf = SourceForecaster("m/pos", ["x", "y", "z"], FS, cfg)
    out = []
    for i in range(int(seconds * FS)):
        t = i / FS
        kind, val = sf.on_frame(signal(t)[:, None], T0 + t, T0 + t)
        out.append((t, "forecast" if kind == "forecast" else val, val if kind == "forecast" else None, sf.hold_detail))
    return sf, out


def errors(out, signal, h, t_from, t_to=1e9):
    return np.array([np.abs(p - signal(t + h / FS)).max() for t, k, p, _ in out
                     if k == "forecast" and t_from <= t < t_to])


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("realtime").setLevel(logging.ERROR)
    yield
    logging.getLogger("realtime").setLevel(logging.NOTSET)


def test_clean_breathing_keeps_forecasting():
    for method in ("mix", "lms"):
        sf, out = drive(ForecasterConfig(method=method), truth, 40)
        assert sf.forecaster.n_untrusted == 0 and sf.forecaster.n_refits == 0
        assert all(k == "forecast" for t, k, _, _ in out if t >= 8), method


def test_units_to_metres_lms_flipping_forecasts_are_held():
    """mm -> m at 20 s: the old code published forecasts 0.4-4 off a marker moving by 0.01 (inside the
    range of motion seen) for the rest of the session; held as diverged by the trust check (2026-12-07), since
    71 caught at the switch itself (realtime.scale_switch: the scaler rescaled, a gap hold naming the units)."""
    cfg = ForecasterConfig(method="lms", horizon_steps=3, lookback=8, warmup_s=0.5)
    sig = lambda t: truth(t) * (0.001 if t >= 20 else 1.0)   # noqa: E731
    sf, out = drive(cfg, sig, 35)
    late = errors(out, sig, 3, 23)
    assert late.size == 0 or late.max() < 0.05, late.max()
    assert any(k == "gap" and "input units switched" in d for t, k, _, d in out if t >= 20)


def test_drift_lms_large_errors_held():
    """A 50 mm drift over 60 s: default lms published errors of up to 12 mm from 60 s on (last-value 1.65 mm);
    once its recent RMS error is 3 x last-value's (about 57 s here) it is held for as long as the drift lasts."""
    sig = lambda t: truth(t) + np.array([50.0 * min(max(t - 10, 0), 60) / 60, 0, 0])   # noqa: E731
    sf, out = drive(ForecasterConfig(method="lms"), sig, 75)
    assert errors(out, sig, 3, 10, 55).max() < 10.0
    assert errors(out, sig, 3, 60).size == 0   # the old code: 9-12 mm off here
    assert sf.forecaster.n_untrusted > 300


def test_units_to_millimetres_refits_and_recovers_without_publishing_between():
    """m -> mm (1000 x) at 20 s: the scaler fitted in metres made every sample reset the learner, held
    forever; a window of resets in a row now refits it, and forecasts resume after warm-up + window."""
    cfg = ForecasterConfig(method="lms", horizon_steps=3, lookback=8, warmup_s=0.5)
    sig = lambda t: truth(t) * (1.0 if t >= 20 else 0.001)   # noqa: E731
    sf, out = drive(cfg, sig, 30)
    f = sf.forecaster
    assert f.n_refits >= 1
    after = [(t, k) for t, k, _, _ in out if t >= 20]
    first = next(t for t, k in after if k == "forecast")
    assert first - 20 <= 0.5 + 2 * (8 + 3) / FS + 1.0, first   # warm-up + a window or two, 1 s of slack
    assert all(k != "forecast" for t, k in after if t < first)
    late = errors(out, sig, 3, 20)
    assert late.max() < 5.0, late.max()   # mm-scale motion (10 mm), forecast like before the switch
    assert sum(k == "forecast" for t, k in after if t >= 25) >= 0.9 * 5 * FS


def test_state_round_trip_keeps_trust():
    sig = lambda t: truth(t) + np.array([50.0 * min(max(t - 10, 0), 60) / 60, 0, 0])   # noqa: E731
    sf, _ = drive(ForecasterConfig(method="lms"), sig, 40)
    f = sf.forecaster
    g = f.clone()
    g.load_state_dict(f.state_dict())
    assert g.untrusted == f.untrusted and g.n_untrusted == f.n_untrusted
    for i in range(60):
        x = sig(40 + i / FS)
        f.learn_one(x), g.learn_one(x)
        assert f.ready == g.ready and np.array_equal(f.predict_one(), g.predict_one())


def test_the_status_counts_untrusted_forecasts_and_refits():
    """`biosig status`'s forecaster entry (ForecastWorker.describe) says how many forecasts the realised-error
    check withheld and how many refits a run of resets made: a `diverged` hold alone does not tell them apart.
    (The sources are driven sample by sample as above: a worker learns a backlog at most at real time.)"""
    from streams.forecast_worker import ForecastWorker
    cfg = ForecasterConfig(method="lms", horizon_steps=3, lookback=8, warmup_s=0.5)
    worker = ForecastWorker(cfg, lambda topic, header, array=None: None)
    drift = lambda t: truth(t) + np.array([50.0 * min(max(t - 10, 0), 60) / 60, 0, 0])   # noqa: E731
    drifted, _ = drive(ForecasterConfig(method="lms"), drift, 62)   # held by the trust check from about 57 s
    to_mm, _ = drive(cfg, lambda t: truth(t) * (1.0 if t >= 20 else 0.001), 30)
    worker.forecasters.update(m=drifted, mm=to_mm)
    status = worker.describe()
    assert status["m"]["untrusted"] == drifted.forecaster.n_untrusted > 0 and status["m"]["refits"] == 0, status["m"]
    assert status["mm"]["refits"] == to_mm.forecaster.n_refits >= 1, status["mm"]
