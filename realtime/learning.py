"""The per-sample learning step of :class:`realtime.base.Forecaster`, mixed into it: the scaler fit, the
replay of the warm-up samples, the ring buffer of normalised samples and its input windows, the
delayed-supervised training step, the range of motion seen, and the checks that reset the model or
withhold its forecast.

:class:`realtime.base.Forecaster` holds the River-style contract (``learn_one`` takes a sample in input
units, drops the missing and frozen ones, and hands the valid ones here normalised); its module
docstring states the rules this step applies: a window restart after a gap (weights kept), a reset
to a fresh seeded initialisation on divergence (a non-finite or exploding training loss or forecast,
or an absurd input jump while the window fills), and a forecast outside the range of motion seen
(:data:`FORECAST_REACH`) withheld, and reset when it stays out for a whole window.  The input-jump
rule (:mod:`realtime.jumps`), the trust record (:mod:`realtime.trust`) and the unit switch
(:mod:`realtime.scale_switch`) are called from :meth:`LearningMixin._step` and
:meth:`LearningMixin._learn`.  Split out of :mod:`realtime.base`, which still re-exports
:data:`FORECAST_REACH`.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from realtime.jumps import coordinate_bounds, step_bounds

log = logging.getLogger("realtime.base")   # the forecaster's warnings, under its name as before

#: A forecast further outside the range of the samples learnt so far than this many times the
#: largest per-coordinate range (z-units, at least 1) is withheld (the rule: :mod:`realtime.base`'s docstring).
#: On the four shared marker sessions (h 1-21) the causal forecasts of every method at their usual
#: settings stay within 0.7 of it, except RLS's right after its warm-up (2.0: a forecast of 21 z
#: for a truth of 5); an LMS with lr 5 published forecasts of 125 z-units.
FORECAST_REACH = 1.0


class LearningMixin:
    """The learning step of :class:`realtime.base.Forecaster` (its attributes: ``config``, ``lookback``,
    ``horizon_steps``, ``_hist``, ``_cap``, ``_count``, ``_warm``, the range arrays ``_lo`` ... ``_shigh``,
    the work buffers, ``_kern``; its hooks ``_init_model``, ``_train``, ``_predict``, ``_restart_state``;
    and the jump, trust and unit-switch mixins' methods)."""

    def _catch_up(self, n: int) -> None:
        """Learn the oldest ``n`` samples that wait since the scaler was fitted."""
        todo, self._warm = self._warm[:n], self._warm[n:]
        for w in todo:
            self._step((w - self._center) / self._scale)

    def _fit_scaler(self, warm: np.ndarray) -> None:
        x0 = warm[0]
        rel = warm - x0
        std = rel.std(axis=0) if len(warm) > 1 else np.ones(self.n_coords)
        if self.config.scaling == "global":
            std = np.full(self.n_coords, np.sqrt(np.mean(std ** 2)))
        std = np.where(std > 1e-12, std, 1.0)
        self._center = x0 + rel.mean(axis=0) if len(warm) > 1 else x0.copy()
        self._scale = std
        self._fitted = True

    def _restart_window(self) -> None:
        log.info("%s: gap of %d samples, restarting the input window", self.method, self._gap)
        if np.isfinite(self._held[0]):   # a held sample no later one confirmed: not learnt
            self._held[:] = np.nan
            self.n_dropped += 1
        self._count = 0
        self._have_forecast = False
        self._trust_restart()
        self._restart_state()

    def _step(self, z: np.ndarray) -> None:
        if self._learnt and not self._count:   # the first after a restart: switched units? (realtime.scale_switch)
            self._switch_units(z, None)
        elif self._learnt and self._judge(z):
            return   # held until the next sample confirms it, or learnt behind a dropped glitch (realtime.jumps)
        self._learn(z)

    def _learn(self, z: np.ndarray) -> None:
        cap, L, h = self._cap, self.lookback, self.horizon_steps
        pos = self._count % cap
        self._trust_target(z)
        self._hist[pos] = z
        self._count += 1
        if self._count >= L + h:
            self._kern.fill_window(self._hist, (pos - h) % cap, 0, L, self._u_tr)
            loss = self._train(self._u_tr, z)
            self.last_loss = loss
            if not (loss <= self.config.max_loss):  # also catches NaN
                self._on_divergence(f"training loss {loss:.3g}")
                return
            self._trained = self._learnt = True
            self._resets_row = 0
        elif self._count > 1 and self._explodes(z, self._hist[(pos - 1) % cap]):
            self._on_divergence("input jump")   # (an absurd sample, no training step to see it)
            return
        # a sample the checks accepted widens the range seen (one kernel call: the check runs every
        # step; its NumPy twin took 3-4 us a step, benchmarks/bench_forecast_reach.py)
        if self._kern.widen_range(z, self._lo, self._hi, self._low, self._high, FORECAST_REACH):
            coordinate_bounds(self._lo, self._hi, self._jlow, self._jhigh)
        if self._count > 1:   # the one-step change of each coordinate (realtime.jumps)
            np.subtract(z, self._hist[(pos - 1) % cap], out=self._dstep)
            if self._kern.widen_range(self._dstep, self._dlo, self._dhi, self._dlow, self._dhigh, 1.0):
                step_bounds(self._dlo, self._dhi, self._slow, self._shigh)
            self._n_changes += 1
        if self._count >= L:
            self._kern.fill_window(self._hist, pos, 0, L, self._u_pr)
            self._predict(self._u_pr)
            if not math.isfinite(self._y.sum()):
                self._on_divergence("non-finite forecast")
                return
            if self._explodes(self._y, z):
                self._on_divergence("exploding forecast")
                return
            self._have_forecast = True
            if self._learnt or not self._needs_training:
                self._trust_forecast()
            if self._kern.outside_range(self._y, self._low, self._high):
                self._outside += 1
                beyond = max(float(np.max(self._lo - self._y)), float(np.max(self._y - self._hi)))
                self.divergence = f"forecast {beyond:.3g} z-units outside the range seen"
                if self._outside > L + h:   # a whole window of targets learnt and still out: runaway
                    self._on_divergence(f"{self.divergence}, {self._outside} samples in a row")
            else:
                self._outside = 0

    def _explodes(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Half the squared distance of ``a`` from ``b`` (z-units) above ``max_loss``."""
        d = a - b
        return not (0.5 * float(d @ d) <= self.config.max_loss)

    def _set_bounds(self) -> None:
        """The band a forecast may reach: the range seen, widened on each side by
        :data:`FORECAST_REACH` times its largest per-coordinate extent (at least 1 z-unit)."""
        coordinate_bounds(self._lo, self._hi, self._jlow, self._jhigh)
        step_bounds(self._dlo, self._dhi, self._slow, self._shigh)
        if not np.isfinite(self._hi - self._lo).all():   # no sample learnt yet
            self._low[:] = self._high[:] = np.nan
            return
        reach = FORECAST_REACH * max(float(np.max(self._hi - self._lo)), 1.0)
        np.subtract(self._lo, reach, out=self._low)
        np.add(self._hi, reach, out=self._high)

    def _on_divergence(self, why: str) -> None:
        self.n_resets += 1
        self.diverged = True
        self.divergence = why
        log.warning("%s forecaster diverged (%s); reset #%d to a fresh initialisation",
                    self.method, why, self.n_resets)
        self._init_model(np.random.default_rng([self.config.seed, self.n_resets]))
        self._have_forecast = False
        self._learnt = False
        self._outside = 0
        self._after_reset()
