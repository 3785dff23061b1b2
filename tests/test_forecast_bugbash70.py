"""Bug bash 70 of the live forecast path (real :class:`streams.forecast_worker.ForecastWorker`): every hold
says why. A marker stream whose device clock jumped minutes ahead was held as ``stale_input`` with no
``detail`` (nothing told the clock), and so were a stale backlog, the samples of a window that refills
after a hole and a frozen tracker."""
import time

import numpy as np

from streams.config import ForecasterConfig
from streams.forecast_worker import ForecastWorker
from test_forecast_silence import _Stats   # the runtime's counters, as the worker updates them

FS = 30.0


def _worker():
    cfg = ForecasterConfig(method="rls", horizon_steps=2, lookback=4, warmup_s=0.5, recover_steps=3,
                           stale_s=30.0, max_frozen_s=0.3, max_input_age_s=1.0)   # 1 s: a loaded machine's live samples stay fresh
    sent = []
    return ForecastWorker(cfg, lambda topic, header, array=None: sent.append((topic, header))), sent


def _x(t):
    return np.array([[10 * np.sin(1.5 * t)], [5 * np.cos(1.5 * t)], [2 * np.sin(t)]], np.float32)


def _send(worker, t, x=None):
    worker.submit(_Stats(), "couch1/markers", ["m_x", "m_y", "m_z"], FS, t, _x(t) if x is None else x, time.time())


def test_every_hold_says_why_clock_ahead_backlog_gap_and_frozen():
    worker, sent = _worker()
    t0 = time.time() - 3.0
    for i in range(25):   # a backlog 3 s old: stale, learnt from
        _send(worker, t0 + i / FS)
    t0 = time.time()
    for i in range(45):   # then live samples, each when its device time comes: forecasts
        time.sleep(max(0.0, t0 + i / FS - time.time()))
        _send(worker, t0 + i / FS)
    assert sent[-1][0] == "fcst/couch1"
    stale = [h for _, h in sent if h.get("reason") == "stale_input"]
    assert stale and all("s old, over max_input_age_s (1000 ms)" in h["detail"] for h in stale), stale[0]
    warm = [h for _, h in sent if h.get("reason") == "warm_up"]
    assert warm and all("warmup_s (0.5 s)" in h["detail"] for h in warm)
    del sent[:]
    now = time.time()
    for k in range(8):   # the device clock jumped two minutes ahead: held, and the hold says so
        _send(worker, now + 120.0 + k / FS)
    reasons = [h.get("reason") for _, h in sent]
    assert reasons[0] == "gap" and reasons[-1] in ("stale_input", "diverged") and "stale_input" in reasons
    assert "forecast" not in [h.get("kind") for _, h in sent]   # (under load a slow lms may also reset: a hold too)
    for _, h in sent:
        assert h.get("detail"), h
    for _, h in [(t, h) for t, h in sent if h.get("reason") == "stale_input"]:
        assert "ahead of the runtime's clock, over max_input_age_s" in h["detail"], h
        assert 119.0 < float(h["detail"].split("stamped ")[1].split(" s")[0]) < 121.0
    del sent[:]
    t = time.time() + 0.05   # a frozen tracker (one value repeated, device time back on the wall clock)
    for k in range(12):
        _send(worker, t + k / FS, _x(t))
    frozen = [h for _, h in sent if h.get("reason") == "frozen_input"]
    assert frozen and all("max_frozen_s (0.3 s)" in h["detail"] for h in frozen)
    gaps = [h for _, h in sent if h.get("reason") == "gap"]
    assert gaps and all(h.get("detail") for h in gaps)   # went back, then the window refilling
    assert all(h.get("detail") for _, h in sent if h.get("kind") == "hold")
