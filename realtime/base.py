"""The River-style contract shared by every online forecaster.

``learn_one(x)`` takes the newest sample of all coordinates (any count: 9 for 3 markers x 3 axes,
1 for an amplitude trace); ``predict_one()`` returns the forecast ``horizon_steps`` samples ahead
in the input's units.  Learning is delayed-supervised: when sample ``t`` arrives, the input
window that ended at ``t - horizon_steps`` gets its target and one training step is made.

Stream handling done for every method (here the sample checks; the per-sample learning step, window
restarts and resets in :mod:`realtime.learning`):

* normalisation (Pohl et al.): positions minus the first sample, then a z-score fitted on the
  first ``norm_steps`` valid samples; until then samples are buffered and, once the scaler is
  fitted, replayed through the learner (so learning starts at the first sample, as in the
  papers).  ``predict_one`` returns the last sample until a forecast exists (``ready`` False).
* missing samples (any NaN/inf coordinate) are skipped and counted (``n_skipped``), and the
  forecaster holds while they last (``ready`` False: a forecast made before them is stale); after a gap
  longer than ``max_gap_steps`` (default 0: any gap) the input window restarts (weights are kept)
  and the forecaster holds until the window is full again, so no window spans a gap (a window
  joining samples from both sides of a gap is a time-warped input: the worst errors after
  invalid surrogate samples came from it).
* frozen input (``max_frozen_steps`` > 0): that many consecutive samples identical in every
  coordinate are a sensor or tracker repeating its last value, not a body at rest (breathing
  moves a marker by more than its resolution within a second or two); from the run's
  ``max_frozen_steps``-th sample on, samples are missing data (``frozen`` True, ``n_frozen``
  counts them), so the forecaster holds and a long freeze restarts the window like a gap.
* divergence: a non-finite or exploding training loss (> ``max_loss`` in z-units) or forecast
  (half its squared distance from the newest sample > ``max_loss``), or, while the window fills
  and no training step checks it, a jump from the previous sample that large, resets the model
  to a fresh seeded initialisation; ``diverged`` is True after a step that reset, ``n_resets``
  counts them, ``divergence`` says why and a warning is logged.
* an input jump (:meth:`Forecaster._on_jump`): a sample out of the range of motion seen in one
  step (further than a forecast may go, below, or out of its own coordinate's range by a step that
  coordinate never made, :mod:`realtime.jumps`) is a new origin for the coordinates that jumped;
  the window restarts and the forecaster holds until it is whole again (``jumped``, ``n_jumps``).
  A step short of a jump but of :data:`realtime.jumps.HOLD_RATIO` times a coordinate's
  largest change or more is held (not learnt, ``ready`` False: ``held``, ``n_held``) until the next sample
  confirms it (learnt then) or comes back (a glitch: dropped, its place filled from its neighbours,
  ``n_dropped``; no forecast for the sample that came back).
* a forecast outside the range of motion seen so far: in any coordinate further below its minimum
  or above its maximum (normalised samples learnt) than :data:`~realtime.learning.FORECAST_REACH` times the largest
  per-coordinate range (at least one z-unit) is withheld (``ready`` False, ``out_of_range``
  True, ``divergence`` says how far): breathing stays within a few z-units, a forecast of 50 or
  500 is a runaway learner, never a number to publish (the loss and explosion bounds above let
  forecasts up to ~140 z-units through).  The learner keeps learning, and a later forecast back
  in range is published; one that stays out for more than ``lookback + horizon_steps``
  consecutive samples (a whole window of targets learnt without coming back) resets the model
  as above.
* recent errors (:mod:`realtime.trust`): forecasts whose realised errors over the last few windows
  are far above last-value's are withheld (``untrusted``) until they come back; a whole window of
  resets in a row starts the forecaster afresh (its scaler refitted: a marker switched units).
"""
from __future__ import annotations

import copy
import math

import numpy as np

from realtime.config import MAX_FROZEN_S, ForecasterConfig, frozen_steps  # noqa: F401  (re-exported)
from realtime.errors import ForecastError
from realtime.jumps import JumpMixin
from realtime.learning import FORECAST_REACH, LearningMixin  # noqa: F401  (FORECAST_REACH re-exported)
from realtime.state import StateMixin
from realtime.trust import TrustMixin


class Forecaster(LearningMixin, StateMixin, JumpMixin, TrustMixin):
    """Base class: normalisation, ring buffer of past samples, NaN and divergence handling.

    Subclasses set ``method`` and implement ``_init_model(rng)``, ``_train(u, target)`` (one
    delayed-supervised step, returns the loss) and ``_predict(u)`` (writes ``self._y``), and
    list their state arrays in ``_model_arrays``.
    """

    method = "base"
    _model_arrays: tuple[str, ...] = ()
    _uses_window = True
    _needs_training = True   # False: a method whose forecast needs no learnt weights (last)

    def __init__(self, config: ForecasterConfig):
        self.config = config.validate()
        c = self.config
        self.n_coords = c.n_coords
        self.horizon_steps = c.horizon_steps
        self.lookback = c.lookback
        self.m = c.n_coords * c.lookback + 1
        self._cap = c.lookback + c.horizon_steps + 1
        self._hist = np.zeros((self._cap, c.n_coords))
        self._u_tr = np.zeros(self.m)
        self._u_pr = np.zeros(self.m)
        self._y = np.zeros(c.n_coords)
        self._last = np.full(c.n_coords, np.nan)
        self._lo = np.full(c.n_coords, np.inf)    # range of the normalised samples learnt so far
        self._hi = np.full(c.n_coords, -np.inf)
        self._low = np.full(c.n_coords, np.nan)    # where a forecast may go (from _lo, _hi)
        self._high = np.full(c.n_coords, np.nan)
        self._jlow = np.full(c.n_coords, np.nan)   # a sample outside this band may be a jump (realtime.jumps)
        self._jhigh = np.full(c.n_coords, np.nan)
        self._dlo = np.full(c.n_coords, np.inf)   # smallest and largest one-step change learnt, per coordinate
        self._dhi = np.full(c.n_coords, -np.inf)
        self._slow = np.full(c.n_coords, -np.inf)   # a one-step change beyond these is a jump (realtime.jumps)
        self._shigh = np.full(c.n_coords, np.inf)
        self._n_changes = 0   # one-step changes in _dlo/_dhi (the rule judges from norm_steps of them on)
        self._judge_from = max(c.norm_steps, 1)
        self._dstep = np.zeros(c.n_coords)   # work buffers: a one-step change, widen_range's unused bounds
        self._dlow, self._dhigh = np.zeros(c.n_coords), np.zeros(c.n_coords)
        self._center = np.zeros(c.n_coords)
        self._scale = np.ones(c.n_coords)
        self._fitted = False
        self._warm: list[np.ndarray] = []
        self._count = 0  # normalised samples in the ring since the last window restart
        self._gap = 0
        self._same = 0  # consecutive repeats of the newest valid sample (max_frozen_steps)
        self._have_forecast = False
        self._trained = False  # a training step ran on the newest sample (see train_forecast)
        self._learnt = False   # a training step ran since the model was (re)initialised (ready needs one)
        self.n_seen = 0
        self.n_skipped = 0
        self.n_frozen = 0
        self.n_resets = 0
        self.n_jumps = 0       # samples that jumped out of the range of motion seen (window restarted)
        self.jumped = False    # the newest sample was one of them
        self._units_k = 0.0    # the unit factor of the last jump, 0: none (realtime.scale_switch)
        self._held = np.full(c.n_coords, np.nan)   # a sample held until the next confirms it (realtime.jumps)
        self._suspect = False  # work flag of _jumps: the sample stepped far enough to be held
        self.n_held = 0        # samples held for confirmation
        self.n_dropped = 0     # held samples not learnt (came back, or a gap or the end came first)
        self.held = False      # the newest sample is held for confirmation
        self.diverged = False
        self.divergence = ""   # why the last reset or withheld forecast happened (not part of the state)
        self._outside = 0      # consecutive forecasts outside the range seen (FORECAST_REACH)
        self.last_loss = float("nan")
        self._init_trust()
        self._kern, self._steps = _backend(c.backend)
        self._init_model(np.random.default_rng([c.seed, 0]))

    def __getstate__(self):  # kernel modules are looked up again on unpickling
        state = dict(self.__dict__)
        state.pop("_kern", None)
        state.pop("_steps", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._kern, self._steps = _backend(self.config.backend)

    # ------------------------------------------------------------------ contract
    def learn_one(self, x) -> None:
        """Take the newest sample (n_coords,) in input units; NaN/inf samples are skipped."""
        try:
            x = np.asarray(x, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ForecastError(f"sample must be {self.n_coords} number(s), got {x!r:.80}") from None
        if x.shape[0] != self.n_coords:
            raise ForecastError(f"sample has {x.shape[0]} coordinate(s), this forecaster expects {self.n_coords}")
        self.diverged = False
        self.jumped = False
        self.held = False
        self._trained = False
        if not math.isfinite(x.sum()):  # any NaN or inf coordinate
            self.n_skipped += 1
            self._gap += 1
            return
        if self.config.max_frozen_steps and (x == self._last).all():
            self._same += 1
            if self.frozen:   # a repeated value, not a sample: missing data
                self.n_frozen += 1
                self._gap += 1
                return
        else:
            self._same = 0
        self.n_seen += 1
        self._last[:] = x
        if self._gap > self.config.max_gap_steps:
            if self._fitted and self._warm:   # replay what came before the gap first
                self._catch_up(len(self._warm))
            self._restart_window()
        self._gap = 0
        if not self._fitted:
            self._warm.append(x)
            if len(self._warm) >= max(self.config.norm_steps, 1):
                self._fit_scaler(np.asarray(self._warm))
                self._catch_up(self.config.catch_up_steps or len(self._warm))
            return
        if self._warm:   # still replaying the warm-up samples: this one queues behind them
            self._warm.append(x)
            self._catch_up(self.config.catch_up_steps + 1)
            return
        self._step((x - self._center) / self._scale)

    def predict_one(self) -> np.ndarray:
        """Forecast (n_coords,) float64 ``horizon_steps`` ahead of the newest sample, input units.

        Before the first forecast exists (warm-up, window filling) and while the newest sample is
        missing, this is the newest valid sample (``ready`` False).
        """
        if not self.ready:
            return self._last.copy()
        return self._y * self._scale + self._center

    def train_forecast(self) -> np.ndarray | None:
        """The forecast of the newest sample made by the training chain just before learning it.

        That is the window ending ``horizon_steps`` samples earlier, pushed through the weights
        as they stood *after* learning every sample up to the previous one.  Pohl et al.'s
        published MATLAB code scores exactly this (it predicts and updates with y(t+h) in one
        iteration), so it is the forecast of ``--supervision paper``.  It is **not causal**: a
        deployed system would have to make it ``horizon_steps - 1`` samples before the weights
        it uses existed.  None when the newest sample trained nothing (warm-up, a gap, a method
        without online learning) or the training step diverged.
        """
        nwork = getattr(self, "_nwork", None)  # row 0: the kernels' pre-update output
        if not self._trained or nwork is None:
            return None
        return nwork[0] * self._scale + self._center

    @property
    def ready(self) -> bool:
        """True once ``predict_one`` returns a model forecast rather than the last sample.

        False while the newest sample is missing: the forecast made before a gap is stale and is
        not handed out again as the forecast of a later step.  False, too, until the model has
        made a training step since it was initialised or reset: the first target arrives
        ``lookback + horizon_steps`` samples after the scaler fit, so with a horizon longer than
        the warm-up the window is full long before (until 2026-12-05 the untrained weights'
        output, the warm-up mean, was handed out as a forecast: 10 mm off on a real session at
        horizon 6 s).
        """
        return (self._made and self._outside == 0 and not self._distrust and not self._bl_hold
                and not self._post_gap_hold())

    @property
    def _made(self) -> bool:
        """A model forecast of the newest sample exists (published unless :attr:`out_of_range`)."""
        return (self._have_forecast and (self._learnt or not self._needs_training) and not self._warm
                and self._gap == 0)

    @property
    def out_of_range(self) -> bool:
        """True while the forecast of the newest sample, which would be published otherwise, is
        withheld for leaving the range of motion seen so far (:data:`realtime.learning.FORECAST_REACH`;
        ``divergence`` says how far)."""
        return self._outside > 0 and self._made

    @property
    def frozen(self) -> bool:
        """True while the newest ``max_frozen_steps`` (or more) valid samples are all identical."""
        m = self.config.max_frozen_steps
        return m > 0 and self._same + 1 >= m

    @property
    def healthy(self) -> bool:
        """False right after a step that detected divergence and reset the model."""
        return not self.diverged

    def clone(self) -> "Forecaster":
        """A fresh, unfitted forecaster with the same configuration (River's ``clone``)."""
        return type(self)(self.config)

    def copy(self) -> "Forecaster":
        """A deep copy including the learned state."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        c = self.config
        return (f"{type(self).__name__}(method={self.method!r}, horizon_steps={c.horizon_steps}, "
                f"lookback={c.lookback}, hidden={c.hidden}, lr={c.lr}, seed={c.seed})")

    # ------------------------------------------------------------------ for subclasses
    # (the per-sample learning step that calls these: realtime.learning.LearningMixin)
    def _init_model(self, rng) -> None:
        raise NotImplementedError

    def _restart_state(self) -> None:
        """Forget recurrent state (not weights) after a gap; default: nothing to forget."""

    def _train(self, u: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def _predict(self, u: np.ndarray) -> None:
        raise NotImplementedError


_BACKENDS: dict = {}


def _backend(name: str):
    if name not in _BACKENDS:
        if name == "numpy":
            from kernels import twins
            _BACKENDS[name] = (twins, twins)
        else:
            from kernels import linalg, rnn
            _BACKENDS[name] = (linalg, rnn)
    return _BACKENDS[name]
