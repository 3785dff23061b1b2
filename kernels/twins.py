"""Plain NumPy twins of the Numba kernels: the test oracle and the ``numpy`` column of the benchmark.

Each twin takes the same arguments as its kernel in :mod:`kernels.rnn` / :mod:`kernels.linalg`,
updates the same arrays in place and returns the same values, written with whole-array NumPy
operations (and a different summation order) so that agreement is a real check.
"""
from __future__ import annotations

import numpy as np

UORO_EPS = 1e-7
_MASK64 = (1 << 64) - 1


def clip_factor(norm, clip):
    return clip / norm if (clip > 0.0 and norm > clip) else 1.0


def rnn_forward(A, B, h_prev, u, h_out, d_out):
    h_out[:] = np.tanh(A @ h_prev + B @ u)
    d_out[:] = 1.0 - h_out ** 2


def output_error(C, h, target, y_out, e_out, g_out):
    y_out[:] = C @ h
    e_out[:] = y_out - target
    g_out[:] = C.T @ e_out
    return 0.5 * float(e_out @ e_out)


def rnn_predict(A, B, C, h, u, h_tmp, d_tmp, y_out):
    h[:] = np.tanh(A @ h + B @ u)
    y_out[:] = C @ h


def fill_window(hist, end, count, L, u):
    cap = hist.shape[0]
    rows = (end - L + 1 + np.arange(L)) % cap
    u[:-1] = hist[rows].reshape(-1)
    u[-1] = 1.0


def xorshift_signs(state, out):
    x = int(state[0])
    for i in range(out.shape[0]):
        x ^= x >> 12
        x = (x ^ (x << 25)) & _MASK64
        x ^= x >> 27
        r = (x * 2685821657736338717) & _MASK64
        out[i] = 1.0 if (r >> 63) == 1 else -1.0
    state[0] = np.uint64(x)


def _finish(A, B, C, h, hn, e, GA, GB, lr, clip):
    norm = float(np.sqrt(np.sum(GA ** 2) + np.sum(GB ** 2) + np.sum(np.outer(e, hn) ** 2)))
    step = lr * clip_factor(norm, clip)
    A -= step * GA
    B -= step * GB
    C -= step * np.outer(e, hn)
    h[:] = hn
    return norm


def rtrl_step(A, B, C, h, u, target, JA, JB, TA, TB, work, nwork, lr, clip):
    q = A.shape[0]
    hn, d, g = work[0], work[1], work[2]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    eye = np.eye(q)
    JA[:] = d[:, None, None] * (np.einsum("il,ljk->ijk", A, JA) + eye[:, :, None] * h[None, None, :])
    JB[:] = d[:, None, None] * (np.einsum("il,ljk->ijk", A, JB) + eye[:, :, None] * u[None, None, :])
    GA = np.einsum("i,ijk->jk", g, JA)
    GB = np.einsum("i,ijk->jk", g, JB)
    return loss, _finish(A, B, C, h, hn, e, GA, GB, lr, clip)


def snap1_step(A, B, C, h, u, target, JA, JB, jn, work, nwork, lr, clip):
    hn, d, g = work[0], work[1], work[2]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    diag = np.diag(A)[:, None]
    JA[:] = d[:, None] * (diag * JA + h[None, :])
    JB[:] = d[:, None] * (diag * JB + u[None, :])
    jn[:] = np.sum(JA ** 2, axis=1) + np.sum(JB ** 2, axis=1)
    return loss, _finish(A, B, C, h, hn, e, g[:, None] * JA, g[:, None] * JB, lr, clip)


def _uoro_estimate(A, d, h, u, ht, WA, WB, wnorm, rng, nu):
    """Advance one rank-one estimate ``ht (x) [WA, WB]`` in place (wnorm, rng: (1,) views)."""
    ft = d * (A @ ht)
    xorshift_signs(rng, nu)
    nfA = np.outer(nu * d, h)
    nfB = np.outer(nu * d, u)
    nf = np.sqrt(np.sum(nfA ** 2) + np.sum(nfB ** 2))
    rho0 = np.sqrt(wnorm[0] / (np.linalg.norm(ft) + UORO_EPS)) + UORO_EPS
    rho1 = np.sqrt(nf / (np.linalg.norm(nu) + UORO_EPS)) + UORO_EPS
    ht[:] = rho0 * ft + rho1 * nu
    WA[:] = WA / rho0 + nfA / rho1
    WB[:] = WB / rho0 + nfB / rho1
    wnorm[0] = np.sqrt(np.sum(WA ** 2) + np.sum(WB ** 2))


def uoro_step(A, B, C, h, u, target, ht, WA, WB, wnorm, rng, work, nwork, lr, clip):
    hn, d, g, nu = work[0], work[1], work[2], work[3]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    _uoro_estimate(A, d, h, u, ht, WA, WB, wnorm, rng, nu)
    gh = float(g @ ht)
    return loss, _finish(A, B, C, h, hn, e, gh * WA, gh * WB, lr, clip)


def uoro_k_step(A, B, C, h, u, target, ht, WA, WB, wnorm, rng, GA, GB, work, nwork, lr, clip):
    k_est = ht.shape[0]
    hn, d, g, nu = work[0], work[1], work[2], work[3]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    GA[:] = 0.0
    GB[:] = 0.0
    for s in range(k_est):
        _uoro_estimate(A, d, h, u, ht[s], WA[s], WB[s], wnorm[s:s + 1], rng[s:s + 1], nu)
        gh = float(g @ ht[s])
        GA += gh * WA[s] / k_est
        GB += gh * WB[s] / k_est
    return loss, _finish(A, B, C, h, hn, e, GA, GB, lr, clip)


def dni_step(A, B, C, h, u, target, S, f_cur, f_prev, c_prev, has_prev, work, nwork, lr, lr_sg, clip):
    hn, d, g = work[0], work[1], work[2]
    y, e = nwork[0], nwork[1]
    rnn_forward(A, B, h, u, hn, d)
    loss = output_error(C, hn, target, y, e, g)
    f = np.concatenate([hn, target, [1.0]])
    f_cur[:] = f
    c = S @ f
    delta = d * (g + c)
    if has_prev[0] != 0.0:
        err = c_prev - A.T @ delta
        G = np.outer(err, f_prev)
        S -= lr_sg * clip_factor(float(np.linalg.norm(G)), clip) * G
    norm = _finish(A, B, C, h.copy(), hn, e, np.outer(delta, h), np.outer(delta, u), lr, clip)
    h[:] = hn
    f_prev[:] = f
    c_prev[:] = c
    has_prev[0] = 1.0
    return loss, norm


def lms_step(W, u, target, nwork, lr, clip):
    y, e = nwork[0], nwork[1]
    y[:] = W @ u
    e[:] = y - target
    G = np.outer(e, u)
    norm = float(np.linalg.norm(G))
    W -= lr * clip_factor(norm, clip) * G
    return 0.5 * float(e @ e), norm


RLS_RECONDITION_STEPS = 256
RLS_FLOOR = 1e-9


def rls_step(P, W, u, target, pu, nwork, state, lam, trace_max):
    y, e = nwork[0], nwork[1]
    pu[:] = P @ u
    s = lam + float(u @ pu)
    if not (s > 1e-300):
        return float("inf"), s
    y[:] = W @ u
    e[:] = y - target
    W -= np.outer(e, pu / s)
    Pn = (P - np.outer(pu, pu) / s) / lam
    Pn = np.triu(Pn) + np.triu(Pn, 1).T
    tr = float(np.trace(Pn))
    if tr > trace_max:
        Pn *= trace_max / tr
        tr = trace_max
    state[0] += 1.0
    if state[0] % RLS_RECONDITION_STEPS == 0.0:
        floor = RLS_FLOOR * tr / P.shape[0]
        Pn[np.diag_indices_from(Pn)] += floor
        tr += floor * P.shape[0]
    P[:] = Pn
    state[1] = tr
    return 0.5 * float(e @ e), s


def rls_predict(W, u, y):
    y[:] = W @ u


def ewa_learn(cum, past, target, discount):
    loss = np.mean((past - target[None, :]) ** 2, axis=1)
    finite = loss[np.isfinite(loss)]
    worst = float(finite.max()) if finite.size else 0.0
    cum[:] = discount * cum + np.where(np.isfinite(loss), loss, worst)


def ewa_predict(cum, eta, preds, weights, y):
    w = np.exp(-eta * (cum - cum.min()))
    weights[:] = w / w.sum()
    y[:] = weights @ preds


def mix_rls_step(Ps, Ws, u, target, pu, nwork, states, lams, trace_maxes, preds):
    worst = 0.0
    for k in range(Ps.shape[0]):
        lk, _ = rls_step(Ps[k], Ws[k], u, target, pu, nwork, states[k], lams[k], trace_maxes[k])
        preds[k] = nwork[0]
        worst = max(worst, lk) if lk == lk else float("inf")
    return worst


def mix_rls_predict(Ws, u, preds):
    preds[:] = np.einsum("knm,m->kn", Ws, u)


def analog_store(U, T, count, u, move):
    i = int(count[0]) % U.shape[0]
    U[i] = u
    T[i] = move
    count[0] += 1.0


def analog_predict(U, T, count, u, last, k, dist, y):
    n_stored = min(int(count[0]), U.shape[0])
    y[:] = last
    if n_stored < k:
        return
    d = np.sum((U[:n_stored] - u) ** 2, axis=1)
    idx = np.argsort(d, kind="stable")[:k]
    w = 1.0 / (d[idx] + 1e-3)
    y += (w / w.sum()) @ T[idx]


def centre_window(x, last, out):
    out[:] = (x[:out.shape[0]].reshape(-1, last.shape[0]) - last).ravel()


def rff_features(Om, b, x, scale, phi):
    phi[:-1] = scale * np.cos(Om @ x + b)
    phi[-1] = 1.0


def shape_learn(x, last, move, U, T, count, xc, Om, b, scale, phi, P, W, pu, nwork, state, lam, trace_max, pred):
    centre_window(x, last, xc)
    analog_store(U, T, count, xc, move)
    rff_features(Om, b, xc, scale, phi)
    return mix_rls_step(P, W, phi, move, pu, nwork, state, lam, trace_max, pred)


def shape_predict(x, last, U, T, count, k, dist, xc, Om, b, scale, phi, W, pred, y_rf, y_an):
    centre_window(x, last, xc)
    rff_features(Om, b, xc, scale, phi)
    mix_rls_predict(W, phi, pred)
    y_rf[:] = last + pred[0]
    analog_predict(U, T, count, xc, last, k, dist, y_an)


def ewa2_learn(cum, discounts, past, meta_cum, meta_past, target, meta_discount):
    cum *= discounts[:, None]
    cum += np.mean((past - target) ** 2, axis=1)[None, :]
    meta_cum *= meta_discount
    meta_cum += np.mean((meta_past - target) ** 2, axis=1)


def ewa2_predict(cum, etas, preds, wts, sub, meta_cum, meta_eta, meta_wts, y):
    w = np.exp(-etas[:, None] * (cum - cum.min(axis=1, keepdims=True)))
    wts[:] = w / w.sum(axis=1, keepdims=True)
    sub[:] = wts @ preds
    v = np.exp(-meta_eta * (meta_cum - meta_cum.min()))
    meta_wts[:] = v / v.sum()
    y[:] = meta_wts @ sub


def mix_train(u, target, slot, sel, sel_s, x, x_s, move, reach, ring, ring_ok, cum, discounts, meta_cum, meta_ring,
              meta_discount, an_U, an_T, an_count, sh_U, sh_T, sh_count, sh_x, Om, b, scale, phi, rf_P, rf_W, rf_pu,
              rf_state, rf_lam, rf_trace_max, rf_pred, Ps, Ws, pu, nwork, states, lams, trace_max, preds_l,
              Ps_s, Ws_s, pu_s, states_s, lams_s, trace_max_s, preds_s, preds):
    n = target.shape[0]
    last = u[-1 - n:-1]
    np.subtract(target, last, out=move)
    np.maximum(reach, np.abs(move), out=reach)
    if ring_ok[slot]:
        ewa2_learn(cum, discounts, ring[slot], meta_cum, meta_ring[slot], target, meta_discount)
        ring_ok[slot] = 0.0
    x[:], x_s[:] = u[sel], u[sel_s]
    analog_store(an_U, an_T, an_count, x[:-1], move)
    loss_rf = shape_learn(x, last, move, sh_U, sh_T, sh_count, sh_x, Om, b, scale, phi, rf_P, rf_W, rf_pu, nwork,
                          rf_state, rf_lam, rf_trace_max, rf_pred)
    loss = mix_rls_step(Ps, Ws, x, target, pu, nwork, states, lams, trace_max, preds_l)
    loss_s = mix_rls_step(Ps_s, Ws_s, x_s, target, pu_s, nwork, states_s, lams_s, trace_max_s, preds_s)
    k_rls = preds_l.shape[0]
    preds[:k_rls], preds[k_rls:k_rls + preds_s.shape[0]] = preds_l, preds_s
    preds[k_rls + preds_s.shape[0]:] = np.nan
    nwork[0] = preds[:k_rls].mean(axis=0)
    return max(loss, loss_s, loss_rf)


def mix_predict(u, slot, sel, sel_s, x, x_s, reach, reach_f, ring, ring_ok, cum, etas, wts, sub, meta_cum, meta_eta,
                meta_wts, meta_ring, an_U, an_T, an_count, sh_U, sh_T, sh_count, sh_x, k, dist, seeds, mark,
                Om, b, scale, phi, rf_W, rf_pred, Ws, preds_l, Ws_s, preds_s, preds, y):
    n = y.shape[0]
    last = u[-1 - n:-1]
    x[:], x_s[:] = u[sel], u[sel_s]
    k_rls, k_s = preds_l.shape[0], preds_s.shape[0]
    mix_rls_predict(Ws, x, preds_l)
    mix_rls_predict(Ws_s, x_s, preds_s)
    preds[:k_rls], preds[k_rls:k_rls + k_s] = preds_l, preds_s
    analog_predict(an_U, an_T, an_count, x[:-1], last, k, dist, preds[-2])
    shape_predict(x, last, sh_U, sh_T, sh_count, k, dist, sh_x, Om, b, scale, phi, rf_W, rf_pred, preds[-3], preds[-1])
    ring[slot] = preds
    ring_ok[slot] = 1.0
    ewa2_predict(cum, etas, preds, wts, sub, meta_cum, meta_eta, meta_wts, y)
    meta_ring[slot] = sub
    if reach_f:
        np.clip(y, last - reach_f * reach, last + reach_f * reach, out=y)


def widen_range(z, lo, hi, low, high, reach_factor):
    grew = bool(np.count_nonzero(z < lo) or np.count_nonzero(z > hi))
    if grew:
        np.minimum(lo, z, out=lo)
        np.maximum(hi, z, out=hi)
        if not np.isfinite(hi - lo).all():
            low[:] = high[:] = np.nan
        else:
            reach = reach_factor * max(float(np.max(hi - lo)), 1.0)
            np.subtract(lo, reach, out=low)
            np.add(hi, reach, out=high)
    return grew


def outside_range(y, low, high):
    return bool(np.count_nonzero(y < low) or np.count_nonzero(y > high))
