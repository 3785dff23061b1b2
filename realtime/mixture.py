"""``mix``: online aggregation of diverse experts (RLS over two windows, the method of analogues).

Experts (all learn from the same delayed targets as every method, in z-units):

* **long RLS**: RLS on the whole window (``lookback`` frames, at most ``MIX_MAX_INPUTS`` values,
  see :func:`mix_lags`), one expert per forgetting factor in :data:`MIX_FORGET` and initial
  regularisation in :data:`MIX_INIT_REG`;
* **short RLS**: the same on the newest half of the window (reacts faster, fewer parameters), with
  the weak prior only (:data:`MIX_SHORT_INIT_REG`);
* **analogues** (:mod:`kernels.analog`): the ``MIX_ANALOG_K`` past windows nearest to the
  current one (of the last ``MIX_ANALOG_MEMORY`` whose move is known), their moves averaged.
  Breathing repeats its shape; this nonlinear expert is meant for onsets, which a linear one
  extrapolates poorly.
* **shape analogues**: the same search on the window *centred on its newest frame* (every frame
  minus the newest sample), so that windows match by the shape of the recent trajectory
  whatever the level: a baseline drift moves every raw window away from its past analogues,
  not the centred one.  The raw expert keeps the level, which tells the phase on a stationary
  trace; the weights choose per stream.
* **kernel RLS** (online kernel regression): exact RLS on ``MIX_RFF_FEATURES`` random Fourier
  features (:func:`kernels.analog.rff_features`) of the centred window, predicting the h-step
  move; Gaussian kernel of width ``sqrt(m)`` for m window values in z-units (about the distance
  between two unrelated windows), features drawn once from the seed.  A smooth nonlinear
  regression of the move on the shape, learnt on every sample at a fixed cost.

Aggregation: exponentially weighted averaging (EWA), on two levels.  Each step the forecasts every
expert made ``horizon_steps`` ago for the newest sample are scored (mean squared z-error over
coordinates).  Nine *sub-mixtures*, one per learning rate eta in :data:`MIX_META_ETA` and loss
discount in :data:`MIX_META_DISCOUNT`, keep discounted cumulative losses ``L_mk`` and forecast
``F_m = sum_k w_mk f_k`` with ``w_mk ~ exp(-eta_m L_mk)``; their own forecasts are scored the same
way, and the output is the EWA of the sub-mixtures with ``mix_eta`` and ``mix_discount``.  Weights
learn only from errors that have become known.  For squared loss on a bounded range EWA is within
``ln K / eta`` of the best expert (exp-concavity; Kivinen & Warmuth 1999, Cesa-Bianchi & Lugosi
2006 ch. 3), so the top level is within ``ln 9 / mix_eta`` of the best sub-mixture: the learning
rate and the memory of the weights are learnt online instead of being fixed or selected (the
idea of aggregating over learning rates, e.g. van Erven & Koolen 2016).  Delayed feedback costs
about a factor h (Weinberger & Ordentlich 2002) and the discounts let the weights track a slowly
changing best expert.
Last, the **reach bound**: the forecast moves at most as far from the newest sample as the
largest h-step move seen so far, per coordinate.

A step is two Numba calls, :func:`kernels.mixstep.mix_train` and :func:`kernels.mixstep.mix_predict`
(the experts' kernels fused, same arithmetic: forecasts bit-identical to calling them one by one).
"""
from __future__ import annotations

import numpy as np

from realtime.base import Forecaster

MIX_FORGET = (0.99, 0.995, 0.998, 0.999)
MIX_INIT_REG = (0.1, 10.0)
MIX_SHORT_INIT_REG = (0.1,)  # the short window has half the parameters: the weak prior only
MIX_REACH = 1.0
MIX_MAX_INPUTS = 72  # an RLS expert sees at most this many window values (+ bias): 8 frames of 9 coordinates
MIX_ANALOG_K = 10  # analogues averaged
MIX_ANALOG_MEMORY = 1024  # past (window, move) pairs searched
MIX_RFF_FEATURES = 64  # random Fourier features of the kernel-RLS expert (64, 100, 200: the same accuracy)
MIX_RFF_FORGET = 0.998
MIX_RFF_INIT_REG = 0.1
# the sub-mixtures: EWA learning rate x loss discount (the learning rate is learnt, not chosen)
MIX_META_ETA = (0.05, 0.2, 1.0)
MIX_META_DISCOUNT = (0.97, 0.99, 0.998)


def mix_lags(lookback: int, max_frames: int = 8) -> np.ndarray:
    """Lags (0 = newest frame) an RLS expert regresses on, oldest first.

    All ``lookback`` frames when ``lookback <= max_frames``; otherwise the ``max_frames // 2`` newest
    frames and the rest evenly spaced over the older part of the window, ending at the oldest frame
    (lag ``lookback - 1``).  :class:`Mix` uses ``max_frames = MIX_MAX_INPUTS // n_coords`` (8 for 9
    coordinates, 72 for a 1-D trace), so each expert's input has at most 73 dims whatever the
    lookback and the O(m^2) updates stay cheap.
    """
    if lookback <= max_frames:
        return np.arange(lookback - 1, -1, -1)
    dense = max_frames // 2
    coarse = np.round(np.linspace(lookback - 1, dense, max_frames - dense)).astype(int)
    return np.unique(np.concatenate([coarse, np.arange(dense)]))[::-1]


class Mix(Forecaster):
    """EWA over long-window RLS, short-window RLS, analogue and shape-analogue experts (module docstring)."""

    method = "mix"
    _model_arrays = ("Ps", "Ws", "Ps_s", "Ws_s", "_pu", "_pu_s", "_nwork", "_rls_state", "_rls_state_s",
                     "_an_U", "_an_T", "_an_count", "_an_dist", "_sh_U", "_sh_T", "_sh_count", "_sh_x",
                     "_rf_Om", "_rf_b", "_rf_P", "_rf_W", "_rf_pu", "_rf_state", "_rf_phi", "_rf_pred",
                     "_cum", "_ring", "_ring_ok", "_wts", "_preds", "_preds_l", "_preds_s", "_reach", "_move",
                     "_meta_cum", "_meta_wts", "_meta_ring", "_sub")

    def _init_model(self, rng) -> None:
        n, L = self.n_coords, self.lookback
        max_frames = max(2, MIX_MAX_INPUTS // n)
        self._sel = self._selection(mix_lags(L, max_frames))
        self._sel_s = self._selection(mix_lags(max(1, -(-L // 2)), max_frames))
        self._lams = np.array([f for f in MIX_FORGET for _ in MIX_INIT_REG])
        self._lams_s = np.array([f for f in MIX_FORGET for _ in MIX_SHORT_INIT_REG])
        regs = np.array([r for _ in MIX_FORGET for r in MIX_INIT_REG])
        regs_s = np.array([r for _ in MIX_FORGET for r in MIX_SHORT_INIT_REG])
        k_rls, k_s = len(regs), len(regs_s)
        m, m_s = self._sel.shape[0], self._sel_s.shape[0]
        self._trace_max, self._trace_max_s = m / regs, m_s / regs_s
        self.Ps = np.stack([np.eye(m) / r for r in regs])
        self.Ws = np.zeros((k_rls, n, m))
        self.Ps_s = np.stack([np.eye(m_s) / r for r in regs_s])
        self.Ws_s = np.zeros((k_s, n, m_s))
        self._pu, self._pu_s = np.zeros(m), np.zeros(m_s)
        self._nwork = np.zeros((2, n))
        self._rls_state, self._rls_state_s = np.zeros((k_rls, 2)), np.zeros((k_s, 2))
        self._an_U = np.zeros((MIX_ANALOG_MEMORY, m - 1))  # window values without the bias
        self._an_T = np.zeros((MIX_ANALOG_MEMORY, n))
        self._an_count = np.zeros(1)
        self._an_dist = np.zeros(MIX_ANALOG_K)
        self._sh_U = np.zeros((MIX_ANALOG_MEMORY, m - 1))  # centred windows (shape analogues)
        self._sh_T = np.zeros((MIX_ANALOG_MEMORY, n))
        self._sh_count = np.zeros(1)
        self._sh_x = np.zeros(m - 1)
        D = MIX_RFF_FEATURES
        self._rf_Om = rng.normal(0.0, 1.0 / np.sqrt(m - 1), (D, m - 1))  # kernel width sqrt(m - 1)
        self._rf_b = rng.uniform(0.0, 2.0 * np.pi, D)
        self._rf_P = np.eye(D + 1)[None] / MIX_RFF_INIT_REG
        self._rf_W = np.zeros((1, n, D + 1))
        self._rf_pu, self._rf_phi = np.zeros(D + 1), np.zeros(D + 1)
        self._rf_state, self._rf_pred = np.zeros((1, 2)), np.zeros((1, n))
        self._rf_lam, self._rf_trace_max = np.array([MIX_RFF_FORGET]), np.array([(D + 1) / MIX_RFF_INIT_REG])
        # long RLS, short RLS, kernel RLS, analogues, shape analogues (last three rows)
        k = k_rls + k_s + 3
        self._etas = np.array([e for e in MIX_META_ETA for _ in MIX_META_DISCOUNT])
        self._discounts = np.array([d for _ in MIX_META_ETA for d in MIX_META_DISCOUNT])
        n_sub = self._etas.shape[0]
        self._cum = np.zeros((n_sub, k))  # discounted expert losses, per sub-mixture
        self._wts = np.full((n_sub, k), 1.0 / k)
        self._sub = np.zeros((n_sub, n))  # the sub-mixtures' forecasts
        self._meta_cum = np.zeros(n_sub)
        self._meta_wts = np.full(n_sub, 1.0 / n_sub)
        self._ring = np.zeros((self.horizon_steps + 1, k, n))  # expert forecasts, by sample count
        self._meta_ring = np.zeros((self.horizon_steps + 1, n_sub, n))  # sub-mixture forecasts
        self._ring_ok = np.zeros(self.horizon_steps + 1)
        self._preds = np.zeros((k, n))
        self._preds_l = np.zeros((k_rls, n))
        self._preds_s = np.zeros((k_s, n))
        self._reach = np.zeros(n)  # largest |z(t) - z(t - h)| seen so far, per coordinate
        self._move = np.zeros(n)
        # work buffers of the fused step (kernels.mixstep), not model state
        self._x, self._x_s = np.zeros(m), np.zeros(m_s)
        self._seeds = np.zeros((2, MIX_ANALOG_K), np.int64)  # the last analogue winners: visited first
        self._mark = np.zeros(MIX_ANALOG_MEMORY, np.uint8)

    def _selection(self, lags) -> np.ndarray:
        n = self.n_coords
        frames = self.lookback - 1 - lags  # frame index in the window, oldest first
        return np.concatenate([(frames[:, None] * n + np.arange(n)).ravel(), [self.m - 1]])

    _rf_scale = float(np.sqrt(2.0 / MIX_RFF_FEATURES))

    @property
    def n_experts(self) -> int:
        return self._cum.shape[1]

    def _restart_state(self) -> None:
        self._ring_ok[:] = 0.0

    def _train(self, u, target) -> float:
        slot = self._count % self._ring.shape[0]  # the forecasts made h samples ago for this target
        return self._steps.mix_train(
            u, target, slot, self._sel, self._sel_s, self._x, self._x_s, self._move, self._reach, self._ring,
            self._ring_ok, self._cum, self._discounts, self._meta_cum, self._meta_ring, self.config.mix_discount,
            self._an_U, self._an_T, self._an_count, self._sh_U, self._sh_T, self._sh_count, self._sh_x,
            self._rf_Om, self._rf_b, self._rf_scale, self._rf_phi, self._rf_P, self._rf_W, self._rf_pu,
            self._rf_state, self._rf_lam, self._rf_trace_max, self._rf_pred, self.Ps, self.Ws, self._pu, self._nwork,
            self._rls_state, self._lams, self._trace_max, self._preds_l, self.Ps_s, self.Ws_s, self._pu_s,
            self._rls_state_s, self._lams_s, self._trace_max_s, self._preds_s, self._preds)

    def _predict(self, u) -> None:
        slot = (self._count + self.horizon_steps) % self._ring.shape[0]
        self._steps.mix_predict(
            u, slot, self._sel, self._sel_s, self._x, self._x_s, self._reach, float(MIX_REACH), self._ring,
            self._ring_ok, self._cum, self._etas, self._wts, self._sub, self._meta_cum, self.config.mix_eta,
            self._meta_wts, self._meta_ring, self._an_U, self._an_T, self._an_count, self._sh_U, self._sh_T,
            self._sh_count, self._sh_x, MIX_ANALOG_K, self._an_dist, self._seeds, self._mark, self._rf_Om, self._rf_b,
            self._rf_scale, self._rf_phi, self._rf_W, self._rf_pred, self.Ws, self._preds_l, self.Ws_s, self._preds_s,
            self._preds, self._y)
