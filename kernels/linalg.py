"""Allocation-free Numba building blocks shared by the online-RNN kernels.

All functions work on float64 C-contiguous arrays and write into buffers given by the caller.
Reductions use four independent accumulators: ``fastmath`` stays off (bit-reproducible across
runs) while the CPU still overlaps the additions.
"""
from __future__ import annotations

import numpy as np
from numba import njit

JIT = dict(cache=True, fastmath=False, nogil=True)


@njit(**JIT)
def dot(a, b):
    """Inner product of two float64 vectors of equal length (N,)."""
    n = a.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    i = 0
    while i + 4 <= n:
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        i += 4
    while i < n:
        s0 += a[i] * b[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@njit(**JIT)
def sqnorm(a):
    """Squared Euclidean norm of a contiguous vector (N,) (BLAS ddot)."""
    return np.dot(a, a)


@njit(**JIT)
def matvec(M, x, out):
    """``out = M @ x`` for M (R, K), x (K,), out (R,) (BLAS dgemv, no allocation)."""
    np.dot(M, x, out)


@njit(**JIT)
def matvec_t(M, x, out):
    """``out = M.T @ x`` for M (R, K), x (R,), out (K,)."""
    out[:] = 0.0
    for i in range(M.shape[0]):
        xi = x[i]
        row = M[i]
        for k in range(M.shape[1]):
            out[k] += xi * row[k]


@njit(**JIT)
def add_outer(M, alpha, a, b):
    """``M += alpha * outer(a, b)`` for M (R, K), a (R,), b (K,)."""
    for i in range(M.shape[0]):
        c = alpha * a[i]
        row = M[i]
        for k in range(M.shape[1]):
            row[k] += c * b[k]


@njit(**JIT)
def clip_factor(norm, clip):
    """Scale that brings a gradient of Frobenius norm ``norm`` down to ``clip`` (<= 0: no clip)."""
    if clip > 0.0 and norm > clip:
        return clip / norm
    return 1.0


@njit(**JIT)
def rnn_forward(A, B, h_prev, u, h_out, d_out):
    """One vanilla tanh-RNN step: ``h = tanh(A h_prev + B u)``; ``d = 1 - h**2``.

    A (q, q), B (q, m), h_prev (q,), u (m,) with the bias as its last entry; h_out, d_out (q,).
    """
    np.dot(A, h_prev, h_out)
    np.dot(B, u, d_out)  # d_out as scratch
    for i in range(A.shape[0]):
        t = np.tanh(h_out[i] + d_out[i])
        h_out[i] = t
        d_out[i] = 1.0 - t * t


@njit(**JIT)
def output_error(C, h, target, y_out, e_out, g_out):
    """Readout ``y = C h``, error ``e = y - target``, state gradient ``g = C.T e``.

    C (n, q), h (q,), target (n,); writes y_out, e_out (n,), g_out (q,); returns 0.5 ||e||^2.
    """
    matvec(C, h, y_out)
    loss = 0.0
    for j in range(C.shape[0]):
        e_out[j] = y_out[j] - target[j]
        loss += e_out[j] * e_out[j]
    matvec_t(C, e_out, g_out)
    return 0.5 * loss


@njit(**JIT)
def rnn_predict(A, B, C, h, u, h_tmp, d_tmp, y_out):
    """Advance the prediction chain ``h`` by one step on window ``u`` and read out ``y = C h``."""
    rnn_forward(A, B, h, u, h_tmp, d_tmp)
    h[:] = h_tmp
    matvec(C, h, y_out)


@njit(**JIT)
def fill_window(hist, end, count, L, u):
    """Copy the L samples ending at ring position ``end`` of ``hist`` (cap, n) into ``u``.

    ``u`` (n*L + 1,) gets the samples oldest first, coordinates interleaved, then the bias 1.
    ``count`` is the number of samples written to the ring so far (for its wrap-around).
    """
    cap, n = hist.shape
    for l in range(L):
        row = (end - L + 1 + l) % cap
        for c in range(n):
            u[l * n + c] = hist[row, c]
    u[L * n] = 1.0


@njit(**JIT)
def xorshift_signs(state, out):
    """Fill ``out`` with independent +-1 from a xorshift64* generator held in ``state`` (1,) uint64."""
    x = state[0]
    for i in range(out.shape[0]):
        x ^= x >> np.uint64(12)
        x ^= x << np.uint64(25)
        x ^= x >> np.uint64(27)
        r = x * np.uint64(2685821657736338717)
        out[i] = 1.0 if (r >> np.uint64(63)) == np.uint64(1) else -1.0
    state[0] = x


@njit(**JIT)
def widen_range(z, lo, hi, low, high, reach_factor):
    """Widen the range ``lo``/``hi`` (n,) of the samples seen by the sample ``z`` (n,); when it grew,
    set the band a forecast may reach, ``low``/``high`` (n,): the range widened on each side by
    ``reach_factor`` times its largest per-coordinate extent (at least 1), NaN while any coordinate
    has no sample yet. True when the range grew. One call instead of the ~10 NumPy calls of the
    twin: the check runs on every forecaster step (``realtime.base``)."""
    grew = False
    for i in range(z.shape[0]):
        if z[i] < lo[i]:
            lo[i] = z[i]
            grew = True
        if z[i] > hi[i]:
            hi[i] = z[i]
            grew = True
    if grew:
        extent = -np.inf
        finite = True
        for i in range(z.shape[0]):
            d = hi[i] - lo[i]
            if not np.isfinite(d):
                finite = False
            elif d > extent:
                extent = d
        reach = reach_factor * max(extent, 1.0)
        for i in range(z.shape[0]):
            low[i] = lo[i] - reach if finite else np.nan
            high[i] = hi[i] + reach if finite else np.nan
    return grew


@njit(**JIT)
def outside_range(y, low, high):
    """True when any coordinate of ``y`` (n,) is below ``low`` or above ``high`` (n,) (NaN bounds:
    never)."""
    for i in range(y.shape[0]):
        if y[i] < low[i] or y[i] > high[i]:
            return True
    return False
