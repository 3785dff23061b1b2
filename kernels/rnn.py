"""Per-step Numba kernels of the online-RNN learners (Pohl et al. 2022/2025; Marschall et al. 2020).

Model (one vanilla tanh RNN, all coordinates at once)::

    h_t = tanh(A h_{t-1} + B u_t)      A (q, q), B (q, m), u_t = [window of L frames, 1] (m,)
    y_t = C h_t                        C (n, q), n coordinates
    loss_t = 0.5 ||y_t - target_t||^2

Each ``*_step`` function performs one training step in place: forward pass, influence (or
credit) update, gradient, clipping of the whole gradient ``[dA, dB, dC]`` by its Frobenius norm,
and plain SGD.  They return ``(loss, grad_norm)`` with the norm taken before clipping.

Work buffers (preallocated by the learner, never allocated here):
``work`` float64 (6, q): rows h_new, d = 1 - h_new^2, g = C^T e, and three scratch rows;
``nwork`` float64 (2, n): rows y, e.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels.linalg import (JIT, add_outer, clip_factor, dot, matvec, output_error, rnn_forward,
                            sqnorm, xorshift_signs)

UORO_EPS = 1e-7


@njit(**JIT)
def _sgd_readout(C, e, h, step):
    add_outer(C, -step, e, h)


@njit(**JIT)
def rtrl_step(A, B, C, h, u, target, JA, JB, TA, TB, work, nwork, lr, clip):
    """Real-time recurrent learning (Williams & Zipser 1989) with the exact influence tensor.

    JA (q, q, q) and JB (q, q, m) hold ``dh_i / dA[j, k]`` and ``dh_i / dB[j, k]`` as
    ``J[i, j, k]``; TA, TB are scratch of the same shapes.  Update
    ``J_t[i] = d_i (sum_l A[i, l] J_{t-1}[l] + e_i (x) z)``: the immediate Jacobian only
    touches the block ``J[j, j, :]``, so it is added there instead of being materialised.
    """
    q = A.shape[0]
    hn, d, g = work[0], work[1], work[2]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    JA2 = JA.reshape(q, -1)
    JB2 = JB.reshape(q, -1)
    TA2 = TA.reshape(q, -1)
    TB2 = TB.reshape(q, -1)
    np.dot(A, JA2, TA2)  # T = A @ J (BLAS dgemm into the scratch)
    np.dot(A, JB2, TB2)
    for i in range(q):
        di = d[i]
        for k in range(JA2.shape[1]):
            JA2[i, k] = di * TA2[i, k]
        for k in range(JB2.shape[1]):
            JB2[i, k] = di * TB2[i, k]
        for k in range(q):
            JA[i, i, k] += di * h[k]
        for k in range(u.shape[0]):
            JB[i, i, k] += di * u[k]
    # gradient dL/dA[j, k] = sum_i g_i J[i, j, k]; kept in the T buffers (no longer needed)
    GA = TA2[0]
    GB = TB2[0]
    np.dot(g, JA2, GA)
    np.dot(g, JB2, GB)
    norm = math.sqrt(sqnorm(GA) + sqnorm(GB) + sqnorm(e) * sqnorm(hn))
    step = lr * clip_factor(norm, clip)
    A2 = A.reshape(-1)
    B2 = B.reshape(-1)
    for k in range(A2.shape[0]):
        A2[k] -= step * GA[k]
    for k in range(B2.shape[0]):
        B2[k] -= step * GB[k]
    _sgd_readout(C, e, hn, step)
    h[:] = hn
    return loss, norm


@njit(**JIT)
def snap1_step(A, B, C, h, u, target, JA, JB, jn, work, nwork, lr, clip):
    """SnAp-1 (Menick et al. 2021): RTRL keeping only ``dh_i / dW[i, k]``.

    JA (q, q), JB (q, m) hold ``J[i, k] = dh_i / dA[i, k]`` (resp. B); update
    ``J_t[i, k] = d_i (A[i, i] J_{t-1}[i, k] + z_k)`` with ``z = [h_prev, u]``.  ``jn`` (q,)
    carries the squared row norms of ``[JA, JB]``: the new ones follow from one matrix-vector
    product, so the clipping norm is known before the single fused pass that updates J and
    applies SGD (one sweep over the big arrays instead of three).
    """
    q = A.shape[0]
    hn, d, g, p, tmp = work[0], work[1], work[2], work[3], work[4]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    np.dot(JA, h, p)
    np.dot(JB, u, tmp)
    zz = sqnorm(h) + sqnorm(u)
    gsq = 0.0
    for i in range(q):
        a = A[i, i]
        nn = d[i] * d[i] * (a * a * jn[i] + 2.0 * a * (p[i] + tmp[i]) + zz)
        jn[i] = nn if nn > 0.0 else 0.0
        gsq += g[i] * g[i] * jn[i]
    norm = math.sqrt(gsq + sqnorm(e) * sqnorm(hn))
    step = lr * clip_factor(norm, clip)
    for i in range(q):
        c = step * g[i]
        di = d[i]
        aii = A[i, i]
        ai = A[i]
        ja = JA[i]
        for k in range(q):
            j = di * (aii * ja[k] + h[k])
            ja[k] = j
            ai[k] -= c * j
        bi = B[i]
        jb = JB[i]
        for k in range(u.shape[0]):
            j = di * (aii * jb[k] + u[k])
            jb[k] = j
            bi[k] -= c * j
    _sgd_readout(C, e, hn, step)
    h[:] = hn
    return loss, norm


@njit(**JIT)
def _uoro_new_ht(A, d, ht, wnorm_s, rng, nu, ft, zz):
    """One UORO estimate's state update shared by :func:`uoro_step` and :func:`uoro_k_step`.

    Forward tangent ``ft = d * (A ht)`` (left in ``ft``), fresh signs into ``nu`` from ``rng``
    (1,), the normalisers ``rho0``, ``rho1`` and, in place, ``ht <- rho0 ft + rho1 nu``.
    ``wnorm_s`` is ``||[WA, WB]||`` before the step and ``zz`` is ``||h||^2 + ||u||^2``.
    Returns ``(rho0, rho1)``.
    """
    q = A.shape[0]
    matvec(A, ht, ft)  # forward tangent dF/dh . ht, with the weights of this forward pass
    for i in range(q):
        ft[i] *= d[i]
    xorshift_signs(rng, nu)
    nd = 0.0
    for i in range(q):
        nd += (nu[i] * d[i]) ** 2
    nf = math.sqrt(nd * zz)  # ||nu^T dF/dtheta||
    rho0 = math.sqrt(wnorm_s / (math.sqrt(sqnorm(ft)) + UORO_EPS)) + UORO_EPS
    rho1 = math.sqrt(nf / (math.sqrt(float(q)) + UORO_EPS)) + UORO_EPS
    for i in range(q):
        ht[i] = rho0 * ft[i] + rho1 * nu[i]
    return rho0, rho1


@njit(**JIT)
def uoro_step(A, B, C, h, u, target, ht, WA, WB, wnorm, rng, work, nwork, lr, clip):
    """Unbiased online recurrent optimisation (Tallec & Ollivier 2018).

    The influence ``dh/d[A, B]`` is approximated by the rank-one ``ht (x) [WA, WB]`` with
    ht (q,), WA (q, q), WB (q, m); ``wnorm`` (1,) carries ``||[WA, WB]||_F`` between steps and
    ``rng`` (1,) uint64 the state of the sign generator.  The readout C gets its exact gradient.
    The new ``||[WA, WB]||`` follows from ``[WA, WB] z`` (one matrix-vector product), so the
    rank-one update and SGD share one fused pass.
    """
    q = A.shape[0]
    hn, d, g, nu, ft, p = work[0], work[1], work[2], work[3], work[4], work[5]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    zz = sqnorm(h) + sqnorm(u)
    rho0, rho1 = _uoro_new_ht(A, d, ht, wnorm[0], rng, nu, ft, zz)
    inv0 = 1.0 / rho0
    np.dot(WA, h, p)
    np.dot(WB, u, ft)  # ft no longer needed: scratch
    cross = 0.0
    csq = 0.0
    for i in range(q):
        c = nu[i] * d[i] / rho1
        cross += c * (p[i] + ft[i])
        csq += c * c
    wsq = wnorm[0] * wnorm[0] * inv0 * inv0 + 2.0 * inv0 * cross + csq * zz
    wsq = wsq if wsq > 0.0 else 0.0
    wnorm[0] = math.sqrt(wsq)
    gh = dot(g, ht)
    norm = math.sqrt(gh * gh * wsq + sqnorm(e) * sqnorm(hn))
    step = lr * clip_factor(norm, clip)
    cc = step * gh
    for i in range(q):
        c = nu[i] * d[i] / rho1
        ai = A[i]
        wa = WA[i]
        for k in range(q):
            w = wa[k] * inv0 + c * h[k]
            wa[k] = w
            ai[k] -= cc * w
        bi = B[i]
        wb = WB[i]
        for k in range(u.shape[0]):
            w = wb[k] * inv0 + c * u[k]
            wb[k] = w
            bi[k] -= cc * w
    _sgd_readout(C, e, hn, step)
    h[:] = hn
    return loss, norm


@njit(**JIT)
def dni_step(A, B, C, h, u, target, S, f_cur, f_prev, c_prev, has_prev, work, nwork, lr, lr_sg, clip):
    """Decoupled neural interfaces for RNNs (Jaderberg et al. 2017, as in Marschall et al. 2020).

    A linear synthetic-gradient module ``c_t = S f_t`` with ``f_t = [h_t, target_t, 1]``
    (S (q, q + n + 1)) estimates the gradient of all future losses w.r.t. ``h_t``.  The
    recurrent weights get ``delta (x) z`` with ``delta = d * (C^T e + c_t)``; S is trained by
    SGD (rate ``lr_sg``) towards the bootstrapped target ``A^T delta`` for the previous step.
    ``f_prev`` (q + n + 1,), ``c_prev`` (q,) and ``has_prev`` (1,) carry that previous step;
    ``f_cur`` (q + n + 1,) is scratch.
    """
    q = A.shape[0]
    n = C.shape[0]
    hn, d, g, delta, tgt, c = work[0], work[1], work[2], work[3], work[4], work[5]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    f_cur[:q] = hn
    f_cur[q:q + n] = target
    f_cur[q + n] = 1.0
    np.dot(S, f_cur, c)
    for i in range(q):
        delta[i] = d[i] * (g[i] + c[i])
    if has_prev[0] != 0.0:
        for k in range(q):
            tgt[k] = 0.0
        for i in range(q):  # tgt = A^T delta
            di = delta[i]
            ai = A[i]
            for k in range(q):
                tgt[k] += ai[k] * di
        for i in range(q):
            tgt[i] = c_prev[i] - tgt[i]  # SG error
        sgn = math.sqrt(sqnorm(tgt) * sqnorm(f_prev))
        add_outer(S, -lr_sg * clip_factor(sgn, clip), tgt, f_prev)
    norm = math.sqrt(sqnorm(delta) * (sqnorm(h) + sqnorm(u)) + sqnorm(e) * sqnorm(hn))
    step = lr * clip_factor(norm, clip)
    add_outer(A, -step, delta, h)
    add_outer(B, -step, delta, u)
    _sgd_readout(C, e, hn, step)
    f_prev[:] = f_cur
    c_prev[:] = c
    has_prev[0] = 1.0
    h[:] = hn
    return loss, norm


@njit(**JIT)
def lms_step(W, u, target, nwork, lr, clip):
    """Least-mean-squares linear predictor ``y = W u`` (W (n, m)), one clipped SGD step."""
    y, e = nwork[0], nwork[1]
    matvec(W, u, y)
    loss = 0.0
    for j in range(W.shape[0]):
        e[j] = y[j] - target[j]
        loss += e[j] * e[j]
    norm = math.sqrt(loss * sqnorm(u))
    add_outer(W, -lr * clip_factor(norm, clip), e, u)
    return 0.5 * loss, norm


@njit(**JIT)
def uoro_k_step(A, B, C, h, u, target, ht, WA, WB, wnorm, rng, GA, GB, work, nwork, lr, clip):
    """UORO with ``k`` independent rank-one estimates whose gradients are averaged.

    Each estimate ``ht[s] (x) [WA[s], WB[s]]`` (ht (k, q), WA (k, q, q), WB (k, q, m), wnorm (k,),
    rng (k,) uint64) is updated exactly as in :func:`uoro_step` with its own sign stream; the
    mean of k unbiased estimates is unbiased with 1/k of the variance.  GA (q, q), GB (q, m) are
    scratch for the averaged gradient.  With k = 1 this equals :func:`uoro_step`.
    """
    q = A.shape[0]
    k_est = ht.shape[0]
    hn, d, g, nu, ft = work[0], work[1], work[2], work[3], work[4]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    GA[:] = 0.0
    GB[:] = 0.0
    zz = sqnorm(h) + sqnorm(u)
    for s in range(k_est):
        hts, WAs, WBs = ht[s], WA[s], WB[s]
        rho0, rho1 = _uoro_new_ht(A, d, hts, wnorm[s], rng[s:s + 1], nu, ft, zz)
        inv0 = 1.0 / rho0
        gh = dot(g, hts) / k_est
        wsq = 0.0
        for i in range(q):
            c = nu[i] * d[i] / rho1
            wa = WAs[i]
            ga = GA[i]
            for j in range(q):
                w = wa[j] * inv0 + c * h[j]
                wa[j] = w
                wsq += w * w
                ga[j] += gh * w
            wb = WBs[i]
            gb = GB[i]
            for j in range(u.shape[0]):
                w = wb[j] * inv0 + c * u[j]
                wb[j] = w
                wsq += w * w
                gb[j] += gh * w
        wnorm[s] = math.sqrt(wsq)
    norm = math.sqrt(sqnorm(GA.reshape(-1)) + sqnorm(GB.reshape(-1)) + sqnorm(e) * sqnorm(hn))
    step = lr * clip_factor(norm, clip)
    A2, B2 = A.reshape(-1), B.reshape(-1)
    GA2, GB2 = GA.reshape(-1), GB.reshape(-1)
    for j in range(A2.shape[0]):
        A2[j] -= step * GA2[j]
    for j in range(B2.shape[0]):
        B2[j] -= step * GB2[j]
    _sgd_readout(C, e, hn, step)
    h[:] = hn
    return loss, norm


from kernels.analog import (analog_predict, analog_store, centre_window, rff_features, shape_learn,  # noqa: E402,F401
                            shape_predict)
from kernels.rls import (ewa2_learn, ewa2_predict, ewa_learn, ewa_predict, mix_rls_predict, mix_rls_step,  # noqa: E402,F401
                         rls_predict, rls_step)  # (one namespace for the learners)
from kernels.mixstep import analog_search, mix_predict, mix_train  # noqa: E402,F401
