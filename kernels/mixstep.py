"""The whole ``mix`` step in two Numba calls: :func:`mix_train` and :func:`mix_predict`.

They run exactly the kernels :class:`realtime.mixture.Mix` used to call one by one from Python
(:mod:`kernels.rls`, :mod:`kernels.analog`), in the same order and with the same floating-point
expressions, so the forecasts are bitwise the same; what goes is the Python between them (about
ten dispatches, fancy-indexed copies and small NumPy calls per step).

The analogue searches (:func:`analog_search`) return the same ``k`` nearest windows as
:func:`kernels.analog.analog_predict` (ties to the lower slot) but visit the likely winners first:
the successors of the previous search's winners (a window one sample later is usually nearest to
the windows one sample after the previous neighbours).  The bound is then tight from the first
rows and the early abandoning (exact: partial sums of squares only grow) stops most rows after 16
values.  Visiting order does not change the distances (each is the same sum in the same order) and
the k best are kept ordered by ``(distance, slot)``, so the result is independent of the order.
NumPy twins: :func:`kernels.twins.mix_train`, :func:`kernels.twins.mix_predict`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels.analog import analog_store, centre_window, rff_features, weighted_moves
from kernels.linalg import JIT
from kernels.rls import ewa2_learn, ewa2_predict, mix_rls_predict, mix_rls_step


@njit(inline="always", **JIT)
def _row_dist(U, r, u, m, bound, bound_i, i):
    """Squared distance of ``row`` and ``u`` (the summation of :func:`analog_predict`), or ``inf``
    once it is certain that ``(d, i)`` cannot beat ``(bound, bound_i)``."""
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= m:
        d0 = U[r, j] - u[j]
        d1 = U[r, j + 1] - u[j + 1]
        d2 = U[r, j + 2] - u[j + 2]
        d3 = U[r, j + 3] - u[j + 3]
        s0 += d0 * d0
        s1 += d1 * d1
        s2 += d2 * d2
        s3 += d3 * d3
        j += 4
        if (j & 7) == 0:  # every 8 values (analog_predict: 16; where it stops changes nothing)
            p = (s0 + s1) + (s2 + s3)
            if p > bound or (p == bound and i > bound_i):
                return math.inf
    while j < m:
        d0 = U[r, j] - u[j]
        s0 += d0 * d0
        j += 1
    return (s0 + s1) + (s2 + s3)


@njit(inline="always", **JIT)
def _insert(s, i, k, best_d, best_i, filled):
    """Insert ``(s, i)`` (known to beat the k-th best, or fewer than k held) into the k best,
    kept ordered by ``(distance, slot)``; returns the new fill count."""
    if filled == k:
        p = k - 1
    else:
        p = filled
        filled += 1
    while p > 0 and (s < best_d[p - 1] or (s == best_d[p - 1] and i < best_i[p - 1])):
        best_d[p] = best_d[p - 1]
        best_i[p] = best_i[p - 1]
        p -= 1
    best_d[p] = s
    best_i[p] = i
    return filled


@njit(**JIT)
def analog_search(U, T, count, u, last, k, dist, seeds, mark, y):
    """:func:`kernels.analog.analog_predict` (same result, same ``dist[:k]``), visiting first the
    slots after ``seeds`` (k,) int64 (the previous winners; any values are safe), which it then
    overwrites with this search's winners.  ``mark`` (cap,) uint8 scratch, left all zero."""
    n_stored = min(int(count[0]), U.shape[0])
    for j in range(y.shape[0]):
        y[j] = last[j]
    if n_stored < k:
        return
    m = U.shape[1]
    best_d = dist[:k]
    best_i = np.empty(k, np.int64)
    filled = 0
    bd, bi = math.inf, -1  # the k-th best (distance, slot); (inf, -1) until k are held (NaN never enters)
    for r in range(k):
        i = seeds[r] + 1
        if i >= n_stored:
            i = 0
        if i < 0 or mark[i]:
            continue
        mark[i] = 1
        s = _row_dist(U, i, u, m, bd, bi, i)
        if s < bd or (s == bd and i < bi):
            filled = _insert(s, i, k, best_d, best_i, filled)
            if filled == k:
                bd, bi = best_d[k - 1], best_i[k - 1]
    for i in range(n_stored):
        if mark[i]:
            mark[i] = 0
            continue
        s = _row_dist(U, i, u, m, bd, bi, i)
        if s < bd or (s == bd and i < bi):
            filled = _insert(s, i, k, best_d, best_i, filled)
            if filled == k:
                bd, bi = best_d[k - 1], best_i[k - 1]
    if filled < k:  # fewer than k finite distances (NaN input; undefined in analog_predict): weight 0
        for r in range(filled, k):
            best_d[r] = math.inf
            best_i[r] = 0
    weighted_moves(best_d, best_i, T, k, y)
    for r in range(k):
        seeds[r] = best_i[r]


@njit(**JIT)
def _gather(u, sel, out):
    for i in range(sel.shape[0]):
        out[i] = u[sel[i]]


@njit(**JIT)
def mix_train(u, target, slot, sel, sel_s, x, x_s, move, reach, ring, ring_ok, cum, discounts, meta_cum, meta_ring,
              meta_discount, an_U, an_T, an_count, sh_U, sh_T, sh_count, sh_x, Om, b, scale, phi, rf_P, rf_W, rf_pu,
              rf_state, rf_lam, rf_trace_max, rf_pred, Ps, Ws, pu, nwork, states, lams, trace_max, preds_l,
              Ps_s, Ws_s, pu_s, states_s, lams_s, trace_max_s, preds_s, preds):
    """The mixture's training step on window ``u`` (m,) and ``target`` (n,): score the forecasts
    made for ``target`` (ring ``slot``), store the analogue pairs, the kernel-RLS step and the long
    and short RLS steps; returns the largest loss (``Mix._train`` before fusion, same order)."""
    n = target.shape[0]
    off = u.shape[0] - 1 - n  # the newest frame: u[off:off + n]
    for j in range(n):
        mv = target[j] - u[off + j]
        move[j] = mv
        a = abs(mv)
        if a != a or a > reach[j]:  # np.maximum (NaN propagates)
            reach[j] = a
    if ring_ok[slot]:
        ewa2_learn(cum, discounts, ring[slot], meta_cum, meta_ring[slot], target, meta_discount)
        ring_ok[slot] = 0.0
    last = u[off:off + n]
    _gather(u, sel, x)
    _gather(u, sel_s, x_s)
    analog_store(an_U, an_T, an_count, x[:-1], move)
    centre_window(x, last, sh_x)
    analog_store(sh_U, sh_T, sh_count, sh_x, move)
    rff_features(Om, b, sh_x, scale, phi)
    loss_rf = mix_rls_step(rf_P, rf_W, phi, move, rf_pu, nwork, rf_state, rf_lam, rf_trace_max, rf_pred)
    loss = mix_rls_step(Ps, Ws, x, target, pu, nwork, states, lams, trace_max, preds_l)
    k_rls, k_s = preds_l.shape[0], preds_s.shape[0]
    loss_s = mix_rls_step(Ps_s, Ws_s, x_s, target, pu_s, nwork, states_s, lams_s, trace_max_s, preds_s)
    for k in range(k_rls):
        for j in range(n):
            preds[k, j] = preds_l[k, j]
    for k in range(k_s):
        for j in range(n):
            preds[k_rls + k, j] = preds_s[k, j]
    for k in range(k_rls + k_s, preds.shape[0]):
        for j in range(n):
            preds[k, j] = np.nan
    for j in range(n):  # preds[:k_rls].mean(axis=0): row by row, then / k_rls (as NumPy does)
        s = preds[0, j]
        for k in range(1, k_rls):
            s += preds[k, j]
        nwork[0, j] = s / k_rls
    worst = loss  # Python's max(loss, loss_s, loss_rf)
    if loss_s > worst:
        worst = loss_s
    if loss_rf > worst:
        worst = loss_rf
    return worst


@njit(**JIT)
def mix_predict(u, slot, sel, sel_s, x, x_s, reach, reach_f, ring, ring_ok, cum, etas, wts, sub, meta_cum, meta_eta,
                meta_wts, meta_ring, an_U, an_T, an_count, sh_U, sh_T, sh_count, sh_x, k, dist, seeds, mark,
                Om, b, scale, phi, rf_W, rf_pred, Ws, preds_l, Ws_s, preds_s, preds, y):
    """The mixture's forecast from window ``u``: every expert into ``preds`` (long RLS, short RLS,
    kernel RLS, analogues, shape analogues), stored in ring ``slot``, two-level EWA into ``y``,
    then the reach bound ``|y - last| <= reach_f * reach`` (``reach_f`` 0: no bound)."""
    n = y.shape[0]
    off = u.shape[0] - 1 - n
    last = u[off:off + n]
    k_rls, k_s = preds_l.shape[0], preds_s.shape[0]
    n_exp = preds.shape[0]
    _gather(u, sel, x)
    _gather(u, sel_s, x_s)
    mix_rls_predict(Ws, x, preds_l)
    for e in range(k_rls):
        for j in range(n):
            preds[e, j] = preds_l[e, j]
    mix_rls_predict(Ws_s, x_s, preds_s)
    for e in range(k_s):
        for j in range(n):
            preds[k_rls + e, j] = preds_s[e, j]
    analog_search(an_U, an_T, an_count, x[:-1], last, k, dist, seeds[0], mark, preds[n_exp - 2])
    centre_window(x, last, sh_x)
    rff_features(Om, b, sh_x, scale, phi)
    mix_rls_predict(rf_W, phi, rf_pred)
    for j in range(n):
        preds[n_exp - 3, j] = last[j] + rf_pred[0, j]
    analog_search(sh_U, sh_T, sh_count, sh_x, last, k, dist, seeds[1], mark, preds[n_exp - 1])
    for e in range(n_exp):
        for j in range(n):
            ring[slot, e, j] = preds[e, j]
    ring_ok[slot] = 1.0
    ewa2_predict(cum, etas, preds, wts, sub, meta_cum, meta_eta, meta_wts, y)
    for e in range(sub.shape[0]):
        for j in range(n):
            meta_ring[slot, e, j] = sub[e, j]
    if reach_f:
        for j in range(n):  # np.clip(y, lo, hi) = minimum(maximum(y, lo), hi), NaN propagating
            r = reach_f * reach[j]
            lo, hi = last[j] - r, last[j] + r
            v = y[j]
            if v == v and (lo != lo or lo > v):
                v = lo
            if v == v and (hi != hi or hi < v):
                v = hi
            y[j] = v
