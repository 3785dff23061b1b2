"""The per-coordinate input-jump rule of :class:`realtime.base.Forecaster` (its ``_step``).

The forecaster's first jump rule lets a sample go as far outside the range of motion seen as a
forecast may (:data:`realtime.base.FORECAST_REACH` times the *largest* coordinate's range): on
session 201205181211 that is 30.5 mm (coordinate 2) where coordinate 0 moves over 5.2 mm, so a
10 mm step of coordinate 0 passed and was extrapolated (mix published forecasts 10-13 mm off, RLS
21-35 mm, for a worst error of 4-6 mm on the unmoved session).  This rule judges each coordinate
by its own motion: a sample is a jump in coordinate ``i`` when, in one step, it

* moved more than :data:`JUMP_STEP_RATIO` times the largest one-step change of coordinate ``i``
  seen so far (the samples learnt, no change across a gap or a jump), and
* landed further outside coordinate ``i``'s range seen than :data:`JUMP_RANGE` times that range
  (at least one z-unit, as :data:`~realtime.base.FORECAST_REACH`).

The largest change, not a median: positions are quantised (0.1 mm), and a median of one-step
changes is 0 or one quantum on a slow coordinate, so a robust z of it explodes; the largest is at
least one quantum as soon as the coordinate has moved at all (the floor at the resolution a median
needs), and every change since the first sample counts.  On the four shared marker sessions (every
coordinate, every sample once a forecaster has learnt) no sample outside its coordinate's range
stepped more than 2.25 times the largest change before it (201205101519, coordinate 7, 0.9 of its
range outside it; the others 2.0 or less), so neither condition alone makes a jump there; real
one-step changes reach 6.5 mm (201205101519, coordinate 2), so a step of a few mm is motion, not a
jump.  A 10 mm step (at any sample from 40 s on) of a coordinate moving over 5.2 mm or less on those
sessions is at least 9.8 times its largest change and 1.1 times its range outside it.  The rule
judges from ``norm_steps`` learnt one-step changes on (a whole warm-up of motion): checked from the
second sample, as the whole-range rule is where a model learns at once (``last``), it made a jump
on 201205181211 within its first 30 s.

Inside that band a step of more than :data:`JUMP_INSIDE_RATIO` times the coordinate's largest change
is a jump too: a 5 mm step of coordinate 0 on 201205181211 (largest change 0.7 mm) at sample 2800
landed inside it and was learnt across (RLS 8.3 mm off for 5.5 unmoved); no real one-step change from
the judging start on exceeds 2.57 times its coordinate's largest before it (201205101519, coordinate 8).

Short of a jump, a step of :data:`HOLD_RATIO` (2) times a coordinate's largest change or more is
held (:data:`HOLD_SLACK`): not learnt, and no forecast is published for that sample (``held``,
``n_held``), until the next sample decides it (:meth:`JumpMixin._judge`).  Nearer the sample before
it than the held one (in the coordinates that stepped), it came back: a glitch, dropped and never
learnt (``n_dropped``; its place is filled halfway between its neighbours and the window goes on, no
forecast for the sample that came back: :meth:`JumpMixin._drop`); else the step is confirmed and
learnt before the next sample, so the forecasts are those made without the hold.  Before, a
one-sample in-band glitch of 3 times the largest change (coordinate 5 of 201205181211 at sample
2800, 4.8 mm) was learnt and extrapolated: RLS published forecasts 18.9 mm off in the 6 s after it
(2.9 mm unglitched; mix 10.4 for 4.3).  On the four shared sessions 4 real samples step more than
twice their coordinate's largest change before them (201205101519: 3, 201205181211: 1; at most 2.57
times), each confirmed by the next: 4 held of about 7900, none dropped, forecasts bit for bit those
of the rule before where published (``benchmarks/bench_forecast_confirm.py``).
"""
from __future__ import annotations

import logging

import numpy as np

from realtime.scale_switch import ScaleSwitchMixin

log = logging.getLogger("realtime.base")   # the forecaster's warnings, under its name as before

#: A jump moves a coordinate more than this many times its largest one-step change seen.
JUMP_STEP_RATIO = 3.0
#: ... and lands further outside the coordinate's range seen than this times that range (>= 1 z).
JUMP_RANGE = 0.5
#: Inside that band, a jump moves a coordinate more than this many times its largest one-step change.
JUMP_INSIDE_RATIO = 4.0
#: A step short of a jump but of this many times a coordinate's largest change or more is held until
#: the next sample confirms it (:meth:`JumpMixin._judge`).
HOLD_RATIO = 2.0
#: A step of :data:`HOLD_RATIO` times is held whatever the rounding: steps and changes are differences
#: of normalised samples, so a one-sample glitch of exactly 2 times in input units (0.1 mm quanta) came
#: out a few ulps above or below 2 times in z-units, and was held at 21 of 120 places of a quantised
#: trace, by rounding alone (the rule said "more than").  A step counts from this relative margin
#: below the ratio on (far below a quantum's share of any real change: 1e-3 at 1000 quanta).  On the
#: four shared sessions as many samples are held as with "more than" (4: none lies within 1e-9 of 2 times
#: its coordinate's largest change).
HOLD_SLACK = 1e-9


def _at_least(step, ratio: float, largest):
    """``step`` at least ``ratio`` times ``largest`` (arrays), to within :data:`HOLD_SLACK`."""
    return step >= ratio * (1.0 - HOLD_SLACK) * largest


def coordinate_bounds(lo: np.ndarray, hi: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """Set ``low``/``high`` (n,) to the band outside which a sample may be a jump: each coordinate's
    range ``lo``..``hi`` widened on each side by :data:`JUMP_RANGE` times its own extent (at least
    one z-unit); NaN (never outside) where a coordinate has no sample yet."""
    with np.errstate(invalid="ignore"):
        reach = JUMP_RANGE * np.maximum(hi - lo, 1.0)
        np.subtract(lo, reach, out=low)
        np.add(hi, reach, out=high)
    bad = ~np.isfinite(hi - lo)
    low[bad] = high[bad] = np.nan


def step_bounds(dlo: np.ndarray, dhi: np.ndarray, slow: np.ndarray, shigh: np.ndarray) -> None:
    """Set ``slow``/``shigh`` (n,) to the one-step changes beyond which a sample is judged (held or a
    jump): -/+ :data:`HOLD_RATIO` times each coordinate's largest change seen (``dlo``/``dhi``);
    -/+inf (never) where a coordinate has no change seen yet."""
    np.multiply(np.maximum(dhi, -dlo), HOLD_RATIO * (1.0 - HOLD_SLACK), out=shigh)   # (as _at_least)
    np.negative(shigh, out=slow)


def held_coordinates(z, prev, dlo, dhi) -> np.ndarray:
    """The coordinates (bool mask, n) in which ``z`` stepped from ``prev`` by :data:`HOLD_RATIO` times
    their largest one-step change seen or more (never where none is seen yet; :data:`HOLD_SLACK`)."""
    largest = np.maximum(dhi, -dlo)
    with np.errstate(invalid="ignore"):
        return np.isfinite(largest) & _at_least(np.abs(z - prev), HOLD_RATIO, largest)


def coordinate_jumps(z, prev, low, high, dlo, dhi) -> np.ndarray:
    """The coordinates (bool mask, n) in which sample ``z`` is a jump from ``prev``: outside their
    band ``low``..``high`` (:func:`coordinate_bounds`) by a step of more than :data:`JUMP_STEP_RATIO`
    times their largest one-step change seen, or anywhere by a step of more than
    :data:`JUMP_INSIDE_RATIO` times it (``dlo``/``dhi``: the smallest and largest change; a
    coordinate with no change seen yet is never judged)."""
    largest = np.maximum(dhi, -dlo)
    with np.errstate(invalid="ignore"):
        outside = (z < low) | (z > high)
        step = np.abs(z - prev)
        return np.isfinite(largest) & ((outside & (step > JUMP_STEP_RATIO * largest))
                                       | (step > JUMP_INSIDE_RATIO * largest))


def steps_of_ring(hist: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest one-step change (n,) of the samples in a ring buffer ``hist``
    (cap, n) holding the newest ``min(count, cap)`` of ``count`` samples (older checkpoints)."""
    cap, n = hist.shape
    k = min(count, cap)
    if k < 2:
        return np.full(n, np.inf), np.full(n, -np.inf)
    rows = hist[[(count - k + j) % cap for j in range(k)]]
    d = np.diff(rows, axis=0)
    return d.min(axis=0), d.max(axis=0)


class JumpMixin(ScaleSwitchMixin):
    """The input-jump handling of :class:`realtime.base.Forecaster` (its attributes: ``_hist``,
    ``_count``, ``_cap``, ``_low``/``_high``, ``_jlow``/``_jhigh``, ``_lo``/``_hi``, ``_dlo``/``_dhi``,
    ``_n_changes``, ``_judge_from``, ``_center``, ``_scale``, ``_kern``, ``_held``, ``_suspect``; ``_explodes``,
    ``_restart_window``, ``_learn``)."""

    def _jumps(self, z: np.ndarray) -> np.ndarray | None:
        """The coordinates (bool mask) in which ``z`` jumped from the previous sample, or None.

        A jump lies further outside the range of motion seen than a forecast may go
        (:data:`realtime.base.FORECAST_REACH`, whole-range rule), or outside its own coordinate's
        range by a step that coordinate never made (the rule above: a 10 mm step of a coordinate moving over
        5 mm passed the whole-range rule where another coordinate moves over 30 mm).  An absurd
        jump (half its squared size over ``max_loss``) is left to the divergence check.  Sets
        ``_suspect`` where no coordinate jumped but one stepped :data:`HOLD_RATIO` times or more
        its largest change (:meth:`_judge` holds the sample)."""
        whole = self._kern.outside_range(z, self._low, self._high)
        own = self._n_changes >= self._judge_from   # the motion of a whole warm-up (norm_steps) seen
        prev = self._hist[(self._count - 1) % self._cap]
        if own:   # (_dstep: a work buffer, _step writes it again after this check)
            np.subtract(z, prev, out=self._dstep)
        self._suspect = False
        if not whole and not (own and (self._kern.outside_range(self._dstep, self._slow, self._shigh)
                                       or self._kern.outside_range(z, self._jlow, self._jhigh))):
            return None   # (the usual case: one subtraction and up to three kernel calls)
        if self._switch_units(z, prev):   # a marker switched to larger units (realtime.scale_switch): rescaled
            return None
        if self._explodes(z, prev):
            return None
        out = coordinate_jumps(z, prev, self._jlow, self._jhigh, self._dlo, self._dhi) if own \
            else np.zeros(self.n_coords, dtype=bool)
        if whole:
            out |= (z < self._low) | (z > self._high)
        if out.any():
            return out
        self._suspect = own and bool(held_coordinates(z, prev, self._dlo, self._dhi).any())
        return None

    def _judge(self, z: np.ndarray) -> bool:
        """Judge the sample ``z`` (normalised) against the one before; True: it is handled here (held,
        or learnt behind a dropped glitch's fill), not to be learnt by the caller.

        A held sample (``_held``) is decided by this one: nearer the sample before it than the held
        one in the coordinates that stepped, it came back (a glitch: dropped, never learnt, its place
        filled from its neighbours, ``n_dropped``, :meth:`_drop`); else the step is confirmed and learnt
        before ``z``, forecasts as without the hold.  Then ``z`` itself may be a jump
        (:meth:`_on_jump`) or, a step short of one but of :data:`HOLD_RATIO` times or more a coordinate's
        largest change, held (``held``, ``n_held``; ``ready`` False for this sample)."""
        if np.isfinite(self._held[0]):
            w = self._held.copy()
            self._held[:] = np.nan
            prev = self._hist[(self._count - 1) % self._cap]
            m = held_coordinates(w, prev, self._dlo, self._dhi)
            if float(np.abs(z - prev)[m].sum()) < float(np.abs(z - w)[m].sum()):
                return self._drop(w, prev, m, z)
            self._learn(w)
            if not (self._learnt and self._count):   # (learning it diverged: z starts afresh)
                return False
        out = self._jumps(z)
        if out is not None:
            self._on_jump(z, out)   # not motion continuing the window: a new window starts at this sample
            return False
        if not self._suspect:
            return False
        self._held[:] = z
        self.n_held += 1
        self.held = True
        self._have_forecast = False
        prev = self._hist[(self._count - 1) % self._cap]
        step = self._largest_step(z, prev, held_coordinates(z, prev, self._dlo, self._dhi))
        self.divergence = f"input step held until the next sample confirms it ({step})"
        return True

    @property
    def jump_detail(self) -> str:
        """Why the newest sample (``jumped``) restarted the window: a new origin, or units rescaled."""
        if self._units_k:
            return f"{self.divergence}; input window restarted"
        return (f"{self.divergence} (another coordinate frame?): new origin for the coordinates that jumped, "
                "input window restarted")

    def _largest_step(self, z: np.ndarray, prev: np.ndarray, m: np.ndarray) -> str:
        """"coordinate i: a step of X, its largest before Y": the largest step from ``prev`` to ``z``
        among the coordinates ``m``, against that coordinate's largest change seen."""
        i = int(np.argmax(np.where(m, np.abs(z - prev), -1.0)))
        return (f"coordinate {i}: a step of {abs(float(z[i] - prev[i])):.3g}, its largest before "
                f"{max(float(self._dhi[i]), -float(self._dlo[i])):.3g}")

    def _drop(self, w: np.ndarray, prev: np.ndarray, m: np.ndarray, z: np.ndarray) -> bool:
        """The held sample ``w`` came back to ``prev`` (coordinates ``m``) with ``z``: a glitch, not
        learnt.  Its place is filled halfway between its confirmed neighbours and ``z`` is learnt after
        it, so the window goes on; no forecast is made for ``z`` (the hold that names the drop), the
        next sample's is published.  True: ``z`` is learnt (:meth:`_judge`'s "handled").

        Until 2026-12-06 the window restarted, as after a one-sample gap: 12 held samples per dropped
        glitch (lookback 12, h 5), now 2.  Nothing of the glitch is learnt either way; the fill is one
        sample period of breathing on a straight line between its neighbours.  On the four shared
        sessions (``benchmarks/bench_forecast_glitch_fill.py``: one-sample glitches every 10 s from
        60 s on, 2 and 3 times the largest change, h 5, mix and RLS, 3 draws of their signs) the
        published RMSE in the 5 s after each is 0.98 x the restart's on average, the worst error
        0.99 x; in single cells up to 1.05 x and 1.11 x (learner noise at hard spots: one glitch
        alone leaves the forecasts after it within 0.27 mm of the unglitched session's, the restart
        up to 1.8 mm)."""
        self.n_dropped += 1
        self.divergence = (f"input glitch dropped ({self._largest_step(w, prev, m)}, came back); "
                           "its place filled from its neighbours")
        log.warning("%s: %s", self.method, self.divergence)
        self._learn(prev + 0.5 * (z - prev))   # (prev: a view of the ring; the fill is a new array first)
        self._learn(z)
        self._have_forecast = False
        return True

    def _on_jump(self, z: np.ndarray, out: np.ndarray) -> None:
        """The sample ``z`` jumped in the coordinates ``out`` (:meth:`_jumps`): from the previous
        sample it moved in one step further than the motion seen explains (a marker swapped to
        another coordinate frame, a tracker that locked onto something else, the patient moved).
        A window joining both sides extrapolates the step, and learners fitted to the old level
        forecast it (after a 50 mm step on a shared session: mix published forecasts 51 mm off,
        LMS 139 mm, SnAp-1 46 mm for seconds; after 10 mm on a coordinate moving over 5 mm, before
        the per-coordinate rule: mix 13 mm, RLS 35 mm).  So the step is taken as a change of origin:
        the coordinates that jumped are re-centred (``z``, the normalised sample, is changed in
        place to continue from the previous one; forecasts come out at the new level), the input
        window restarts as after a gap (weights kept) and the forecaster holds until the window is
        whole and the model has learnt a target after the jump (``jumped`` for this sample,
        ``n_jumps``, ``divergence`` says how far).  Checked only once the model has learnt (the
        range of motion is known by then): the second warm-up sample of two shared sessions is
        1.2-1.3 z-units from the first."""
        prev = self._hist[(self._count - 1) % self._cap]
        beyond = max(float(np.max((self._lo - z)[out])), float(np.max((z - self._hi)[out])))
        i = int(np.argmax(np.where(out, np.abs(z - prev), -1.0)))
        step, largest = abs(float(z[i] - prev[i])), max(float(self._dhi[i]), -float(self._dlo[i]))
        self._center[out] += (z[out] - prev[out]) * self._scale[out]
        z[out] = prev[out]
        self._units_k = 0.0
        self.n_jumps += 1
        self.jumped = True
        where = (f"{beyond:.3g} z-units outside the range seen" if beyond > 0
                 else f"{-beyond:.3g} z-units inside the range seen")
        self.divergence = (f"input jumped {where} (coordinate {i}: a step of "
                           f"{step:.3g}, its largest before {largest:.3g})")
        log.warning("%s: %s; new origin for %d coordinate(s), input window restarted", self.method,
                    self.divergence, int(out.sum()))
        self._restart_window()
        self._learnt = False   # held until the weights have learnt a target after the jump
