"""Marker streams -> per-source online forecasters -> ``fcst/`` or ``hold/`` frames.

One :class:`SourceForecaster` per source is a small state machine (``docs/protocol.md``,
"Forecast safety"): ``ready`` (built, no sample yet) -> ``forecasting`` or ``hold`` with a reason:

* ``warm_up``: no forecast exists yet (scaler fit and first input window);
* ``stale_input``: the newest sample is older than ``max_input_age_s`` (device timestamp vs wall
  clock when the frame is handled), or stamped more than ``max_input_age_s`` in the future (a
  device clock ahead of the runtime's: its age cannot be told); the frame is learnt from but
  never forecast from. The age is checked again when the forecast is ready (learning a long
  frame takes time): a forecast that aged past ``max_input_age_s`` meanwhile is held too;
* ``gap``: samples are missing since the last one (any hole: the learner's ``max_gap_steps`` is
  0) and the input window restarted; held until the window is whole again. So is a sample that
  jumped out of the range of motion seen in one step (a marker swapped to another coordinate
  frame: :meth:`realtime.base.Forecaster._on_jump`, ``detail`` "input jumped ..."), held until
  the learner has a whole window and a target after it (a marker switched to larger units, mm -> m: the scaler
  rescaled, :mod:`realtime.scale_switch`, ``detail`` "input units switched ..."); and a sample that stepped
  :data:`realtime.jumps.HOLD_RATIO` times a coordinate's largest change or more, held until the next
  sample confirms it (``detail`` "input step held ...") or, a glitch that came back, dropped, its place
  filled from its neighbours (``detail`` "input glitch dropped ...", for the sample that came back). The runtime's
  timer also publishes a ``gap`` hold ("no input ...") as soon as the next frame is overdue by
  ``max_input_age_s`` while the source is forecasting (the standing forecast's input is then older
  than a published one may be; until 2026-12-05 the first such hold came only after ``stale_s``,
  1 s), and every ``stale_s`` while no sample arrives at all. A frame
  whose device time goes back (it starts at or before the last learnt sample: a clock stepped
  back, a frame sent again, overlapping frames) restarts the window too, as a new time base
  (``time_back``, ``detail``). A frame longer than :func:`frame_budget`
  samples, or samples arriving faster than ``LEARN_RATE`` x ``fs_hz`` of wall-clock time (a
  budget of ``LEARN_BURST_S`` of samples, refilled as the wall clock runs: ``over_rate``), have only their newest
  ones learnt; the older ones are skipped like a hole. The forecast path runs on the event loop:
  one client's huge, overlapping or fast-forwarded frames must not stall every other source;
* ``frozen_input``: every coordinate has repeated the same value for ``max_frozen_s`` (a tracker
  repeating its last position); the repeats are learnt as missing samples, so once the marker
  moves again the hold continues as a ``gap`` until the input window is whole;
* ``diverged``: the forecaster reset itself after a diverging step (``detail`` "learner reset:
  ..."), or the sample's forecast is far outside the range of motion seen so far
  (:data:`realtime.base.FORECAST_REACH`; ``detail`` "forecast withheld: ...": the learner learns
  on; one that stays out for a whole window resets it); either is held, and so are the next
  ``recover_steps`` samples (``detail`` "recovering (N more sample(s) held) after ..."; another
  such sample meanwhile starts the count again). A learner that was tens of z-units out one
  sample ago is not trusted with the next in-range number: until 2026-12-05 a withheld forecast
  started no such hold (LMS at lr 2, session 201205111055: 273 of its 387 withheld forecasts were
  followed by a published one at the very next sample). The default settings (mix, horizon 3) withhold none on the
  four shared sessions (duty unchanged, 96.9 %); rls at horizon 11 / 21 withholds 5 / 13 samples (0.4 / 0.8 points);
* ``unavailable``: the forecaster failed at run time or the source has no slot (set by the
  :mod:`streams.forecast_worker` and the runtime; never silence);
* ``rate_pending`` / ``rate_mismatch``: the stream's device time doubts (no verdict yet) or refutes
  its declared rate (:mod:`streams.device_rate`; the worker sets ``rate_hold`` for each frame): its samples are not
  ``1 / fs_hz`` apart, so ``horizon_steps`` ahead is not ``horizon_s`` ahead and ``target_s`` would
  name the wrong instant (a marker declaring 10 Hz and sending 30 had 406 of 420 frames forecast 0.3 s ahead that
  were 0.1 s ahead). The frame is learnt; every answer but ``unavailable`` is this hold, whatever the learner's state.

The learners (:mod:`realtime`) stay pure: the clock reading ``now_s`` is passed in here.
State is checkpointed to ``<state_dir>/forecasters/<source>.npz`` (atomic replace) so that a
runtime killed and restarted continues with the learned weights, scaler and trust records
(:mod:`streams.forecast_checkpoint`; :func:`write_checkpoint` is re-exported here).
"""
from __future__ import annotations

import logging
import time

import numpy as np

from streams.config import MAX_STEPS, ForecasterConfig
from streams.errors import StreamError
from streams.forecast_checkpoint import CheckpointMixin, write_checkpoint  # noqa: F401 (re-exported)
from streams.protocol import HOLD_REASONS, source_of  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

STATES = ("ready", "forecasting", "hold")
LEARN_RATE = 1.25   # samples learnt per sample period of wall-clock time, at most (jitter, clock drift)
LEARN_BURST_S = 20.0   # ... beyond a burst of this many seconds of samples (a backlog after an outage)
#: A frame stamped further off the wall clock is not in Unix seconds (since boot, ms, 1e300): held naming the
#: clock, not learnt (until 2026-12-06 held forever without a word, at 1e300 as "device time went back").
CLOCK_OFF_S = 365 * 86400.0


def lookback_steps(cfg: ForecasterConfig, fs_hz: float) -> int:
    """The input window in samples: ``cfg.lookback`` when set (> 0), else ``cfg.lookback_s`` at
    ``fs_hz`` (at least 1)."""
    return int(cfg.lookback) if cfg.lookback > 0 else max(1, int(round(cfg.lookback_s * fs_hz)))


def frame_budget(cfg: ForecasterConfig, lookback: int) -> int:
    """Samples of one frame that are learnt: ``cfg.max_frame_steps``, but at least two input
    windows plus the horizon, so that a long frame still ends with a whole window."""
    return max(int(cfg.max_frame_steps), 2 * (lookback + int(cfg.horizon_steps)))


def frozen_steps(cfg: ForecasterConfig, fs_hz: float) -> int:
    """Identical consecutive samples that make a frozen input: ``max_frozen_s`` at ``fs_hz``, at
    least 2 (0: the check is off)."""
    from realtime.config import frozen_steps as rule   # one rule with the offline evaluation's
    return rule(cfg.max_frozen_s, fs_hz)


def build_forecaster(cfg: ForecasterConfig, n_coords: int, fs_hz: float, **over):
    """A :mod:`realtime` forecaster for ``cfg``; :class:`StreamError` (one line) when it cannot be
    built (unknown method, a horizon below 1, ...)."""
    from realtime import ForecastError, make_forecaster
    try:
        if not cfg.max_input_age_s > 0 or not cfg.stale_s > 0 or cfg.recover_steps < 0:
            raise ForecastError(f"max_input_age_s ({cfg.max_input_age_s}) and stale_s ({cfg.stale_s}) "
                                f"must be > 0 and recover_steps ({cfg.recover_steps}) >= 0")
        if lookback_steps(cfg, fs_hz) > MAX_STEPS:   # the state grows with it (gigabytes, a start that never ends)
            raise ForecastError(f"an input window of {lookback_steps(cfg, fs_hz)} samples (lookback_s "
                                f"{cfg.lookback_s:g} at {fs_hz:g} Hz) is over {MAX_STEPS}; shorten lookback_s")
        # the warm-up samples are replayed 4 per new sample once the scaler is fitted, not all
        # at once: the forecast path runs on the runtime's event loop (streams.forecast_worker)
        opts = dict(norm_steps=max(1, int(round(cfg.warmup_s * fs_hz))), catch_up_steps=4,
                    max_frozen_steps=frozen_steps(cfg, fs_hz))
        opts.update(over)
        f = make_forecaster(cfg.method, horizon_steps=cfg.horizon_steps, lookback=lookback_steps(cfg, fs_hz),
                            hidden=cfg.hidden, lr=cfg.lr, seed=cfg.seed, n_coords=n_coords, **opts)
        f.set_stream_terms(fs_hz=fs_hz)   # (its hold details in seconds of this stream)
        return f
    except (ForecastError, TypeError, ValueError) as exc:
        raise StreamError(f"forecaster cannot be built from the configuration: {exc}") from None


#: A forecaster whose learn-and-forecast step takes longer than this per sample (3 coordinates, the
#: fastest of the warm-up's training steps) gets a warning at start-up: a quarter of the period of a 30 Hz
#: surrogate stream. The forecast path runs on the runtime's event loop, so a slower one delays every
#: other stream's frames and falls behind its own (holds, never late numbers). A warning, not a
#: refusal: a few timed steps on a loaded machine can be slow for a fast method. The shipped methods
#: take 0.01-0.4 ms (lookback_s 1.2 to 10, 2 cores).
STEP_BUDGET_S = 1.0 / 30.0 / 4
#: ... and one whose state (weights, RLS matrix, RNN sensitivities) is over this at 3 coordinates, before
#: it is driven at all (rls with lookback_s 60 at 30 Hz: 223 MiB, and 40 s of warm-up to find its
#: step too slow; it grows with the square of the coordinates). The shipped defaults: 0.5-6 MiB.
MAX_STATE_BYTES = 64 * 2 ** 20


def _nbytes(state) -> int:
    if isinstance(state, np.ndarray):
        return int(state.nbytes)
    if isinstance(state, dict):
        return sum(_nbytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(_nbytes(v) for v in state)
    return 0


def warm_up(cfg: ForecasterConfig) -> float:
    """Build a throwaway forecaster for ``cfg`` and drive it through every path the runtime uses
    (scaler fit, training, prediction, a gap that restarts the window, checkpoint state), so that
    every Numba kernel is compiled (or loaded from the cache) before the first real sample.
    Returns the seconds it took; raises :class:`StreamError` when the forecaster cannot be built or
    its state is over :data:`MAX_STATE_BYTES`; warns when its step, timed on the second pass
    (compiled), is over :data:`STEP_BUDGET_S`."""
    t = time.perf_counter()
    f = build_forecaster(cfg, 3, 30.0, norm_steps=2)
    state_bytes = _nbytes(f.state_dict())
    if state_bytes > MAX_STATE_BYTES:
        raise StreamError(f"forecaster {cfg.method} holds {state_bytes / 2 ** 20:.0f} MiB of state for 3 coordinates "
                          f"(input window {f.lookback} samples at 30 Hz, hidden {cfg.hidden}), over "
                          f"{MAX_STATE_BYTES // 2 ** 20} MiB; it grows with the coordinates and every step reads "
                          "it: shorten lookback_s or hidden, or choose another method")
    quiet = logging.getLogger("realtime")
    level = quiet.level
    quiet.setLevel(logging.ERROR)   # random warm-up data may "diverge": not news
    try:
        step_s = _drive(f)
    finally:
        quiet.setLevel(level)
    if step_s > STEP_BUDGET_S:
        log.warning("forecaster %s took at least %.1f ms to learn and forecast one sample of 3 coordinates in its warm-up "
                    "(input window %d samples at 30 Hz), over the %.1f ms a sample should take on the runtime's "
                    "event loop (a quarter of a 30 Hz period; more coordinates take longer): its forecasts may "
                    "fall behind (held as stale) and delay other streams; shorten lookback_s or hidden, or choose "
                    "another method", cfg.method, step_s * 1e3, f.lookback, STEP_BUDGET_S * 1e3)
    return time.perf_counter() - t


def _drive(f) -> float:
    """Drive ``f`` twice through warm-up, training, forecasts and a gap; the seconds of the fastest
    training step (learn and forecast one sample) on the second pass (the fastest: a loaded machine
    slows some steps, never all)."""
    rng = np.random.default_rng(0)
    n = f.lookback + f.horizon_steps + 8
    tol = f.config.max_gap_steps or f.lookback
    times = []
    for second in (False, True):
        for _ in range(n):
            t = time.perf_counter()
            f.learn_one(rng.normal(size=3))
            f.predict_one()
            if second and f._trained:
                times.append(time.perf_counter() - t)
        for _ in range(tol + 1):
            f.learn_one(np.full(3, np.nan))
    f.load_state_dict(f.state_dict())
    return float(np.min(times)) if times else 0.0


class SourceForecaster(CheckpointMixin):
    """The forecaster of one marker stream and its hold state.

    Parameters
    ----------
    stream : ``<source>/<stream>`` topic of the marker input.
    channels : coordinate names (C).
    fs_hz : sample rate of the stream.
    cfg : :class:`streams.config.ForecasterConfig`.
    """

    def __init__(self, stream: str, channels, fs_hz: float, cfg: ForecasterConfig):
        self.stream, self.channels, self.fs_hz, self.cfg = stream, list(channels), float(fs_hz), cfg
        self.forecaster = build_forecaster(cfg, len(self.channels), self.fs_hz)
        self.tolerance = self.forecaster.config.max_gap_steps or self.forecaster.lookback
        self.budget = frame_budget(cfg, self.forecaster.lookback)
        self.state = "ready"
        self.hold_reason = ""
        self.hold_left = 0          # diverged: samples still held after the newest one
        self.recovering = ""        # the divergence being recovered from (the held samples' detail)
        self.gap_open = False       # a gap restarted the window and it is not whole yet
        self.last_t_s: float | None = None
        self.frame_s = 1.0 / self.fs_hz   # duration of the last frame (the no-input timer's expected spacing)
        self.last_wall_s = time.time()      # last frame, or the no-input timer's last gap hold
        self.last_frame_wall_s = self.last_wall_s   # last frame only (wall clock)
        self.resets_seen = 0
        # learning budget (samples): refilled at LEARN_RATE x fs_hz per wall-clock second up to
        # LEARN_BURST_S of samples (a device's backlog after an outage is learnt whole), so that a
        # client stamping its frames faster than real time (overlapping or ahead of the clock)
        # cannot buy more event-loop time than a real device at fs_hz
        self.learn_cap = float(max(self.budget, LEARN_BURST_S * self.fs_hz))
        self.learn_tokens, self.learn_wall_s = self.learn_cap, None
        self.time_back = 0          # frames whose device time went back (overlapping the learnt ones)
        self.over_rate = 0          # samples not learnt: they came faster than fs_hz of wall-clock time
        self.clock_off = 0          # frames not learnt: stamped CLOCK_OFF_S or more off the wall clock
        self.hold_detail = ""       # why the last hold was given, where the reason alone does not say
        self.resumed = False
        self.failed = ""            # why the forecaster is unavailable ("" while it works)
        # (hold reason, detail) while the stream's declared rate is doubted or refuted (module
        # docstring), set by streams.forecast_worker before each frame; None while it is not
        self.rate_hold: tuple[str, str] | None = None
        self.counts = {r: 0 for r in HOLD_REASONS}

    @property
    def source(self) -> str:
        return source_of(self.stream)

    @property
    def horizon_s(self) -> float:
        return self.cfg.horizon_steps / self.fs_hz

    def missing_since(self, t0_s: float) -> int:
        """Samples missing between the last learned sample and a new one at ``t0_s``."""
        if self.last_t_s is None:
            return 0
        return max(0, int(round((t0_s - self.last_t_s) * self.fs_hz)) - 1)

    def went_back(self, t0_s: float) -> bool:
        """A frame starting at or before the last learnt sample (a sample due early, within a
        period, is jitter: the time still went forward)."""
        return self.last_t_s is not None and t0_s <= self.last_t_s

    def _hold(self, reason: str, rate: bool = True):
        if rate and self.rate_hold is not None and reason != "unavailable":   # the rate is why no forecast can come
            reason, self.hold_detail = self.rate_hold
        self.state, self.hold_reason = "hold", reason
        self.counts[reason] += 1
        return "hold", reason

    def on_frame(self, x: np.ndarray, t0_s: float, now_s: float):
        """Learn a frame (C, T) whose first sample was taken at device time ``t0_s``; decide for
        its newest sample, with the wall clock at ``now_s`` (held while ``rate_hold`` is set).

        Returns
        -------
        ``("forecast", prediction (C,) float64)`` or ``("hold", reason)``.
        """
        f = self.forecaster
        n = x.shape[1]
        self.hold_detail = ""
        t_end = t0_s + (n - 1) / self.fs_hz
        if not abs(t_end - now_s) <= CLOCK_OFF_S:   # not Unix seconds: its stamps tell nothing
            return self._clock_off(t_end, now_s)
        back = self.went_back(t0_s)
        if back:   # device time went back: a new time base (a clock corrected) or a frame sent again
            self.time_back += 1
            self.hold_detail = (f"device time went back {self.last_t_s - t0_s + 1 / self.fs_hz:.3f} s (the frame "
                                "starts at or before the last sample learnt); input window restarted")
            f.learn_one(np.full(len(self.channels), np.nan))   # no input window spans the step
            self.gap_open = True
        missing = 0 if back else self.missing_since(t0_s)
        if self.learn_wall_s is not None:
            self.learn_tokens = min(self.learn_cap, self.learn_tokens
                                    + max(0.0, now_s - self.learn_wall_s) * LEARN_RATE * self.fs_hz)
        self.learn_wall_s = now_s
        keep = min(n, self.budget, int(self.learn_tokens))
        if n > keep:   # learn the newest samples only: the older ones are a hole
            missing += n - keep
            x = x[:, n - keep:]
            if keep < min(n, self.budget):   # over the wall-clock budget, not just a long frame
                self.over_rate += min(n, self.budget) - keep
                if not self.hold_detail:
                    self.hold_detail = (f"samples arrive faster than {self.fs_hz:g} Hz of wall-clock time: "
                                        f"{n - keep} of {n} skipped")
        self.learn_tokens -= x.shape[1]
        if missing > 0:     # feed the hole as missing samples: past the tolerance the window restarts
            for _ in range(min(missing, self.tolerance + 1)):
                f.learn_one(np.full(len(self.channels), np.nan))
            self.gap_open = True   # a hole held as a gap (a short one was warm_up); cleared once ready again
        held = event = False   # the newest sample is held: recovering / its own divergence
        for i in range(x.shape[1]):
            dropped = f.n_dropped
            f.learn_one(x[:, i])
            if not np.isfinite(x[:, i]).all():   # a missing sample inside a frame is a hole too (it was warm_up)
                self.gap_open = True
            elif f.jumped:   # out of the range of motion in one step: a new origin, the window restarts
                self.gap_open = True
                self.hold_detail = f.jump_detail   # (a new origin, or units rescaled: realtime.scale_switch)
            elif f.held or f.n_dropped > dropped:   # a step held for confirmation, or a glitch dropped
                self.gap_open = True                # (realtime.jumps.HOLD_RATIO): a gap until whole again
                self.hold_detail = f.divergence   # (dropped: held for the sample that came back, as a gap)
            held = self.hold_left > 0   # one of the recover_steps samples after a divergence
            if held:
                self.hold_left -= 1
            event = True
            if f.n_resets > self.resets_seen:   # diverged and reset during this sample
                self.resets_seen = f.n_resets
                self.recovering = f"learner reset: {f.divergence}"   # e.g. a forecast far outside the range seen
            elif f.out_of_range or f.untrusted:   # a wild forecast (or errors, realtime.trust): the learner is not
                self.recovering = f"forecast withheld: {f.divergence}"   # trusted for a while either
            else:
                event = False
            if event:   # held, and the next recover_steps samples too (each event starts the count again)
                self.hold_left, held = self.cfg.recover_steps, True
        self.last_t_s = t_end
        self.frame_s = n / self.fs_hz   # the next frame's newest sample is due this much after t_end
        self.last_wall_s = self.last_frame_wall_s = now_s
        if held:
            if f.ready or f.out_of_range:   # the window is whole: this hold is not a gap's
                self.gap_open = False
            if event or not self.hold_detail:   # (a device time that went back keeps its detail)
                self.hold_detail = (self.recovering if event else
                                    f"recovering ({self.hold_left} more sample(s) held) after {self.recovering}")
            return self._hold("diverged")
        if self.gap_open and f.ready:
            self.gap_open = False
        if f.frozen:   # a repeated position is no input: held, and a gap once it moves again
            self.gap_open = True
            return self._hold("frozen_input")
        if not f.ready and not f.out_of_range:
            return self._hold("gap" if self.gap_open else ("diverged" if self.resets_seen else "warm_up"))
        if abs(now_s - self.last_t_s) > self.cfg.max_input_age_s:   # too old, or from the future
            return self._hold("stale_input")
        if self.rate_hold is not None:
            return self._hold(self.rate_hold[0])
        self.state, self.hold_reason = "forecasting", ""
        return "forecast", f.predict_one()

    def _clock_off(self, t_end: float, now_s: float):
        """``stale_input`` naming the clock (before any rate hold: same stamps), not learnt; warned once."""
        off, self.last_wall_s = t_end - now_s, now_s   # (a frame came: no "no input" hold)
        self.hold_detail = (f"device time {t_end:.6g} s is {abs(off):.3g} s {'ahead of' if off > 0 else 'behind'} "
                            f"the runtime's clock: t0_s must be Unix seconds ({'ms' if off > 0 else 'since boot'}?)"
                            "; not learnt")
        self.clock_off, self.last_frame_wall_s = self.clock_off + 1, now_s
        if self.clock_off == 1:
            log.warning("%s: %s", self.stream, self.hold_detail)
        return self._hold("stale_input", rate=False)

    def aged(self, age_s: float):
        """The forecast was made, but its newest sample is ``age_s`` old when it would go out (the
        frame arrived young and learning it took the rest): ``stale_input``, never a number."""
        self.hold_detail = f"input {age_s * 1e3:.0f} ms old when the forecast was ready"
        return self._hold("stale_input")

    def fail(self, why: str):
        """The forecaster raised: every later frame of this source is held as ``unavailable``."""
        self.failed = why
        return self._hold("unavailable")
