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
from realtime.mixture import (MIX_ANALOG_K, MIX_FORGET, MIX_INIT_REG, MIX_MAX_INPUTS, MIX_META_DISCOUNT,  # noqa: F401
                               MIX_META_ETA, MIX_REACH,
                               Mix, mix_lags)


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
    _needs_training = False   # its forecast is the newest sample: nothing to learn

    def _init_model(self, rng) -> None:
        pass

    def _train(self, u, target) -> float:
        return 0.0

    def _predict(self, u) -> None:
        self._y[:] = u[(self.lookback - 1) * self.n_coords:-1]


METHODS = {cls.method: cls for cls in (RTRL, UORO, SnAp1, DNI, LMS, RLS, Mix, LinReg, Last)}
