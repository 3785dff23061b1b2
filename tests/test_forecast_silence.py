"""A marker source that falls silent is held as soon as its standing forecast's input is too old.

A consumer acts on a source's last forecast until a hold comes (docs/protocol.md). The runtime
publishes a forecast only from input younger than ``max_input_age_s`` (default 200 ms), but the no-input
timer's first hold came only after ``stale_s`` (1 s): a couch whose tracker stopped kept its last
forecast, made from input up to a second old, standing for a second. Now the timer holds once the
next frame is overdue by ``max_input_age_s``. (Direct ForecastWorker calls, no sockets: the only
timing is a sleep, which can only last longer than asked.)
"""
import time

import numpy as np
import pytest

from streams.config import ForecasterConfig
from streams.forecast_worker import ForecastWorker

pytestmark = pytest.mark.serial   # sleeps judged against the no-input timer (tests/conftest.py)

FS = 10.0


class _Stats:
    holds = 0
    forecasts = 0

    class output_ms:   # noqa: N801 - the runtime's latency histogram, add() only
        @staticmethod
        def add(_):
            pass


def _worker(**over):
    cfg = ForecasterConfig(**{"method": "lms", "horizon_steps": 2, "lookback": 4, "warmup_s": 0.3,
                              "recover_steps": 5, "stale_s": 30.0, "max_input_age_s": 0.5, **over})
    sent = []
    return ForecastWorker(cfg, lambda topic, header, array=None: sent.append((topic, header, array))), sent


def _feed(worker, n):
    """n one-sample frames, frame i stamped (n - 1 - i) / FS before its submission: the first ones are
    old (held as stale_input, learnt from), the last ones fresh (max_input_age_s 0.5 s: a machine
    that stalls for less than that still forecasts)."""
    for i in range(n):
        x = np.array([[np.sin(0.6 * i)], [np.cos(0.6 * i)], [0.5 * np.sin(0.6 * i)]], np.float32)
        t0 = time.time() - (n - 1 - i) / FS    # at least 1 / FS after the previous one (a late frame: a gap)
        worker.submit(_Stats(), "couch1/markers", ["m_x", "m_y", "m_z"], FS, t0, x, time.time())


def test_silent_source_is_held_before_stale_s():
    worker, sent = _worker()
    _feed(worker, 40)
    assert sent[-1][0] == "fcst/couch1"        # forecasting when the tracker stops
    time.sleep(1.5)                            # the next frame is overdue by more than max_input_age_s
    worker.tick()
    holds = [h for topic, h, _ in sent if topic == "hold/couch1" and "no input" in h.get("detail", "")]
    assert len(holds) == 1 and holds[0]["reason"] == "gap"
    assert worker.forecasters["couch1"].state == "hold"
    worker.tick()                              # once, not a hold every tick: the next after stale_s
    assert len([1 for topic, h, _ in sent if topic == "hold/couch1" and "no input" in h.get("detail", "")]) == 1


def test_a_source_already_held_gets_no_extra_hold():
    """Only a standing forecast needs withdrawing: a source in warm-up is held already."""
    worker, sent = _worker(warmup_s=30.0)
    _feed(worker, 5)
    assert sent[-1][1]["reason"] == "warm_up"
    time.sleep(1.5)
    worker.tick()
    assert all("no input" not in h.get("detail", "") for _, h, _ in sent)
