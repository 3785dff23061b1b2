"""The ``gap`` hold's detail (streams.forecast_worker.hold_why) says what is true for this learner: where its record
of the first ``horizon_steps`` forecasts after a restart is worse than last-value's (realtime.trust._post_gap_hold),
those are held too, and the detail says so while the window fills and while they are held; where it is not, the
detail is as before. Real SourceForecaster and ForecastWorker, the first 100 s of a shared marker session (10 Hz), five
samples lost at 60, 70, 80 and 90 s (as tests/test_forecast_gap71.py: lms holds them from the third gap on)."""
import logging
import time

import numpy as np
import pytest

from conftest import shared_path
from realtime.sessions import load_sessions
from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster
from streams.forecast_worker import ForecastWorker, hold_why
from streams.metrics import StreamStats

FS, L, H = 10.0, 12, 3
GAPS = (600, 700, 800, 900)
LOST = {a + i for a in GAPS for i in range(5)}
STREAM, CHANNELS = "m/pos", [f"c{i}" for i in range(9)]
WORSE = "the first forecasts after a restart"
RECORD = {}   # sample -> the learner's record of post-restart forecasts then (squared errors, last-value's, count)


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("realtime").setLevel(logging.ERROR)
    yield
    logging.getLogger("realtime").setLevel(logging.NOTSET)


@pytest.fixture(scope="module")
def truth():
    s = load_sessions(sorted(shared_path("resp_motion").glob("*.csv")), FS)[0]
    return s.X[:1000]


def drive(truth, method, until, t0_s):
    """Every sample before ``until`` (less the lost ones) as one frame; {i: (answer, detail)} of each."""
    sf = SourceForecaster(STREAM, CHANNELS, FS, ForecasterConfig(method=method, lookback=L, horizon_steps=H,
                                                                  warmup_s=30.0, max_input_age_s=1e3))
    out = {}
    for i in range(until):
        if i in LOST:
            continue
        t = t0_s + i / FS
        kind, val = sf.on_frame(truth[i][:, None], t, t)
        out[i] = ("forecast", "") if kind == "forecast" else (val, sf.hold_detail or hold_why(sf, val, t))
        RECORD[i] = sf.forecaster._pg_rec[0].copy()
    return sf, out


def test_lms_gap_detail_says_the_first_forecasts_after_it_are_held_too(truth):
    """lms: no record at the first two gaps (their first forecasts published, the detail as before); from the third
    on the detail names the hold of the first H forecasts, while the window fills and while they are held (the old
    detail: "held until it is whole again" at every one of them). mix's detail is as before: its first forecasts
    after a gap beat last-value's and are published."""
    sf, out = drive(truth, "lms", 1000, 1.7e9)
    for a, held in zip(GAPS, (False, False, True, True)):
        e = a + 5   # first sample after the gap
        filling = [out[i] for i in range(e, e + L - 1)]
        after = [out[i] for i in range(e + L - 1, e + L - 1 + H)]
        assert all(k == "gap" and "held until it is whole again (12 samples)" in d for k, d in filling), filling
        assert out[e + L - 1 + H][0] == "forecast"
        if not held:
            assert all(k == "forecast" for k, _ in after) and not any(WORSE in d for _, d in filling), (a, after)
            continue
        assert all(d.endswith(f"then {H} more ({WORSE}: worse than holding the last position)")
                   for _, d in filling), filling
        assert [k for k, _ in after] == ["gap"] * H, after
        assert all(d.startswith("input window restarted, whole again, but the first forecasts after a restart have "
                                "been worse than holding the last position (RMS ") for _, d in after), after
        assert [d.rsplit(": ", 1)[1] for _, d in after] == ["held for 2 more samples", "held for 1 more sample",
                                                            "the last one held"], after
        assert all(len(d) <= 200 for _, d in filling + after)   # publish_hold keeps 200 characters
        ef, el, n = RECORD[e + L - 1]   # the numbers named: the learner's own record then, worse than last-value's
        assert f"(RMS {(ef / n) ** 0.5:.2g} vs {(el / n) ** 0.5:.2g} z-units)" in after[0][1] and ef > el
    _, out = drive(truth, "mix", 1000, 1.7e9)   # mix's beat last-value's: published, the detail never says otherwise
    for e in (a + 5 for a in GAPS):
        assert all(out[i][0] == "gap" and WORSE not in out[i][1] for i in range(e, e + L - 1))
        assert all(out[i][0] == "forecast" for i in range(e + L - 1, e + L + H))


def test_the_worker_publishes_it(truth):
    """Through ForecastWorker.submit (the runtime's path): the holds published on hold/m after the last gap carry
    the detail; then a forecast. The learner's history is driven as above, its last stretch comes through the
    worker at the wall clock."""
    t0 = time.time() - 150.0
    sf, _ = drive(truth, "lms", 900, t0)
    sent = []
    worker = ForecastWorker(sf.cfg, lambda topic, header, array=None: sent.append((topic, header)))
    worker.forecasters["m"] = sf
    stats = StreamStats(STREAM)
    for i in range(905, 905 + L + H):
        worker.submit(stats, STREAM, CHANNELS, FS, t0 + i / FS, truth[i][:, None].astype(np.float32), time.time())
    kinds = [h.get("reason", h["kind"]) for _, h in sent]
    assert kinds == ["gap"] * (L - 1 + H) + ["forecast"], kinds
    details = [h["detail"] for _, h in sent[:-1]]
    assert all(WORSE in d for d in details) and "whole again, but" in details[L - 1], details
    assert details[-1].endswith("the last one held") and stats.forecasts == 1 and stats.holds == L - 1 + H



def test_a_missing_sample_inside_a_frame_is_held_as_a_gap_not_warm_up():
    """A NaN in a frame's samples (a marker lost for one sample) restarts the learner's window as a hole between
    frames does; it was held as ``warm_up`` (and said "warming up") long after warm-up."""
    sf = SourceForecaster(STREAM, ["x", "y", "z"], FS, ForecasterConfig(method="rls", lookback=L, horizon_steps=H,
                                                                         warmup_s=1.0, max_input_age_s=1e3))
    t0 = 1.7e9
    sig = lambda i: np.array([10 * np.sin(i / 6.0), 5 * np.cos(i / 6.0), 0.01 * i])   # noqa: E731
    for k in range(80):   # 5-sample frames, 40 s
        x = np.stack([sig(5 * k + j) for j in range(5)], 1)
        if k == 70:
            x[1, 4] = np.nan   # the newest sample of this frame lost in one coordinate
        t = t0 + (5 * k + 4) / FS
        kind, val = sf.on_frame(x, t, t)
        if k == 69:
            assert kind == "forecast", (kind, val)
        if k == 70:
            assert (kind, val) == ("hold", "gap"), (kind, val, sf.hold_detail)
            assert "input window restarted" in hold_why(sf, val, t)
