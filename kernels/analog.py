"""The method of analogues (Lorenz 1969): a nearest-neighbour forecaster over the stream's own past.

Quasi-periodic signals such as breathing repeat their shape; a linear autoregression extrapolates
the current window linearly, an analogue forecaster instead looks up the past windows most like
the current one and averages the moves that followed them (the shape of breath onsets, which a
linear model over a short window cannot represent).

Memory: a ring of ``cap`` (window, move) pairs, ``U`` (cap, m) and ``T`` (cap, n), the move being
``target - newest frame`` of that window, both in z-units; ``count`` (1,) float64 counts stores.
:func:`analog_store` adds the pair that has just become known (delayed by the horizon, as every
method learns); :func:`analog_predict` returns ``last + sum_i w_i T_i / sum_i w_i`` over the ``k``
nearest stored windows (squared Euclidean distance ``d_i``, ``w_i = 1 / (d_i + eps)``), or ``last``
while fewer than ``k`` pairs are stored.  NumPy twins: :mod:`kernels.twins`.

:func:`rff_features` maps a window to random Fourier features (Rahimi & Recht 2007):
``phi_i = sqrt(2 / D) cos(omega_i . x + b_i)`` with ``omega_i ~ N(0, I / sigma^2)`` and ``b_i ~
U(0, 2 pi)`` drawn once, so that ``phi(x) . phi(x')`` approximates the Gaussian kernel
``exp(-||x - x'||^2 / (2 sigma^2))``; exact RLS on ``[phi, 1]`` is then an online kernel
regression whose cost is fixed by D (the fixed-feature alternative to KRLS with a dictionary).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels.linalg import JIT
from kernels.rls import matvec_dot, mix_rls_predict, mix_rls_step

EPS = 1e-3


@njit(**JIT)
def analog_store(U, T, count, u, move):
    """Store ``(u, move)`` in slot ``count % cap`` and increment ``count[0]``."""
    i = int(count[0]) % U.shape[0]
    for j in range(U.shape[1]):
        U[i, j] = u[j]
    for j in range(T.shape[1]):
        T[i, j] = move[j]
    count[0] += 1.0


@njit(**JIT)
def analog_predict(U, T, count, u, last, k, dist, y):
    """``y`` = ``last`` + inverse-distance-weighted mean move of the ``k`` nearest stored windows.

    ``dist`` (>= k,) is scratch.  Ties are broken by the lower slot index.
    """
    n_stored = min(int(count[0]), U.shape[0])
    for j in range(y.shape[0]):
        y[j] = last[j]
    if n_stored < k:
        return
    m = U.shape[1]
    best_d = dist[:k]  # the k smallest distances so far, ascending; best_i their slots
    best_i = np.empty(k, np.int64)
    filled = 0
    bound = np.inf
    for i in range(n_stored):
        row = U[i]
        # four independent partial sums (a single running sum is latency-bound without fastmath);
        # early abandoning: stop once the distance cannot enter the k best (exact)
        s0 = s1 = s2 = s3 = 0.0
        j = 0
        abandoned = False
        while j + 4 <= m:
            d0 = row[j] - u[j]
            d1 = row[j + 1] - u[j + 1]
            d2 = row[j + 2] - u[j + 2]
            d3 = row[j + 3] - u[j + 3]
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
            j += 4
            if (j & 15) == 0 and (s0 + s1) + (s2 + s3) >= bound:
                abandoned = True
                break
        if abandoned:
            continue
        while j < m:
            d0 = row[j] - u[j]
            s0 += d0 * d0
            j += 1
        s = (s0 + s1) + (s2 + s3)
        if not (s < bound):
            continue
        p = filled if filled < k else k - 1  # insertion sort step (strict <: earlier slot wins ties)
        while p > 0 and s < best_d[p - 1]:
            best_d[p] = best_d[p - 1]
            best_i[p] = best_i[p - 1]
            p -= 1
        best_d[p] = s
        best_i[p] = i
        if filled < k:
            filled += 1
        if filled == k:
            bound = best_d[k - 1]
    weighted_moves(best_d, best_i, T, k, y)


@njit(**JIT)
def weighted_moves(best_d, best_i, T, k, y):
    """``y += `` the inverse-distance weighted mean of the stored moves ``T[best_i[:k]]``."""
    tot = 0.0
    for r in range(k):
        tot += 1.0 / (best_d[r] + EPS)
    for r in range(k):
        w = 1.0 / (best_d[r] + EPS) / tot
        for j in range(y.shape[0]):
            y[j] += w * T[best_i[r], j]


@njit(**JIT)
def rff_features(Om, b, x, scale, phi):
    """``phi[i] = scale * cos(Om[i] . x + b[i])`` for ``i < D = Om.shape[0]``, ``phi[D] = 1`` (bias)."""
    matvec_dot(Om, x, phi)  # phi[i] = dot(Om[i], x) for i < D, bit for bit
    for i in range(Om.shape[0]):
        phi[i] = scale * math.cos(phi[i] + b[i])
    phi[Om.shape[0]] = 1.0


@njit(**JIT)
def centre_window(x, last, out):
    """``out[i] = x[i] - last[i % n]`` for ``i < out.shape[0]`` (n = ``last.shape[0]``): the window
    values (frames of n coordinates, oldest first; ``x`` may carry a trailing bias, not copied)
    minus the newest frame, the input of the shape-analogue and kernel-RLS experts."""
    n = last.shape[0]
    for i in range(out.shape[0]):
        out[i] = x[i] - last[i % n]


@njit(**JIT)
def shape_learn(x, last, move, U, T, count, xc, Om, b, scale, phi, P, W, pu, nwork, state, lam, trace_max, pred):
    """The mixture's shape experts, learning step (one call instead of four): centre the training
    window ``x`` on its newest frame ``last`` into ``xc``, store ``(xc, move)`` in the shape-analogue
    memory, map ``xc`` to Fourier features ``phi`` and make the kernel-RLS step towards ``move``
    (:func:`kernels.rls.mix_rls_step` with ``P`` (1, D+1, D+1), ``W`` (1, n, D+1)); returns its loss."""
    centre_window(x, last, xc)
    analog_store(U, T, count, xc, move)
    rff_features(Om, b, xc, scale, phi)
    return mix_rls_step(P, W, phi, move, pu, nwork, state, lam, trace_max, pred)


@njit(**JIT)
def shape_predict(x, last, U, T, count, k, dist, xc, Om, b, scale, phi, W, pred, y_rf, y_an):
    """The shape experts' forecasts for the newest window ``x``: ``y_rf = last + W phi(xc)`` (kernel
    RLS) and ``y_an`` the shape analogues (:func:`analog_predict` on the centred window ``xc``)."""
    centre_window(x, last, xc)
    rff_features(Om, b, xc, scale, phi)
    mix_rls_predict(W, phi, pred)
    for j in range(last.shape[0]):
        y_rf[j] = last[j] + pred[0, j]
    analog_predict(U, T, count, xc, last, k, dist, y_an)
