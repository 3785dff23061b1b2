"""`forecast evaluate` holds a frozen input the way `serve` does (one rule, realtime.base.frozen_steps):
a tracker repeating one position for max_frozen_s is held and not scored, offline as live."""
import numpy as np
import pytest

from realtime.base import frozen_steps
from realtime.evaluation import Protocol, _init_worker, _test_job, run_forecaster
from realtime.metrics import forecast_metrics
from realtime.sessions import Session
from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster
from streams.forecast import frozen_steps as runtime_frozen_steps

RATE_HZ, H, L = 10.0, 3, 12
FROZEN = slice(800, 850)   # 5 s of one repeated position inside the test window (after 60 s)


def _session(frozen=True) -> Session:
    rng = np.random.default_rng(3)
    t = np.arange(1200) / RATE_HZ
    wave = np.sin(2 * np.pi * t / 4.0)
    X = np.stack([5 * wave, 2 * np.cos(2 * np.pi * t / 3.7), 100 - 3 * wave], axis=1) + rng.normal(0, 0.05, (t.size, 3))
    if frozen:
        X[FROZEN] = X[FROZEN.start - 1]   # the tracker repeats its last position
    return Session(name="frozen", X=X, t_s=t, channels=("m_x", "m_y", "m_z"), units=("mm",) * 3, groups=[[0, 1, 2]])



def _runtime_holds(X) -> np.ndarray:
    """What `serve` decides at each sample (True: hold), one sample per frame, input never stale."""
    cfg = ForecasterConfig(method="rls", horizon_steps=H, lookback=L, warmup_s=30.0, recover_steps=0)
    sf = SourceForecaster("cam/markers", ["m_x", "m_y", "m_z"], RATE_HZ, cfg)
    out = np.zeros(len(X), bool)
    for t, x in enumerate(X):
        kind, _ = sf.on_frame(x[:, None], t / RATE_HZ, t / RATE_HZ)
        out[t] = kind == "hold"
    assert sf.counts["frozen_input"] > 0
    return out


def test_offline_holds_the_frozen_stretch_as_the_runtime_does(realtime_log_level):
    s = _session()
    protocol = Protocol(rate_hz=RATE_HZ, seeds=1, select_seeds=1)
    n_test = protocol.steps(protocol.test_start_s)
    _init_worker([s])
    _, _, _, res, preds, holds = _test_job(0, "rls", H, {"lookback": L, "hidden": 1, "lr": 0.0}, [0], protocol)
    held = holds[0]   # target steps n_test.. (the forecast of step k is made at sample k - H)
    live = _runtime_holds(s.X)   # decided at sample t for target t + H
    # the same steps held, offline and live, over the whole test window
    np.testing.assert_array_equal(held, live[n_test - H:s.n_steps - H])
    start = FROZEN.start - 1 + frozen_steps(protocol.max_frozen_s, RATE_HZ) - 1   # the max_frozen_s-th repeat
    assert held[start + H - n_test:FROZEN.stop + H - n_test].all()   # held from then until it moves ...
    assert not held[:start + H - n_test].any()                      # ... not before
    assert held[FROZEN.stop + H - n_test:FROZEN.stop + H - n_test + L - 1].all()   # ... and until the window is whole
    # a held step is not scored: the metrics are those of the forecasts published
    m = forecast_metrics(s.X[n_test:], preds[0], s.groups, hold=held)
    assert res["duty"] == pytest.approx(1 - held.mean()) and res["nrmse"] == pytest.approx(m["nrmse"])


def test_max_frozen_s_zero_scores_the_stretch_and_the_rule_is_the_runtimes():
    s = _session()
    P = {}
    for fz in (2.0, 0.0):
        ready = np.zeros(s.n_steps, bool)
        P[fz], _, _ = run_forecaster(s.X, "rls", H, {"lookback": L, "hidden": 1, "lr": 0.0}, 0, s.n_steps,
                                     Protocol(rate_hz=RATE_HZ, max_frozen_s=fz), 600, ready_out=ready)
        P[fz, "held"] = ~ready[FROZEN.stop - 5]
    assert P[2.0, "held"] and not P[0.0, "held"]
    # one rule and one default: what evaluate holds is what serve holds
    cfg = ForecasterConfig()
    assert Protocol().max_frozen_s == cfg.max_frozen_s
    for fs_hz in (10.0, 25.0, 30.0, 0.4):
        assert runtime_frozen_steps(cfg, fs_hz) == frozen_steps(Protocol().max_frozen_s, fs_hz)
    with pytest.raises(Exception, match="max_frozen_s"):
        Protocol(max_frozen_s=-1.0)
