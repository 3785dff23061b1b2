"""A marker that switches from millimetres to metres mid-stream (realtime.scale_switch): its forecasts are held until
the learner works in the new units, never published in the old ones, and those published after are the ones of a
learner that always had metres; a runtime whose marker stream declares other units starts a fresh forecaster.

Until 2026-12-07 (3 coordinates at 0/100/200 mm moving 10-30 mm at 10 Hz, lookback 5, h 3): lms published 34
forecasts after the switch, every one off by 21 to 2,900 times the motion; mix 45-91 (up to 467 times), rls 3-6."""
import logging
import time

import numpy as np
import pytest

from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster
from streams.publisher import Publisher
from test_streams_helpers import config, running, wait_for

T0, FS, AMP = 1.7e9, 10.0, 30.0


def _cfg(method):
    return ForecasterConfig(method=method, horizon_steps=3, lookback=5, warmup_s=1.0, recover_steps=3, stale_s=30.0,
                            max_input_age_s=0.5)


def _sig(i, scale=1.0, shift=0.0):
    t = i / FS
    return np.array([(k + 1) * 10 * np.sin(2 * np.pi * 0.25 * t + k) + 100 * k + shift for k in range(3)]) * scale


def _drive(method, switch_at, scale=1e-3, shift=0.0, n=420):
    """A SourceForecaster fed 300 samples in mm, then (from ``switch_at``: 300 no hole, 310 after a 10-sample hole)
    the same motion times ``scale`` (plus ``shift`` mm); its answers {i: (kind, value, detail)} after the switch."""
    sf = SourceForecaster("couch1/markers", "xyz", FS, _cfg(method))
    for i in range(300):
        sf.on_frame(_sig(i)[:, None], T0 + i / FS, T0 + i / FS)
    out = {}
    for i in range(switch_at, n):
        k, v = sf.on_frame(_sig(i, scale, shift)[:, None], T0 + i / FS, T0 + i / FS)
        out[i] = (k, v, sf.hold_detail)
    return sf, out


def _metres_throughout(sf, switch_at, n=420):
    """The oracle: a fresh learner of the same configuration fed the stream in metres from the start, with one
    missing sample before ``switch_at`` (a window restart there, as the switch makes); its forecasts {i: value}."""
    f = type(sf.forecaster)(sf.forecaster.config)
    fc = {}
    for i in [*range(300), None, *range(switch_at, n)]:
        f.learn_one(np.full(3, np.nan) if i is None else _sig(i, 1e-3))
        if i is not None and f.ready:
            fc[i] = f.predict_one()
    return fc


@pytest.mark.parametrize("switch_at", [300, 310], ids=["no_hole", "after_hole"])
@pytest.mark.parametrize("method", ["lms", "mix", "rls"])
def test_forecasts_after_a_switch_to_metres_are_held_then_right(method, switch_at):
    sf, out = _drive(method, switch_at)
    kind, reason, detail = out[switch_at]
    assert (kind, reason) == ("hold", "gap")
    assert "input units switched" in detail and "0.001" in detail and "millimetres to metres" in detail
    assert sf.forecaster.n_jumps == 1 and sf.forecaster.n_resets == 0
    published = {i: v for i, (k, v, _) in out.items() if k == "forecast"}
    errors = np.array([np.abs(v - _sig(i + 3, 1e-3)).max() / (AMP * 1e-3) for i, v in published.items()])
    assert (errors <= 1.0).all(), errors.max()          # before: up to 2,900 x the motion
    held = [i for i, (k, _, _) in out.items() if k == "hold"]
    assert len(published) >= len(out) - 10 and max(held) < switch_at + 10   # held one window, then forecasts
    oracle = _metres_throughout(sf, switch_at)
    both = sorted(set(published) & set(oracle))
    assert len(both) >= len(published) - 3
    for i in both:   # the learner rescaled to metres forecasts as one that always had metres
        np.testing.assert_allclose(published[i], oracle[i], rtol=0, atol=1e-9 * AMP)


def test_a_patient_move_is_no_switch_of_units():
    """A 100 mm move of every coordinate (no unit factor fits it) is a new origin, as before: scaler not rescaled."""
    sf, out = _drive("mix", 300, n=300)
    scale = sf.forecaster._scale.copy()
    for i in range(300, 330):
        sf.on_frame(_sig(i, shift=-100.0)[:, None], T0 + i / FS, T0 + i / FS)
        assert "units switched" not in sf.hold_detail
    assert sf.forecaster.n_jumps == 1 and np.array_equal(sf.forecaster._scale, scale)
    assert sf.state == "forecasting"


def _status(rt):
    return rt.status()["forecasters"].get("couch1", {})


def test_runtime_starts_a_fresh_forecaster_when_a_marker_stream_declares_other_units(caplog):
    fc = ForecasterConfig(method="rls", horizon_steps=2, lookback=4, warmup_s=0.3, recover_steps=5, stale_s=5.0)
    with caplog.at_level(logging.WARNING, logger="streams.runtime"), running(config(forecaster=fc)) as rt:
        pubs = [Publisher("couch1", rt.bound.ingest) for _ in range(2)]
        pubs.append(Publisher("couch1", rt.bound.ingest, session=pubs[1].session))
        try:
            now = time.time() - 2.0
            mm = pubs[0].stream("markers", FS, ["x", "y", "z"], units="mm", modality="motion")
            for i in range(10):
                mm.send(_sig(i)[:, None].astype(np.float32), t0_s=now + i / FS)
            wait_for(lambda: _status(rt).get("seen") == 10, what="the mm frames learnt")
            metres = pubs[1].stream("markers", FS, ["x", "y", "z"], units="m", modality="motion")   # a new session
            for i in range(10, 16):
                metres.send(_sig(i, 1e-3)[:, None].astype(np.float32), t0_s=now + i / FS)
            wait_for(lambda: _status(rt).get("seen") == 6, what="a fresh forecaster learning the metres")
            assert "units changed from ['mm', 'mm', 'mm'] to ['m', 'm', 'm']" in _status(rt)["checkpoint_refused"]
            assert any("declared units changed" in r.getMessage() for r in caplog.records)
            # within one session other units are another layout too: rejected, as other channels are
            cm = pubs[2].stream("markers", FS, ["x", "y", "z"], units="cm", modality="motion")
            cm.send(_sig(16, 0.1)[:, None].astype(np.float32), t0_s=now + 16 / FS)
            wait_for(lambda: rt.status()["streams"]["couch1/markers"]["rejected"].get("inconsistent") == 1,
                     what="the frame in cm rejected")
            assert _status(rt)["seen"] == 6
        finally:
            for p in pubs:
                p.close()
