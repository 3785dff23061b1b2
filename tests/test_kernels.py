"""Numba kernels against their NumPy twins, and the learning rules against independent oracles."""
import numpy as np
import pytest

from kernels import linalg, rnn, twins

Q, N, L = 5, 3, 2
M = N * L + 1


def _params(rng, q=Q, n=N, m=M, scale=0.4):
    return (rng.normal(0, scale, (q, q)), rng.normal(0, scale, (q, m)), rng.normal(0, scale, (n, q)))


def _state(method, rng, q=Q, n=N, m=M):
    if method == "rtrl":
        return [np.zeros((q, q, q)), np.zeros((q, q, m)), np.zeros((q, q, q)), np.zeros((q, q, m))]
    if method == "snap1":
        return [np.zeros((q, q)), np.zeros((q, m)), np.zeros(q)]
    if method == "uoro":
        return [np.zeros(q), np.zeros((q, q)), np.zeros((q, m)), np.zeros(1), np.array([12345], np.uint64)]
    if method == "uoro_k":  # 4 estimates, distinct sign streams, plus the gradient scratch
        k = 4
        return [np.zeros((k, q)), np.zeros((k, q, q)), np.zeros((k, q, m)), np.zeros(k),
                np.array([12345, 7, 99, 2 ** 40], np.uint64), np.zeros((q, q)), np.zeros((q, m))]
    if method == "dni":
        return [rng.normal(0, 0.1, (q, q + n + 1)), np.zeros(q + n + 1), np.zeros(q + n + 1), np.zeros(q), np.zeros(1)]
    raise ValueError(method)


def _call(mod, method, P, h, u, tgt, st, work, nwork, lr, clip):
    fn = getattr(mod, f"{method}_step")
    if method == "dni":
        return fn(*P, h, u, tgt, *st, work, nwork, lr, 0.5 * lr, clip)
    return fn(*P, h, u, tgt, *st, work, nwork, lr, clip)


@pytest.mark.parametrize("method", ["rtrl", "snap1", "uoro", "uoro_k", "dni"])
def test_step_kernel_equals_numpy_twin(method):
    rng = np.random.default_rng(1)
    P = _params(rng)
    h = rng.normal(0, 0.3, Q)
    st = _state(method, rng)
    P2, h2, st2 = [p.copy() for p in P], h.copy(), [s.copy() for s in st]
    w1, w2 = np.zeros((6, Q)), np.zeros((6, Q))
    n1, n2 = np.zeros((2, N)), np.zeros((2, N))
    for t in range(200):
        u = np.append(rng.normal(0, 1, M - 1), 1.0)
        tgt = rng.normal(0, 1, N)
        clip = 0.5 if t % 2 else 100.0  # exercise both the clipped and the unclipped branch
        l1, g1 = _call(rnn, method, P, h, u, tgt, st, w1, n1, 0.05, clip)
        l2, g2 = _call(twins, method, P2, h2, u, tgt, st2, w2, n2, 0.05, clip)
        assert l1 == pytest.approx(l2, rel=1e-10, abs=1e-12)
        assert g1 == pytest.approx(g2, rel=1e-10, abs=1e-12)
    kept = st[:2] if method == "rtrl" else st  # RTRL's last two are scratch buffers
    kept2 = st2[:2] if method == "rtrl" else st2
    for a, b in zip(list(P) + [h] + kept, list(P2) + [h2] + kept2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_uoro_with_one_estimate_is_plain_uoro():
    """uoro_k_step with k = 1 takes the same steps as the fused single-estimate kernel."""
    rng = np.random.default_rng(3)
    P1 = _params(rng)
    P2 = [p.copy() for p in P1]
    h1 = rng.normal(0, 0.3, Q)
    h2 = h1.copy()
    s1 = _state("uoro", rng)
    s2 = [s1[0][None].copy(), s1[1][None].copy(), s1[2][None].copy(), s1[3].copy(), s1[4].copy(),
          np.zeros((Q, Q)), np.zeros((Q, M))]
    w1, w2, n1, n2 = np.zeros((6, Q)), np.zeros((6, Q)), np.zeros((2, N)), np.zeros((2, N))
    for t in range(100):
        u = np.append(rng.normal(0, 1, M - 1), 1.0)
        tgt = rng.normal(0, 1, N)
        clip = 0.5 if t % 2 else 100.0
        l1, g1 = rnn.uoro_step(*P1, h1, u, tgt, *s1, w1, n1, 0.05, clip)
        l2, g2 = rnn.uoro_k_step(*P2, h2, u, tgt, *s2, w2, n2, 0.05, clip)
        assert (l1, g1) == (pytest.approx(l2, rel=1e-10), pytest.approx(g2, rel=1e-10))
    for a, b in zip(list(P1) + [h1, s1[0], s1[1], s1[2]], list(P2) + [h2, s2[0][0], s2[1][0], s2[2][0]]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_lms_predict_window_and_signs_equal_twins():
    rng = np.random.default_rng(2)
    W1 = rng.normal(0, 0.1, (N, M))
    W2 = W1.copy()
    n1, n2 = np.zeros((2, N)), np.zeros((2, N))
    for t in range(100):
        u = np.append(rng.normal(0, 1, M - 1), 1.0)
        tgt = rng.normal(0, 1, N)
        r1 = rnn.lms_step(W1, u, tgt, n1, 0.1, 0.3 if t % 3 else 50.0)
        r2 = twins.lms_step(W2, u, tgt, n2, 0.1, 0.3 if t % 3 else 50.0)
        np.testing.assert_allclose(r1, r2, rtol=1e-10)
    np.testing.assert_allclose(W1, W2, rtol=1e-10, atol=1e-12)
    A, B, C = _params(rng)
    h1 = rng.normal(0, 1, Q)
    h2 = h1.copy()
    y1, y2 = np.zeros(N), np.zeros(N)
    for _ in range(50):
        u = np.append(rng.normal(0, 1, M - 1), 1.0)
        linalg.rnn_predict(A, B, C, h1, u, np.zeros(Q), np.zeros(Q), y1)
        twins.rnn_predict(A, B, C, h2, u, np.zeros(Q), np.zeros(Q), y2)
        np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    hist = rng.normal(0, 1, (7, N))
    for end in range(3, 20):
        u1, u2 = np.zeros(M), np.zeros(M)
        linalg.fill_window(hist, end, end + 1, L, u1)
        twins.fill_window(hist, end, end + 1, L, u2)
        np.testing.assert_array_equal(u1, u2)
        np.testing.assert_array_equal(u1[:N], hist[(end - 1) % 7])
    s1, s2 = np.array([99], np.uint64), np.array([99], np.uint64)
    o1, o2 = np.zeros(1000), np.zeros(1000)
    linalg.xorshift_signs(s1, o1)
    twins.xorshift_signs(s2, o2)
    np.testing.assert_array_equal(o1, o2)
    assert s1[0] == s2[0] and set(np.unique(o1)) == {-1.0, 1.0} and abs(o1.mean()) < 0.1


def _truncated_loss(A, B, C, h0, us, tgts):
    h, loss = h0.copy(), 0.0
    for u, y in zip(us, tgts):
        h = np.tanh(A @ h + B @ u)
    return 0.5 * float(np.sum((C @ h - tgts[-1]) ** 2))


def test_rtrl_gradient_equals_finite_differences():
    """RTRL's gradient at step T is d loss_T / d[A, B] through the whole T-step unrolling."""
    rng = np.random.default_rng(3)
    A, B, C = _params(rng)
    h0 = rng.normal(0, 0.3, Q)
    T = 6
    us = [np.append(rng.normal(0, 1, M - 1), 1.0) for _ in range(T)]
    tgts = [rng.normal(0, 1, N) for _ in range(T)]
    st = _state("rtrl", rng)
    h = h0.copy()
    work, nwork = np.zeros((6, Q)), np.zeros((2, N))
    Ac, Bc, Cc = A.copy(), B.copy(), C.copy()
    for u, y in zip(us, tgts):
        rnn.rtrl_step(Ac, Bc, Cc, h, u, y, *st, work, nwork, 0.0, 0.0)  # lr 0: weights fixed
    g = work[2]
    GA = np.einsum("i,ijk->jk", g, st[0])
    GB = np.einsum("i,ijk->jk", g, st[1])
    eps = 1e-6
    for (i, j) in [(0, 0), (1, 3), (4, 2), (2, 1)]:
        Ap, Am = A.copy(), A.copy()
        Ap[i, j] += eps
        Am[i, j] -= eps
        fd = (_truncated_loss(Ap, B, C, h0, us, tgts) - _truncated_loss(Am, B, C, h0, us, tgts)) / (2 * eps)
        assert GA[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    for (i, j) in [(0, 0), (3, 5), (4, M - 1), (1, 2)]:
        Bp, Bm = B.copy(), B.copy()
        Bp[i, j] += eps
        Bm[i, j] -= eps
        fd = (_truncated_loss(A, Bp, C, h0, us, tgts) - _truncated_loss(A, Bm, C, h0, us, tgts)) / (2 * eps)
        assert GB[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert np.abs(GA).max() > 1e-4  # not trivially zero


def test_rtrl_learning_step_applies_clipped_sgd():
    rng = np.random.default_rng(4)
    A, B, C = _params(rng)
    h = rng.normal(0, 0.3, Q)
    st = _state("rtrl", rng)
    u = np.append(rng.normal(0, 1, M - 1), 1.0)
    tgt = rng.normal(0, 3, N)
    A1, B1, C1 = A.copy(), B.copy(), C.copy()
    _, norm = rnn.rtrl_step(A1, B1, C1, h.copy(), u, tgt, *[s.copy() for s in st], np.zeros((6, Q)),
                            np.zeros((2, N)), 0.1, 0.2)
    delta = np.sqrt(np.sum((A1 - A) ** 2) + np.sum((B1 - B) ** 2) + np.sum((C1 - C) ** 2))
    assert norm > 0.2
    assert delta == pytest.approx(0.1 * 0.2, rel=1e-9)  # lr * clip: the step has norm lr * clip


def test_uoro_is_unbiased():
    """The mean of many UORO rank-one estimates approaches the exact RTRL influence."""
    rng = np.random.default_rng(5)
    q, n, m = 3, 2, 3
    A, B, C = _params(rng, q, n, m, scale=0.6)
    T = 4
    us = [np.append(rng.normal(0, 1, m - 1), 1.0) for _ in range(T)]
    tgts = [rng.normal(0, 1, n) for _ in range(T)]
    st = _state("rtrl", rng, q, n, m)
    h = np.zeros(q)
    for u, y in zip(us, tgts):
        rnn.rtrl_step(A.copy(), B.copy(), C.copy(), h, u, y, *st, np.zeros((6, q)), np.zeros((2, n)), 0.0, 0.0)
    exact = st[1]  # dh_i / dB[j, k], (q, q, m)
    runs = 20000
    acc = np.zeros_like(exact)
    for r in range(runs):
        ust = [np.zeros(q), np.zeros((q, q)), np.zeros((q, m)), np.zeros(1), np.array([r * 7919 + 1], np.uint64)]
        h = np.zeros(q)
        for u, y in zip(us, tgts):
            rnn.uoro_step(A.copy(), B.copy(), C.copy(), h, u, y, *ust, np.zeros((6, q)), np.zeros((2, n)), 0.0, 0.0)
        acc += ust[0][:, None, None] * ust[2][None, :, :]
    mean = acc / runs
    err = np.abs(mean - exact).max()
    assert err < 0.05 * np.abs(exact).max(), (err, np.abs(exact).max())
    # and a single estimate is far from exact (the test can fail if UORO were just RTRL)
    assert np.abs(ust[0][:, None, None] * ust[2][None] - exact).max() > 0.2 * np.abs(exact).max()


def test_snap1_equals_rtrl_for_diagonal_recurrence():
    rng = np.random.default_rng(6)
    A, B, C = _params(rng)
    A = np.diag(np.diag(A)).copy()
    h1 = rng.normal(0, 0.3, Q)
    h2 = h1.copy()
    st_r, st_s = _state("rtrl", rng), _state("snap1", rng)
    w1, w2 = np.zeros((6, Q)), np.zeros((6, Q))
    n1, n2 = np.zeros((2, N)), np.zeros((2, N))
    for _ in range(30):
        u = np.append(rng.normal(0, 1, M - 1), 1.0)
        tgt = rng.normal(0, 1, N)
        _, g_r = rnn.rtrl_step(A, B, C, h1, u, tgt, *st_r, w1, n1, 0.0, 0.0)
        _, g_s = rnn.snap1_step(A, B, C, h2, u, tgt, *st_s, w2, n2, 0.0, 0.0)
        assert g_r == pytest.approx(g_s, rel=1e-12)
        np.testing.assert_allclose(np.einsum("iik->ik", st_r[1]), st_s[1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.einsum("iik->ik", st_r[0]), st_s[0], rtol=1e-12, atol=1e-15)
        off = st_r[1].copy()
        off[np.arange(Q), np.arange(Q)] = 0.0
        assert np.abs(off).max() == 0.0
    # a full recurrent matrix makes them differ (the check has teeth)
    A_full = _params(rng)[0]
    h1 = np.zeros(Q)
    h2 = np.zeros(Q)
    st_r, st_s = _state("rtrl", rng), _state("snap1", rng)
    for _ in range(5):
        u = np.append(rng.normal(0, 1, M - 1), 1.0)
        tgt = rng.normal(0, 1, N)
        _, g_r = rnn.rtrl_step(A_full, B, C, h1, u, tgt, *st_r, w1, n1, 0.0, 0.0)
        _, g_s = rnn.snap1_step(A_full, B, C, h2, u, tgt, *st_s, w2, n2, 0.0, 0.0)
    assert abs(g_r - g_s) > 1e-6


def test_averaging_uoro_estimates_cuts_the_gradient_error():
    """k = 16 averaged estimates: unbiased like one, with a much smaller error against RTRL's gradient."""
    rng = np.random.default_rng(6)
    q, n, m = 4, 2, 3
    A, B, C = _params(rng, q, n, m, scale=0.6)
    us = [np.append(rng.normal(0, 1, m - 1), 1.0) for _ in range(5)]
    tgts = [rng.normal(0, 1, n) for _ in range(5)]
    st, h, work = _state("rtrl", rng, q, n, m), np.zeros(q), np.zeros((6, q))
    for u, y in zip(us, tgts):
        rnn.rtrl_step(A.copy(), B.copy(), C.copy(), h, u, y, *st, work, np.zeros((2, n)), 0.0, 0.0)
    exact = np.einsum("i,ijk->jk", work[2], st[1])  # dL/dB of the last step: g . dh/dB

    def sq_error(k, run):
        ust = [np.zeros((k, q)), np.zeros((k, q, q)), np.zeros((k, q, m)), np.zeros(k),
               np.arange(1, k + 1, dtype=np.uint64) * np.uint64(1_000_003) + np.uint64(run), np.zeros((q, q)),
               np.zeros((q, m))]
        h = np.zeros(q)
        for u, y in zip(us, tgts):
            rnn.uoro_k_step(A.copy(), B.copy(), C.copy(), h, u, y, *ust, np.zeros((6, q)), np.zeros((2, n)), 0.0, 0.0)
        return ust[6]  # the averaged gradient wrt B

    one = np.array([sq_error(1, r) for r in range(400)])
    many = np.array([sq_error(16, r) for r in range(400)])
    assert np.abs(many.mean(0) - exact).max() < 0.1 * np.abs(exact).max()  # still unbiased
    mse1, mse16 = np.mean((one - exact) ** 2), np.mean((many - exact) ** 2)
    assert mse16 < mse1 / 6, (mse1, mse16)  # ideal 1/16


# ---------------------------------------------------------------------------- RLS
from kernels import rls as rls_kernels  # noqa: E402
from kernels.rls import rls_step as _rls_step  # noqa: E402


def _rls_state(m, n, delta):
    return np.eye(m) / delta, np.zeros((n, m)), np.zeros(m), np.zeros((2, n)), np.zeros(2)


def test_rls_kernel_equals_numpy_twin():
    rng = np.random.default_rng(7)
    m, n, delta, lam = 7, 3, 0.5, 0.97
    a, b = _rls_state(m, n, delta), _rls_state(m, n, delta)
    for t in range(600):  # passes the re-conditioning step (256) and hits the trace cap
        u = np.append(rng.normal(0, 1 if t < 300 else 1e-3, m - 1), 1.0)
        tgt = rng.normal(0, 1, n)
        l1, s1 = rls_kernels.rls_step(a[0], a[1], u, tgt, a[2], a[3], a[4], lam, m / delta)
        l2, s2 = twins.rls_step(b[0], b[1], u, tgt, b[2], b[3], b[4], lam, m / delta)
        assert l1 == pytest.approx(l2, rel=1e-9, abs=1e-12)
        assert s1 == pytest.approx(s2, rel=1e-9)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    assert a[4][1] == pytest.approx(m / delta)  # the cap was reached in the low-excitation half
    y1, y2 = np.zeros(n), np.zeros(n)
    rls_kernels.rls_predict(a[1], u, y1)
    twins.rls_predict(b[1], u, y2)
    np.testing.assert_allclose(y1, y2, rtol=1e-12)


def test_rls_equals_exponentially_weighted_ridge_solution():
    """Before the trace cap or re-conditioning acts, RLS is the closed-form weighted ridge fit:
    W = argmin sum_i lam^(t-i) ||W u_i - y_i||^2 + lam^t delta ||W||^2 (independent oracle)."""
    rng = np.random.default_rng(3)
    m, n, delta, lam, T = 5, 2, 2.0, 0.98, 200
    P, W, pu, nw, st = _rls_state(m, n, delta)
    U = np.hstack([rng.normal(0, 1, (T, m - 1)), np.ones((T, 1))])
    Wtrue = rng.normal(0, 1, (n, m))
    Y = U @ Wtrue.T + rng.normal(0, 0.3, (T, n))
    for t in range(T):
        rls_kernels.rls_step(P, W, U[t], Y[t], pu, nw, st, lam, 1e300)
    wts = lam ** np.arange(T - 1, -1, -1)
    A = (U * wts[:, None]).T @ U + lam ** T * delta * np.eye(m)
    ref = np.linalg.solve(A, (U * wts[:, None]).T @ Y).T
    np.testing.assert_allclose(W, ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(P, np.linalg.inv(A), rtol=1e-7, atol=1e-12)


def test_rls_stays_positive_definite_over_a_million_steps():
    """10^6 steps of alternating exciting and dead input (wind-up) with strong forgetting."""
    from numba import njit

    @njit(cache=False)
    def drive(P, W, pu, nw, st, n_steps, lam, trace_max, min_eig_check):
        u = np.zeros(P.shape[0])
        tgt = np.zeros(W.shape[0])
        x = 0.3
        worst = np.inf
        for t in range(n_steps):
            x = 3.9 * x * (1.0 - x)  # logistic map: deterministic, chaotic input
            phase = (t // 5000) % 3
            scale = 1.0 if phase == 0 else (1e-6 if phase == 1 else 0.0)
            for i in range(u.shape[0] - 1):
                u[i] = u[i + 1] if i + 1 < u.shape[0] - 1 else scale * (x - 0.5)
            u[-1] = 1.0
            tgt[0] = 2.0 * u[0] - u[1] + 0.1 * (x - 0.5)
            loss, s = _rls_step(P, W, u, tgt, pu, nw, st, lam, trace_max)
            if not (s > 0.0) or not np.isfinite(loss):
                return -1.0, t
            if t % min_eig_check == 0:
                worst = min(worst, np.linalg.eigvalsh(P)[0])
        return worst, n_steps

    m, n, delta = 4, 1, 0.1
    P, W, pu, nw, st = _rls_state(m, n, delta)
    worst, done = drive(P, W, pu, nw, st, 1_000_000, 0.95, m / delta, 997)
    assert done == 1_000_000
    assert worst > 0.0
    np.testing.assert_array_equal(P, P.T)
    assert np.linalg.eigvalsh(P)[0] > 0 and np.trace(P) <= m / delta * (1 + 1e-9)
    assert np.isfinite(W).all()


def test_ewa_kernels_equal_numpy_twins():
    rng = np.random.default_rng(11)
    k, n = 6, 3
    c1, c2 = np.zeros(k), np.zeros(k)
    for t in range(300):
        past = rng.normal(0, 1, (k, n)) * np.arange(1, k + 1)[:, None]
        if t % 7 == 0:
            past[2] = np.nan  # an expert without a forecast gets the worst loss of the others
        tgt = rng.normal(0, 1, n)
        rls_kernels.ewa_learn(c1, past, tgt, 0.99)
        twins.ewa_learn(c2, past, tgt, 0.99)
    np.testing.assert_allclose(c1, c2, rtol=1e-12)
    preds = rng.normal(0, 1, (k, n))
    w1, w2, y1, y2 = np.zeros(k), np.zeros(k), np.zeros(n), np.zeros(n)
    rls_kernels.ewa_predict(c1, 0.3, preds, w1, y1)
    twins.ewa_predict(c2, 0.3, preds, w2, y2)
    np.testing.assert_allclose(w1, w2, rtol=1e-12)
    np.testing.assert_allclose(y1, y2, rtol=1e-12)
    assert w1.sum() == pytest.approx(1.0) and np.argmax(w1) == 0  # expert 0 has the smallest errors


def test_mix_rls_kernel_equals_numpy_twin_and_single_rls():
    """The fused K-expert step equals the NumPy twin and K separate rls_step calls."""
    rng = np.random.default_rng(5)
    k, m, n = 4, 9, 2
    lams = np.array([0.97, 0.99, 0.995, 0.999])
    tmax = m / np.array([0.1, 10.0, 0.1, 10.0])
    mk = lambda: (np.stack([np.eye(m) * t / m for t in tmax]), np.zeros((k, n, m)), np.zeros(m),  # noqa: E731
                  np.zeros((2, n)), np.zeros((k, 2)), np.zeros((k, n)))
    a, b, c = mk(), mk(), mk()
    for t in range(400):
        u = np.append(rng.normal(0, 1 if t < 200 else 1e-3, m - 1), 1.0)
        tgt = rng.normal(0, 1, n)
        l1 = rls_kernels.mix_rls_step(a[0], a[1], u, tgt, a[2], a[3], a[4], lams, tmax, a[5])
        l2 = twins.mix_rls_step(b[0], b[1], u, tgt, b[2], b[3], b[4], lams, tmax, b[5])
        l3 = 0.0
        for j in range(k):
            lj, _ = rls_kernels.rls_step(c[0][j], c[1][j], u, tgt, c[2], c[3], c[4][j], lams[j], tmax[j])
            c[5][j] = c[3][0]
            l3 = max(l3, lj)
        assert l1 == pytest.approx(l2, rel=1e-9) and l1 == l3
        np.testing.assert_allclose(a[5], b[5], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(a[5], c[5])
    for x, y, z in zip(a, b, c):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(x, z)
    p1, p2 = np.zeros((k, n)), np.zeros((k, n))
    rls_kernels.mix_rls_predict(a[1], u, p1)
    twins.mix_rls_predict(b[1], u, p2)
    np.testing.assert_allclose(p1, p2, rtol=1e-12, atol=1e-14)
