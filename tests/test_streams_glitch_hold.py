"""Over ZeroMQ, a one-sample marker glitch short of a jump (2.5 times the coordinate's largest one-step
change, inside its range: over realtime.jumps.HOLD_RATIO) is a hold, never a number: the glitch's sample
is held as a ``gap`` ("input step held ..."), the next sample, back where the marker was, drops it
("input glitch dropped ...", held for the sample that came back; the glitch's place is filled from its
neighbours and the window goes on: since 2026-12-06 it restarted); forecasts resume with the next sample. Before, the
runtime published a forecast extrapolated from the glitch; with the forecaster's hold alone, the hold
went out labelled ``warm_up`` with no detail."""
import numpy as np

from streams.config import ForecasterConfig
from test_streams_helpers import marker_forecast_frames


def test_the_runtime_holds_a_glitch_and_drops_it():
    fs, n, k0 = 10.0, 150, 90   # k0: coordinate 0 at its peak, where it barely moves
    t = np.arange(n) / fs
    x = np.stack([5 * np.sin(2 * np.pi * 0.25 * t + k) for k in range(3)])
    largest = float(np.max(np.abs(np.diff(x[0, :k0]))))
    x[0, k0] -= 2.5 * largest   # towards the middle: inside the range seen, short of a jump (4 times)
    fc = ForecasterConfig(method="lms", horizon_steps=2, lookback=4, warmup_s=3.0, recover_steps=5, stale_s=5.0,
                          max_input_age_s=30.0)   # generous: this test is about values, not timing
    frames = marker_forecast_frames(x, fs, fc)
    assert all(frames[k].kind == "forecast" for k in range(k0 - 10, k0))   # forecasting before it
    glitch, back = frames[k0], frames[k0 + 1]
    assert glitch.kind == "hold" and glitch.header["reason"] == "gap", glitch.header
    assert "input step held" in glitch.header["detail"]
    assert back.kind == "hold" and back.header["reason"] == "gap" and "input glitch dropped" in back.header["detail"]
    assert frames[n - 1].kind == "forecast"   # the window whole again: forecasting
