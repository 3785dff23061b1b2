"""A marker that switches to larger units mid-stream (millimetres to metres), mixed into
:class:`realtime.base.Forecaster` (through :class:`realtime.jumps.JumpMixin`).

Every coordinate's numbers shrink by the same factor ``k`` (1e-3 for mm -> m) in one sample.  The learner works in
z-units of a scaler fitted to the old units, so before this check the new motion (30 mm of breathing: 0.03 m) was
0.001 z-units, a flat line at a new level; the jump rule re-centred only the coordinates that jumped (a marker near
the origin does not), the weights and the range of motion were the old units', and the forecasts came out in the old
units' scale (3 coordinates at 0/100/200 mm moving 10-30 mm at 10 Hz, lookback 5, h 3: lms published 34 forecasts
after the switch, every one off by 21 to 2,900 times the motion; mix 45-91 by 3 to 467 times) until the trust check
(:mod:`realtime.trust`) had a span of errors to withhold them.

A sample that jumped (:meth:`realtime.jumps.JumpMixin._jumps`) is checked for a factor of
:data:`UNIT_FACTORS`: the sample divided by ``k`` continues the one before in every coordinate (within
:data:`UNIT_STEP_RATIO` times the coordinate's largest one-step change, in the old units) while the sample itself does
not in some coordinate.  So is the first sample after a gap (the window restarted, no step to judge: the sample
divided by ``k`` lies in every coordinate's jump band, :func:`realtime.jumps.coordinate_bounds`, while the sample
itself lies out of it in some).  Then the scaler is re-expressed in the new units (centre and scale times ``k``: the
z-units, and with them the weights, the ranges and the trust record, mean what they meant), the input window restarts
and the forecaster holds as after a jump (``jumped``, ``n_jumps``; ``divergence`` names the factor) until the window
is whole and a target in the new units is learnt; the forecasts after it are those of the stream had it always been
in the new units.  Only factors below 1: a jump of a coordinate near the origin to ``1 / k`` times its position is a
real move of some centimetres for ``k`` 0.1, while a sample ``k`` times the old ones' level within ``k`` times one step
of motion is no body's move; a switch to smaller units (m -> mm) is the refit after a run of resets
(:mod:`realtime.trust`).

Not rescaled: a switch while every coordinate is within its range of motion of zero (no coordinate jumps; a marker
at -5..5 mm).  One sample cannot tell it from a real pass near the origin, and a rescale on a breath held at the
origin (motion under 1 % of the usual, as after a switch) would put the next breath 1000 x out.  Its forecasts are
withheld instead (:meth:`ScaleSwitchMixin._motion_collapsed`, ``untrusted``, ``divergence`` "input motion
collapsed ..."): from the fourth sample after the switch on, once every coordinate has lain within
:data:`COLLAPSE_RATIO` of its largest distance from zero and stepped under :data:`COLLAPSE_STEP_RATIO` of its largest
one-step change for :data:`COLLAPSE_MIN_SAMPLES` samples in a row (and more than the longest such run seen before),
then while the steps stay under :data:`COLLAPSE_RATIO` of the largest (a real session's steps after the switch reach
0.3 % of the largest before it).  After mm -> m every step is <= 0.1 % of the largest; a real marker's noise is well
over 0.2 % of it (a switch to units 100 x larger, cm -> m, steps 1 %: left to the trust check).  Until 2026-12-07 one
sample stepping under 1 % was held, and a marker whose zero is its end-exhale position (RPM-like surrogates) was held
at end-exhale, the phase gated treatment uses, with this message: synthetic breathing at 10/25/100 Hz, 1 or 3
coordinates, 0-0.1 mm of noise, 90 s, 386 holds in 90 runs of lms, rls, mix (up to 21 a run); every coordinate and
marker of the four shared sessions shifted to its 2nd percentile, +-0.05 mm of dither, 159 in 156 runs.  Now none
(the longest run of such samples seen: 2 samples, at 25 Hz).  Measured (2026-12-07, the four shared sessions at 10
Hz, 9 coordinates, default configuration, every coordinate shifted to its median, switched to metres at 8 points
each, from 200 to the end less 60 s, 60 s after): 15 of the 32 switches no step shows; forecasts off by over 50 mm
with the trust check alone lms 587, rls 696, mix 660; with one collapsed sample 9 each; now 39 each (the switch
sample's own, made before any sample in metres, and the next two).  Shifted to its minimum (0..30 mm) the jump rule
above catches 31 of 32; the last one's 23-61 forecasts off: now 0.  Without a switch it never fires on the shared
sessions (forecasts and holds bit for bit as before; the whole session, each marker, each coordinate alone,
unshifted, shifted to median or minimum: 468 runs of lms, rls, mix).  ~1 us a sample.  The runs are not checkpointed
(a restarted runtime starts them again).
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("realtime.base")   # the forecaster's warnings, under its name as before

#: The unit factors checked (new number = k x old number): mm/um -> cm, m, ...; mm or cm -> inches.
UNIT_FACTORS = (1e-3, 1e-1, 1e-2, 1e-4, 1e-5, 1e-6, 1 / 25.4, 1 / 2.54)
_NAMES = {1e-3: "millimetres to metres?", 1e-1: "millimetres to centimetres?", 1e-2: "centimetres to metres?",
          1e-6: "micrometres to metres?", 1 / 25.4: "millimetres to inches?", 1 / 2.54: "centimetres to inches?"}
#: Motion collapsed (a switch to units >= 500 x larger near the origin): every coordinate within this fraction of its
#: largest distance from zero seen (and, once held, stepping under this fraction of its largest one-step change) ...
COLLAPSE_RATIO = 0.01
#: ... and stepped under this fraction of its largest one-step change (after mm -> m every step is <= 0.1 % of the
#: largest before; 0.005 mm of noise steps ~5 % of the largest of breathing at 100 Hz) ...
COLLAPSE_STEP_RATIO = 0.002
#: ... for at least this many samples in a row, and more than the longest such run seen before.
COLLAPSE_MIN_SAMPLES = 3
#: The sample divided by k continues the one before within this many times each coordinate's largest one-step change.
UNIT_STEP_RATIO = 3.0   # (realtime.jumps.JUMP_STEP_RATIO: a step beyond it out of the range is a jump)


def factor_from_step(x: np.ndarray, prev: np.ndarray, largest: np.ndarray) -> float | None:
    """The factor ``k`` of :data:`UNIT_FACTORS` for which ``x / k`` is within :data:`UNIT_STEP_RATIO` x ``largest`` of
    ``prev`` in every coordinate, where ``x`` itself is not in some (input units, arrays (n,)); None if there is none."""
    tol = UNIT_STEP_RATIO * largest
    if not np.isfinite(tol).all() or not (np.abs(x - prev) > tol).any():
        return None
    for k in UNIT_FACTORS:
        if (np.abs(x / k - prev) <= tol).all():
            return k
    return None


def factor_from_band(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> float | None:
    """The factor ``k`` of :data:`UNIT_FACTORS` for which ``x / k`` lies in ``low``..``high`` in every coordinate, where
    ``x`` itself lies out of it in some (input units); None if there is none or a band is unknown (NaN)."""
    if not (np.isfinite(low).all() and np.isfinite(high).all()) or not ((x < low) | (x > high)).any():
        return None
    for k in UNIT_FACTORS:
        y = x / k
        if ((y >= low) & (y <= high)).all():
            return k
    return None


class ScaleSwitchMixin:
    """The units-switch check (module docstring); uses the forecaster's ``_center``, ``_scale``, ``_hist``, ``_count``,
    ``_cap``, ``_dlo``/``_dhi``, ``_jlow``/``_jhigh``, ``_restart_window``."""

    _collapse_run = 0       # samples in a row whose motion collapsed (_motion_collapsed), the newest included
    _collapse_longest = 0   # the longest such run that ended: a switch is a longer one (not checkpointed)

    def _switch_units(self, z: np.ndarray, prev: np.ndarray | None) -> bool:
        """True when the normalised sample ``z`` is the one before (``prev``, normalised; None: the first after a
        window restart, judged against the range) in units :data:`UNIT_FACTORS` times larger: the scaler is rescaled,
        ``z`` re-normalised in place, the window restarted and the forecaster held as after a jump."""
        x = z * self._scale + self._center
        if prev is None:
            k = factor_from_band(x, self._jlow * self._scale + self._center, self._jhigh * self._scale + self._center)
        else:
            k = factor_from_step(x, prev * self._scale + self._center, np.maximum(self._dhi, -self._dlo) * self._scale)
        if k is None:
            return False
        self._center *= k
        self._scale *= k
        z[:] = (x - self._center) / self._scale
        self._units_k = k
        self.n_jumps += 1
        self.jumped = True
        self.divergence = (f"input units switched: every coordinate is {k:.4g} x its value before "
                           f"({_NAMES.get(k, 'other units?')}); scaler rescaled to the new units")
        log.warning("%s: %s, input window restarted", self.method, self.divergence)
        if self._count:
            self._restart_window()
        self._learnt = False   # held until the weights have learnt a target in the new units
        return True

    def _motion_collapsed(self, z: np.ndarray) -> bool:
        """True when the normalised sample ``z`` (before it is learnt) ends a run of at least
        :data:`COLLAPSE_MIN_SAMPLES` samples, and more than the longest run seen that was not held, that each lie
        within :data:`COLLAPSE_RATIO` of the largest distance from zero seen and stepped from the one before by under
        :data:`COLLAPSE_STEP_RATIO` of the largest one-step change seen, in every coordinate; once held, while they
        stay within :data:`COLLAPSE_RATIO` of both (module docstring). A run starts only where some coordinate moved
        (a marker that repeats its position is no switch: ``frozen``); its next samples may repeat (a switched
        stream's quantised plateau); after a window restart (no sample before) a run goes on while ``z`` is near
        zero. False before a range is known."""
        run, held = self._collapse_run, self._collapse
        r = COLLAPSE_RATIO if held else COLLAPSE_STEP_RATIO
        if self._count:
            prev = self._hist[(self._count - 1) % self._cap]
            if abs(z[0] - prev[0]) > r * max(self._dhi[0], -self._dlo[0]):
                return self._end_run()   # (the usual case, first coordinate only: ~1 us a sample)
            d = z - prev
            if not (np.abs(d) <= r * np.maximum(self._dhi, -self._dlo)).all():   # (NaN: before a range is known)
                return self._end_run()
            if not run and not d.any():
                return False
        elif not run:
            return False
        lo, hi = self._lo * self._scale + self._center, self._hi * self._scale + self._center
        if not (np.abs(z * self._scale + self._center) <= COLLAPSE_RATIO * np.maximum(-lo, hi)).all():
            return self._end_run()
        self._collapse_run = run + 1
        return held or run + 1 >= max(COLLAPSE_MIN_SAMPLES, self._collapse_longest + 1)

    def _end_run(self) -> bool:
        """The run of collapsed samples ended (or none was going on); one that was not held may be the longest."""
        if self._collapse_run and not self._collapse:
            self._collapse_longest = max(self._collapse_longest, self._collapse_run)
        self._collapse_run = 0
        return False
