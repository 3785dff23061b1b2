"""Exponentially weighted recursive least squares (RLS), one Numba kernel per step.

Model ``y = W u`` (W (n, m), u = [window of L frames, 1] (m,)), one shared inverse correlation
matrix ``P`` (m, m) for all n outputs (they see the same input).  Per step, with forgetting
factor ``lam`` in (0, 1]::

    pu = P u;  s = lam + u.pu;  k = pu / s
    e  = W u - target                  (a-priori error; loss 0.5 ||e||^2)
    W <- W - e (x) k
    P <- (P - pu (x) pu / s) / lam

Numerical robustness (Haykin, *Adaptive Filter Theory*, ch. 13: the conventional form loses
symmetry and then positive definiteness in finite precision):

* ``P`` is kept exactly symmetric: the update ``(P[i, j] - (pu[i] pu[j]) / s) / lam`` is the same
  floating-point expression for ``(i, j)`` and ``(j, i)`` (tested bitwise);
* with little excitation ``P`` grows as ``lam**-t`` ("wind-up"); its trace is capped at
  ``trace_max`` by a uniform rescale, which keeps the eigenvalues bounded;
* every ``RECONDITION_STEPS`` steps a floor ``1e-9 * trace / m`` is added to the diagonal
  (periodic re-conditioning), which keeps the smallest eigenvalue positive.

``state`` (2,) float64 holds the step counter and the last trace.  The NumPy twin is
:func:`kernels.twins.rls_step`.
"""
from __future__ import annotations

import math

from numba import njit

from kernels.linalg import JIT, dot

RECONDITION_STEPS = 256
FLOOR = 1e-9


@njit(**JIT)
def matvec_dot(P, u, pu):
    """``pu[i] = dot(P[i], u)`` for the rows of ``P`` (r, m), bit for bit (the same four partial sums
    per row, added in the same order), four rows per pass over ``u``: sixteen independent sums
    instead of four keep the adder busy (without fastmath one dot is latency-bound); about 1.7x
    faster at m = 73."""
    m = u.shape[0]
    rows = P.shape[0]
    i = 0
    while i + 4 <= rows:
        a0 = a1 = a2 = a3 = 0.0
        b0 = b1 = b2 = b3 = 0.0
        c0 = c1 = c2 = c3 = 0.0
        d0 = d1 = d2 = d3 = 0.0
        j = 0
        while j + 4 <= m:
            u0, u1, u2, u3 = u[j], u[j + 1], u[j + 2], u[j + 3]
            a0 += P[i, j] * u0
            a1 += P[i, j + 1] * u1
            a2 += P[i, j + 2] * u2
            a3 += P[i, j + 3] * u3
            b0 += P[i + 1, j] * u0
            b1 += P[i + 1, j + 1] * u1
            b2 += P[i + 1, j + 2] * u2
            b3 += P[i + 1, j + 3] * u3
            c0 += P[i + 2, j] * u0
            c1 += P[i + 2, j + 1] * u1
            c2 += P[i + 2, j + 2] * u2
            c3 += P[i + 2, j + 3] * u3
            d0 += P[i + 3, j] * u0
            d1 += P[i + 3, j + 1] * u1
            d2 += P[i + 3, j + 2] * u2
            d3 += P[i + 3, j + 3] * u3
            j += 4
        while j < m:
            uj = u[j]
            a0 += P[i, j] * uj
            b0 += P[i + 1, j] * uj
            c0 += P[i + 2, j] * uj
            d0 += P[i + 3, j] * uj
            j += 1
        pu[i] = (a0 + a1) + (a2 + a3)
        pu[i + 1] = (b0 + b1) + (b2 + b3)
        pu[i + 2] = (c0 + c1) + (c2 + c3)
        pu[i + 3] = (d0 + d1) + (d2 + d3)
        i += 4
    while i < rows:
        pu[i] = dot(P[i], u)
        i += 1


@njit(**JIT)
def rls_step(P, W, u, target, pu, nwork, state, lam, trace_max):
    """One RLS update in place; returns ``(loss, s)`` (a-priori 0.5||e||^2 and ``lam + u P u``)."""
    m = u.shape[0]
    y, e = nwork[0], nwork[1]
    matvec_dot(P, u, pu)
    s = lam + dot(u, pu)
    if not (s > 1e-300):  # lost positive definiteness or NaN: caller treats as divergence
        return math.inf, s
    matvec_dot(W, u, y)
    loss = 0.0
    for j in range(W.shape[0]):
        e[j] = y[j] - target[j]
        loss += e[j] * e[j]
    inv_s = 1.0 / s
    for j in range(W.shape[0]):
        c = e[j] * inv_s
        row = W[j]
        for i in range(m):
            row[i] -= c * pu[i]
    inv_lam = 1.0 / lam
    tr = 0.0
    for i in range(m):  # row-wise over the whole matrix (cache friendly); pu[i] * pu[j] is
        pi = pu[i]      # commutative in IEEE arithmetic, so P stays exactly symmetric
        row = P[i]
        for j in range(m):
            row[j] = (row[j] - (pi * pu[j]) * inv_s) * inv_lam
        tr += row[i]
    if tr > trace_max:
        f = trace_max / tr
        for i in range(m):
            row = P[i]
            for j in range(m):
                row[j] *= f
        tr = trace_max
    state[0] += 1.0
    if state[0] % RECONDITION_STEPS == 0.0:
        floor = FLOOR * tr / m
        for i in range(m):
            P[i, i] += floor
        tr += floor * m
    state[1] = tr
    return 0.5 * loss, s


@njit(**JIT)
def rls_predict(W, u, y):
    """``y = W u``."""
    matvec_dot(W, u, y)


@njit(**JIT)
def _mean_sq_err(pred, target):
    """``mean_j (pred[j] - target[j])^2`` (NaN when a forecast is missing)."""
    n = target.shape[0]
    s = 0.0
    for j in range(n):
        d = pred[j] - target[j]
        s += d * d
    return s / n


@njit(**JIT)
def ewa_learn(cum, past, target, discount):
    """Exponentially weighted aggregation, the delayed-feedback update: the K experts' forecasts
    ``past`` (K, n) of ``target`` (n,) (made ``h`` steps ago) are now scored; ``cum`` (K,) holds the
    discounted cumulative losses, ``cum <- discount * cum + mean_j (past[:, j] - target[j])^2``.
    Experts without a forecast (NaN) get the largest loss of the others."""
    k_exp = past.shape[0]
    worst = 0.0
    for k in range(k_exp):
        s = _mean_sq_err(past[k], target)
        if s == s and s > worst:  # not NaN
            worst = s
    for k in range(k_exp):
        s = _mean_sq_err(past[k], target)
        cum[k] = discount * cum[k] + (s if s == s else worst)


@njit(**JIT)
def ewa_predict(cum, eta, preds, weights, y):
    """Mixture forecast ``y = sum_k w_k preds[k]`` with ``w_k ~ exp(-eta (cum_k - min cum))``."""
    k_exp, n = preds.shape
    lo = cum[0]
    for k in range(1, k_exp):
        if cum[k] < lo:
            lo = cum[k]
    tot = 0.0
    for k in range(k_exp):
        w = math.exp(-eta * (cum[k] - lo))
        weights[k] = w
        tot += w
    for j in range(n):
        y[j] = 0.0
    for k in range(k_exp):
        w = weights[k] / tot
        weights[k] = w
        for j in range(n):
            y[j] += w * preds[k, j]


@njit(**JIT)
def mix_rls_step(Ps, Ws, u, target, pu, nwork, states, lams, trace_maxes, preds):
    """All K experts of the mixture in one call: expert ``k`` is :func:`rls_step` with
    ``(Ps[k], Ws[k], states[k], lams[k], trace_maxes[k])``; ``preds[k]`` receives its a-priori
    output.  Returns the largest loss over the experts (``inf`` when one lost definiteness)."""
    worst = 0.0
    for k in range(Ps.shape[0]):
        lk, _ = rls_step(Ps[k], Ws[k], u, target, pu, nwork, states[k], lams[k], trace_maxes[k])
        for j in range(preds.shape[1]):
            preds[k, j] = nwork[0, j]
        if not (lk <= worst):
            worst = lk
    return worst


@njit(**JIT)
def mix_rls_predict(Ws, u, preds):
    """``preds[k] = Ws[k] u`` for every expert."""
    for k in range(Ws.shape[0]):
        rls_predict(Ws[k], u, preds[k])


@njit(**JIT)
def ewa2_learn(cum, discounts, past, meta_cum, meta_past, target, meta_discount):
    """Two-level EWA, the delayed-feedback update.  ``past`` (K, n): the experts' forecasts of
    ``target`` made h steps ago; ``meta_past`` (M, n): the M sub-mixtures' forecasts of it.
    ``cum[m, k] <- discounts[m] cum[m, k] + mean_j (past[k, j] - target[j])^2`` and
    ``meta_cum[m] <- meta_discount meta_cum[m] + mean_j (meta_past[m, j] - target[j])^2``."""
    for k in range(past.shape[0]):
        s = _mean_sq_err(past[k], target)
        for m in range(cum.shape[0]):
            cum[m, k] = discounts[m] * cum[m, k] + s
    for m in range(meta_cum.shape[0]):
        meta_cum[m] = meta_discount * meta_cum[m] + _mean_sq_err(meta_past[m], target)


@njit(**JIT)
def ewa2_predict(cum, etas, preds, wts, sub, meta_cum, meta_eta, meta_wts, y):
    """Two-level EWA forecast: sub-mixture ``m`` is ``sub[m] = sum_k wts[m, k] preds[k]`` with
    ``wts[m, k] ~ exp(-etas[m] (cum[m, k] - min_k cum[m]))``; ``y = sum_m meta_wts[m] sub[m]`` with
    ``meta_wts[m] ~ exp(-meta_eta (meta_cum[m] - min meta_cum))``."""
    for m in range(cum.shape[0]):   # each sub-mixture, then the mixture of them: one EWA rule
        ewa_predict(cum[m], etas[m], preds, wts[m], sub[m])
    ewa_predict(meta_cum, meta_eta, sub, meta_wts, y)