"""Edges of the forecaster's safety rules (realtime.jumps, streams.forecast).

A step of HOLD_RATIO (2) times a coordinate's largest change or more is held, whatever the rounding
(realtime.jumps.HOLD_SLACK): steps are differences of normalised samples, so a one-sample glitch of
exactly 2 times in input units (0.1 mm quanta) came out a few ulps above or below 2 times in z-units
and was held at 21 of 120 places of a quantised trace, by rounding alone (the rule said "more than").
Now exactly 2 times is always held and one quantum less never.  A dropped glitch's place is filled
from its neighbours (2 samples held, not 12); a stream whose t0_s is not Unix seconds is held naming
the clock."""
import logging

import numpy as np
import pytest

from realtime import make_forecaster
from realtime.jumps import HOLD_RATIO, held_coordinates
from streams.config import ForecasterConfig
from streams.forecast import SourceForecaster

_t = np.arange(420)
#: three coordinates quantised to 0.1 mm (as the shared sessions' positions), periods 4.1, 3.7, 5.3 s
QUANTISED = np.round(np.stack([40 * np.sin(2 * np.pi * _t / 41), 25 * np.cos(2 * np.pi * _t / 37 + 1),
                               7 * np.sin(2 * np.pi * _t / 53)], 1)) / 10


def _held_at_threshold() -> list[tuple[bool, bool]]:
    """``held`` for a one-sample glitch of exactly HOLD_RATIO times its coordinate's largest change (in
    0.1 mm quanta, as the forecaster saw them), and for one quantum less, at 60 places."""
    logging.disable(logging.WARNING)
    try:
        f = make_forecaster("rls", horizon_steps=3, lookback=8, n_coords=3, norm_steps=100)
        out = []
        for k in range(len(QUANTISED)):
            if k >= 300 and k % 2 == 0:
                c = (k // 2) % 3
                largest_q = np.max(np.abs(np.diff(np.round(QUANTISED[:k, c] * 10))))
                pair = []
                for less_q in (0.0, 1.0):
                    g = f.copy()
                    x = QUANTISED[k - 1].copy()
                    x[c] += (HOLD_RATIO * largest_q - less_q) / 10
                    g.learn_one(x)
                    assert not g.jumped
                    pair.append(g.held)
                out.append(tuple(pair))
            f.learn_one(QUANTISED[k])
        return out
    finally:
        logging.disable(logging.NOTSET)


def test_a_glitch_of_exactly_hold_ratio_is_always_held_and_one_quantum_less_never():
    exact, less = zip(*_held_at_threshold())
    assert all(exact)   # before: held at 12 of these 60 places, by rounding alone
    assert not any(less)


def test_exactly_the_hold_ratio_is_held_whatever_the_rounding():
    prev, dlo, dhi = np.zeros(2), np.full(2, -0.3), np.full(2, 0.1)   # largest change 0.3
    exact = np.array([HOLD_RATIO * 0.3, -HOLD_RATIO * 0.3]) * (1 - 1e-13)   # rounded a few ulps below
    assert held_coordinates(exact, prev, dlo, dhi).all()
    assert not held_coordinates(exact * (1 - 1e-6), prev, dlo, dhi).any()


def _drive(X, k0=None):
    """Published forecasts (t -> forecast) and the held steps of an RLS forecaster over ``X``."""
    f = make_forecaster("rls", horizon_steps=3, lookback=8, n_coords=3, norm_steps=100)
    out, held = {}, []
    for t, x in enumerate(X):
        f.learn_one(x)
        if f.ready:
            out[t] = f.predict_one()
        else:
            held.append(t)
    return out, held, f


def test_a_dropped_glitch_is_filled_from_its_neighbours_and_forecasts_resume_at_once():
    """Its place holds the midpoint of its confirmed neighbours: the forecasts after it are those of
    the trace with that midpoint in its place (to rounding), from the sample after the one that came
    back.  Before, the window restarted: 8 (lookback) more samples held, and the forecasts after it
    were made by a learner that had skipped 11 (lookback + horizon) training targets."""
    X, k0 = QUANTISED[:260].copy(), 200
    largest = float(np.max(np.abs(np.diff(X[:k0, 0]))))
    Y = X.copy()
    Y[k0, 0] = X[k0 - 1, 0] - 2.5 * largest * np.sign(X[k0 + 1, 0] - X[k0 - 1, 0] or 1.0)   # against the motion
    Z = X.copy()
    Z[k0] = 0.5 * (X[k0 - 1] + X[k0 + 1])
    logging.disable(logging.WARNING)
    try:
        got, held, f = _drive(Y)
        want, held0, _ = _drive(Z)
    finally:
        logging.disable(logging.NOTSET)
    assert f.n_dropped == 1 and f.n_held == 1 and f.n_jumps == 0 and "filled from its neighbours" in f.divergence
    assert set(held) - set(held0) == {k0, k0 + 1}   # the glitch and the sample that came back
    assert set(got) == set(want) - {k0, k0 + 1}
    assert all(np.allclose(got[t], want[t], rtol=0, atol=1e-9) for t in got if t > k0)


@pytest.mark.parametrize("t0_s,where", [(1e300, "ahead of"), (1.7e12, "ahead of"), (5000.0, "behind")])
def test_a_stream_not_in_unix_seconds_is_held_naming_the_clock_and_not_learnt(t0_s, where, caplog):
    """t0_s of 1e300, milliseconds since 1970 or seconds since boot: every frame is ``stale_input`` whose
    detail names the clock, nothing is learnt, one warning.  Before: held forever with no detail (1.7e12,
    5000) or as a ``gap``, "device time went back 0.100 s" (1e300: its stamps cannot tell 0.1 s apart)."""
    fs, now = 10.0, 1.8e9
    sf = SourceForecaster("cam/markers", ["x", "y", "z"], fs,
                          ForecasterConfig(method="lms", horizon_steps=2, lookback=4, warmup_s=0.5))
    with caplog.at_level(logging.WARNING, logger="streams.forecast"):
        for k in range(5):
            got = sf.on_frame(QUANTISED[k:k + 1].T.copy(), t0_s + k / fs, now + k / fs)
            assert got == ("hold", "stale_input")
            assert f"s {where} the runtime's clock: t0_s must be Unix seconds" in sf.hold_detail, sf.hold_detail
    assert sf.forecaster.n_seen == 0 and sf.clock_off == 5 and sf.last_t_s is None
    assert len([r for r in caplog.records if "Unix seconds" in r.getMessage()]) == 1
    # the client's clock fixed: forecasts as for any stream
    for k in range(5, 40):
        kind, _ = sf.on_frame(QUANTISED[k:k + 1].T.copy(), now + k / fs, now + k / fs)
    assert kind == "forecast"
