"""The registered forecasting methods: online RNNs (RTRL, UORO, SnAp-1, DNI), LMS, linear
regression and the no-prediction baseline.

RNN learners keep two recurrent chains with shared weights: the *training* chain runs on the
input windows whose target is known (lagging ``horizon_steps`` behind) and carries the influence
(RTRL, SnAp-1), its rank-one estimate (UORO) or the synthetic-gradient module (DNI); the
*prediction* chain runs on the newest window with the latest weights and gives the forecast.
"""
from __future__ import annotations

import numpy as np

from realtime.base import Forecaster


class _RNN(Forecaster):
    _rnn_arrays = ("A", "B", "C", "h_tr", "h_pr", "_work", "_nwork")
    _extra: tuple[str, ...] = ()

    def __init__(self, config):
        self._model_arrays = self._rnn_arrays + self._extra
        super().__init__(config)

    def _init_model(self, rng) -> None:
        q, n, m, s = self.config.hidden, self.config.n_coords, self.m, self.config.init_std
        self.A = rng.normal(0.0, s, (q, q))
        self.B = rng.normal(0.0, s, (q, m))
        self.C = rng.normal(0.0, s, (n, q))
        self.h_tr = np.zeros(q)
        self.h_pr = np.zeros(q)
        self._work = np.zeros((6, q))
        self._nwork = np.zeros((2, n))
        self._init_learning(rng)

    def _restart_state(self) -> None:
        self.h_tr[:] = 0.0
        self.h_pr[:] = 0.0
        self._init_learning(None)

    def _init_learning(self, rng) -> None:
        raise NotImplementedError

    def _predict(self, u) -> None:
        w = self._work
        self._kern.rnn_predict(self.A, self.B, self.C, self.h_pr, u, w[3], w[4], self._y)


class RTRL(_RNN):
    """Real-time recurrent learning: exact influence ``dh/d[A, B]`` (q x q x (q + m)) per step."""

    method = "rtrl"
    _extra = ("JA", "JB", "TA", "TB")

    def _init_learning(self, rng) -> None:
        q, m = self.config.hidden, self.m
        self.JA, self.JB = np.zeros((q, q, q)), np.zeros((q, q, m))
        self.TA, self.TB = np.zeros((q, q, q)), np.zeros((q, q, m))

    def _train(self, u, target) -> float:
        loss, _ = self._steps.rtrl_step(self.A, self.B, self.C, self.h_tr, u, target, self.JA, self.JB,
                                        self.TA, self.TB, self._work, self._nwork, self.config.lr,
                                        self.config.clip)
        return loss


class SnAp1(_RNN):
    """SnAp-1: the influence entries ``dh_i / dW[i, :]`` only (q x (q + m))."""

    method = "snap1"
    _extra = ("JA", "JB", "jn")

    def _init_learning(self, rng) -> None:
        q, m = self.config.hidden, self.m
        self.JA, self.JB, self.jn = np.zeros((q, q)), np.zeros((q, m)), np.zeros(q)

    def _train(self, u, target) -> float:
        loss, _ = self._steps.snap1_step(self.A, self.B, self.C, self.h_tr, u, target, self.JA, self.JB,
                                         self.jn, self._work, self._nwork, self.config.lr, self.config.clip)
        return loss


class UORO(_RNN):
    """UORO: unbiased rank-one influence estimate with seeded random signs.

    ``estimates`` = k > 1 keeps k independent estimates (own sign streams) and averages their
    gradients: still unbiased, 1/k of the variance, k times the influence-update cost.
    """

    method = "uoro"
    _extra = ("ht", "WA", "WB", "wnorm", "rng_state", "GA", "GB")

    def _init_learning(self, rng) -> None:
        q, m, k = self.config.hidden, self.m, self.config.estimates
        self.ht, self.WA, self.WB = np.zeros((k, q)), np.zeros((k, q, q)), np.zeros((k, q, m))
        self.wnorm = np.zeros(k)
        if rng is not None:  # a window restart keeps the sign generators running
            self.rng_state = rng.integers(1, 2 ** 63, size=k).astype(np.uint64)
            self.GA, self.GB = (np.zeros((q, q)), np.zeros((q, m))) if k > 1 else (np.zeros(0), np.zeros(0))

    def _train(self, u, target) -> float:
        c = self.config
        if c.estimates == 1:  # the fused single-estimate kernel
            loss, _ = self._steps.uoro_step(self.A, self.B, self.C, self.h_tr, u, target, self.ht[0], self.WA[0],
                                            self.WB[0], self.wnorm, self.rng_state, self._work, self._nwork,
                                            c.lr, c.clip)
        else:
            loss, _ = self._steps.uoro_k_step(self.A, self.B, self.C, self.h_tr, u, target, self.ht, self.WA,
                                              self.WB, self.wnorm, self.rng_state, self.GA, self.GB, self._work,
                                              self._nwork, c.lr, c.clip)
        return loss


class DNI(_RNN):
    """DNI: a linear synthetic-gradient module estimates the credit of future losses."""

    method = "dni"
    _extra = ("S", "f_cur", "f_prev", "c_prev", "has_prev")

    def _init_learning(self, rng) -> None:
        q, n = self.config.hidden, self.config.n_coords
        if rng is not None:
            self.S = np.zeros((q, q + n + 1))
        self.f_cur, self.f_prev = np.zeros(q + n + 1), np.zeros(q + n + 1)
        self.c_prev, self.has_prev = np.zeros(q), np.zeros(1)

    def _train(self, u, target) -> float:
        c = self.config
        loss, _ = self._steps.dni_step(self.A, self.B, self.C, self.h_tr, u, target, self.S, self.f_cur, self.f_prev,
                                       self.c_prev, self.has_prev, self._work, self._nwork, c.lr,
                                       c.sg_lr or c.lr, c.clip)
        return loss


class LMS(Forecaster):
    """Least mean squares on the input window (L frames of all coordinates + bias)."""

    method = "lms"
    _model_arrays = ("W", "_nwork")

    def _init_model(self, rng) -> None:
        self.W = np.zeros((self.n_coords, self.m))
        self._nwork = np.zeros((2, self.n_coords))

    def _train(self, u, target) -> float:
        loss, _ = self._steps.lms_step(self.W, u, target, self._nwork, self.config.lr, self.config.clip)
        return loss

    def _predict(self, u) -> None:
        self._y[:] = self.W @ u


class RLS(Forecaster):
    """Exponentially weighted recursive least squares on the input window (L frames + bias).

    One model per horizon (delayed supervision as every method), forgetting factor ``forget``,
    ``P(0) = I / init_reg``; the numerically robust form of :mod:`kernels.rls` (symmetric ``P``,
    trace capped at its initial value, periodic re-conditioning).
    """

    method = "rls"
    _model_arrays = ("W", "P", "_pu", "_nwork", "_rls_state")

    def _init_model(self, rng) -> None:
        self.W = np.zeros((self.n_coords, self.m))
        self.P = np.eye(self.m) / self.config.init_reg
        self._pu = np.zeros(self.m)
        self._nwork = np.zeros((2, self.n_coords))
        self._rls_state = np.zeros(2)
        self._trace_max = self.m / self.config.init_reg

    def _train(self, u, target) -> float:
        loss, _ = self._steps.rls_step(self.P, self.W, u, target, self._pu, self._nwork, self._rls_state,
                                       self.config.forget, self._trace_max)
        return loss

    def _predict(self, u) -> None:
        self._steps.rls_predict(self.W, u, self._y)


MIX_FORGET = (0.99, 0.995, 0.998, 0.999)
MIX_INIT_REG = (0.1, 10.0)
MIX_REACH = 1.0
MIX_MAX_INPUTS = 72  # the experts see at most this many window values (+ bias): 8 frames of 9 coordinates


def mix_lags(lookback: int, max_frames: int = 8) -> np.ndarray:
    """Lags (0 = newest frame) the mixture's experts regress on, oldest first.

    All ``lookback`` frames when ``lookback <= max_frames``; otherwise the ``max_frames // 2`` newest
    frames and the rest evenly spaced over the older part of the window, ending at the oldest frame
    (lag ``lookback - 1``).  :class:`Mix` uses ``max_frames = MIX_MAX_INPUTS // n_coords`` (8 for 9
    coordinates, 72 for a 1-D trace), so each expert's input has at most 73 dims whatever the
    lookback and the 8 O(m^2) updates stay cheap.
    """
    if lookback <= max_frames:
        return np.arange(lookback - 1, -1, -1)
    dense = max_frames // 2
    coarse = np.round(np.linspace(lookback - 1, dense, max_frames - dense)).astype(int)
    return np.unique(np.concatenate([coarse, np.arange(dense)]))[::-1]


class Mix(Forecaster):
    """Online aggregation of RLS experts by exponentially weighted averaging (EWA), self-tuning.

    Experts: RLS on the same window for every forgetting factor in :data:`MIX_FORGET` and initial
    regularisation in :data:`MIX_INIT_REG` (8 experts, each as :class:`RLS`).  Each step every
    expert learns the newest target; the forecasts the experts made ``horizon_steps`` ago for that
    target are scored (mean squared z-error over the coordinates), the discounted cumulative loss
    ``L_k`` updated, and the forecast is ``sum_k w_k f_k`` with ``w_k ~ exp(-mix_eta L_k)``.
    Weights therefore learn only from errors that have become known (delayed feedback).  For
    squared loss on a bounded range EWA's mixture is within ``ln K / eta`` of the best expert
    (exp-concavity; Kivinen & Warmuth 1999, Cesa-Bianchi & Lugosi 2006 ch. 3); with feedback
    delayed by h the bound grows by a factor of about h (Weinberger & Ordentlich 2002), and the
    discount turns it into a bound against a slowly changing best expert.  No hyperparameter is
    picked per session beyond the lookback.
    """

    method = "mix"
    _model_arrays = ("Ps", "Ws", "_pu", "_nwork", "_rls_state", "_cum", "_ring", "_ring_ok", "_wts", "_preds",
                     "_reach")

    def _init_model(self, rng) -> None:
        k = len(MIX_FORGET) * len(MIX_INIT_REG)
        n = self.n_coords
        lags = mix_lags(self.lookback, max(2, MIX_MAX_INPUTS // n))
        frames = self.lookback - 1 - lags  # frame index in the window, oldest first
        self._sel = np.concatenate([(frames[:, None] * n + np.arange(n)).ravel(), [self.m - 1]])
        self._full = self._sel.shape[0] == self.m
        m = self._sel.shape[0]
        self._lams = np.array([f for f in MIX_FORGET for _ in MIX_INIT_REG])
        regs = np.array([r for _ in MIX_FORGET for r in MIX_INIT_REG])
        self._trace_max = m / regs
        self.Ps = np.stack([np.eye(m) / r for r in regs])
        self.Ws = np.zeros((k, n, m))
        self._pu = np.zeros(m)
        self._nwork = np.zeros((2, n))
        self._rls_state = np.zeros((k, 2))
        self._cum = np.zeros(k)
        self._ring = np.zeros((self.horizon_steps + 1, k, n))  # expert forecasts, by sample count
        self._ring_ok = np.zeros(self.horizon_steps + 1)
        self._wts = np.full(k, 1.0 / k)
        self._preds = np.zeros((k, n))
        self._reach = np.zeros(n)  # largest |z(t) - z(t - h)| seen so far, per coordinate

    def _restart_state(self) -> None:
        self._ring_ok[:] = 0.0

    def _train(self, u, target) -> float:
        n = self.n_coords
        np.maximum(self._reach, np.abs(target - u[-1 - n:-1]), out=self._reach)
        slot = self._count % self._ring.shape[0]  # the forecasts made h samples ago for this target
        if self._ring_ok[slot]:
            self._steps.ewa_learn(self._cum, self._ring[slot], target, self.config.mix_discount)
            self._ring_ok[slot] = 0.0
        # every expert learns; _preds gets each one's output before learning (paper supervision)
        loss = self._steps.mix_rls_step(self.Ps, self.Ws, u if self._full else u[self._sel], target, self._pu,
                                        self._nwork, self._rls_state, self._lams, self._trace_max, self._preds)
        self._steps.ewa_predict(self._cum, self.config.mix_eta, self._preds, self._wts, self._nwork[0])
        return loss

    def _predict(self, u) -> None:
        self._steps.mix_rls_predict(self.Ws, u if self._full else u[self._sel], self._preds)
        slot = (self._count + self.horizon_steps) % self._ring.shape[0]
        self._ring[slot] = self._preds
        self._ring_ok[slot] = 1.0
        self._steps.ewa_predict(self._cum, self.config.mix_eta, self._preds, self._wts, self._y)
        if MIX_REACH:
            last = u[-1 - self.n_coords:-1]
            np.clip(self._y, last - MIX_REACH * self._reach, last + MIX_REACH * self._reach, out=self._y)


class LinReg(Forecaster):
    """Offline (ridge-regularised) least squares on the first ``fit_steps`` samples, then fixed.

    Before the fit it forecasts the last sample.  The ridge (``ridge`` times the mean diagonal
    of the normal matrix) keeps long lookbacks (up to 541 inputs from 300 samples in the
    selection window) from interpolating noise.
    """

    method = "linreg"
    _model_arrays = ("W", "_xtx", "_xty", "_is_fit")

    def _init_model(self, rng) -> None:
        self.W = np.zeros((self.n_coords, self.m))
        self._xtx = np.zeros((self.m, self.m))
        self._xty = np.zeros((self.m, self.n_coords))
        self._is_fit = np.zeros(1)

    def _train(self, u, target) -> float:
        if self._is_fit[0]:
            return 0.0
        self._xtx += np.outer(u, u)
        self._xty += np.outer(u, target)
        if self.n_seen >= self.config.fit_steps:
            ridge = max(self.config.ridge, 1e-9) * max(np.trace(self._xtx) / self.m, 1e-12)
            self.W[:] = np.linalg.solve(self._xtx + ridge * np.eye(self.m), self._xty).T
            self._is_fit[0] = 1.0
        return 0.0

    def _predict(self, u) -> None:
        if self._is_fit[0]:
            self._y[:] = self.W @ u
        else:
            self._y[:] = u[(self.lookback - 1) * self.n_coords:-1]


class Last(Forecaster):
    """No prediction: the forecast is the newest sample."""

    method = "last"

    def _init_model(self, rng) -> None:
        pass

    def _train(self, u, target) -> float:
        return 0.0

    def _predict(self, u) -> None:
        self._y[:] = u[(self.lookback - 1) * self.n_coords:-1]


METHODS = {cls.method: cls for cls in (RTRL, UORO, SnAp1, DNI, LMS, RLS, Mix, LinReg, Last)}
