"""The runtime's forecaster of one source (streams.forecast.SourceForecaster) fed a real marker
session frame by frame: a runaway learner (LMS, huge step size) is answered by ``diverged`` holds
that say why, never by a forecast far outside the range of motion seen."""
import numpy as np

from realtime.base import FORECAST_REACH
from realtime.sessions import load_sessions
from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster
from conftest import shared_path

FS = 10.0


def test_runaway_forecasts_are_diverged_holds_with_a_reason():
    files = sorted(shared_path("resp_motion").glob("201205111055-*.csv"))
    s = load_sessions(files, FS)[0]
    cfg = ForecasterConfig(method="lms", lr=2.0, horizon_steps=5, lookback_s=1.2, warmup_s=30.0, recover_steps=5)
    sf = SourceForecaster("couch1/markers", s.channels, FS, cfg)
    W = s.X[:300]   # the scaler's samples (no gap in this session), NumPy
    center, std = W.mean(axis=0), W.std(axis=0)
    answers = []
    for t in range(s.n_steps):
        t_s = t / FS
        kind, value = sf.on_frame(s.X[t][:, None], t_s, t_s)   # one sample per frame, received at once
        Z = (s.X[:t + 1] - center) / std
        lo, hi = Z.min(axis=0), Z.max(axis=0)
        reach = FORECAST_REACH * max(float(np.max(hi - lo)), 1.0)
        if kind == "forecast":
            z = (value - center) / std
            answers.append(("forecast", bool(((z < lo - reach - 1e-9) | (z > hi + reach + 1e-9)).any())))
        else:
            answers.append((value, sf.hold_detail))
    outside = sum(1 for kind, out in answers if kind == "forecast" and out)
    assert outside == 0   # before 2026-12-06: 550 of these forecasts were published (up to 40 z-units)
    # each runaway forecast is withheld while the learner learns on; one that stays out for a whole
    # window resets it (then held recover_steps samples, the first hold naming the reset)
    details = [d for kind, d in answers if kind == "diverged" and d]
    assert all(d.startswith(("forecast withheld: forecast ", "learner reset: forecast ")) and
               d.endswith(("outside the range seen", "samples in a row")) for d in details)
    assert any(d.startswith("forecast withheld") for d in details)
    assert any(d.startswith("learner reset") for d in details) and sf.forecaster.n_resets > 0
    assert sf.counts["diverged"] > 0 and any(kind == "forecast" for kind, _ in answers)
