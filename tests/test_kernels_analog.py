"""The method-of-analogues kernels against their NumPy twins and a brute-force oracle."""
import numpy as np
import pytest

from kernels import analog, twins


def _oracle(U, T, n_stored, u, last, k):
    d = [float(np.sum((U[i] - u) ** 2)) for i in range(n_stored)]
    order = sorted(range(n_stored), key=lambda i: (d[i], i))[:k]
    w = np.array([1.0 / (d[i] + analog.EPS) for i in order])
    return last + (w / w.sum()) @ T[order]


@pytest.mark.parametrize("cap,k,m", [(16, 3, 7), (64, 10, 7), (200, 5, 38)])
def test_analog_kernels_equal_twin_and_brute_force_over_a_wrapping_ring(cap, k, m):
    """m = 38 exercises the unrolled sums, the tail and early abandoning (checked every 16 values)."""
    rng = np.random.default_rng(cap + k)
    n = 2
    a = (np.zeros((cap, m)), np.zeros((cap, n)), np.zeros(1))
    b = (np.zeros((cap, m)), np.zeros((cap, n)), np.zeros(1))
    for t in range(3 * cap + 5):  # wraps the ring more than twice
        u, move, last = rng.normal(size=m), rng.normal(size=n), rng.normal(size=n)
        y1, y2 = np.zeros(n), np.zeros(n)
        analog.analog_predict(*a, u, last, k, np.zeros(k), y1)
        twins.analog_predict(*b, u, last, k, np.zeros(k), y2)
        if t < k:  # too few analogues: the newest sample
            np.testing.assert_array_equal(y1, last)
        else:
            np.testing.assert_allclose(y1, _oracle(a[0], a[1], min(t, cap), u, last, k), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-14)
        analog.analog_store(*a, u, move)
        twins.analog_store(*b, u, move)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert a[2][0] == 3 * cap + 5


def test_an_exact_analogue_dominates():
    """A stored window equal to the query gets weight ~1/eps: its move is the forecast."""
    rng = np.random.default_rng(0)
    U, T, c = np.zeros((32, 4)), np.zeros((32, 1)), np.zeros(1)
    for _ in range(20):
        analog.analog_store(U, T, c, rng.normal(size=4) * 5, rng.normal(size=1))
    q = U[7].copy()
    y = np.zeros(1)
    analog.analog_predict(U, T, c, q, np.array([2.0]), 5, np.zeros(5), y)
    assert y[0] == pytest.approx(2.0 + T[7, 0], abs=1e-2)


def test_two_level_ewa_kernels_equal_numpy_twin():
    from kernels import rls

    rng = np.random.default_rng(3)
    m, k, n = 6, 5, 3
    etas, discounts = rng.uniform(0.05, 1.0, m), rng.uniform(0.9, 1.0, m)
    a = [np.zeros((m, k)), np.zeros(m)]
    b = [np.zeros((m, k)), np.zeros(m)]
    for _ in range(50):
        past, meta_past, tgt = rng.normal(size=(k, n)), rng.normal(size=(m, n)), rng.normal(size=n)
        rls.ewa2_learn(a[0], discounts, past, a[1], meta_past, tgt, 0.99)
        twins.ewa2_learn(b[0], discounts, past, b[1], meta_past, tgt, 0.99)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
        preds = rng.normal(size=(k, n))
        out1 = [np.zeros((m, k)), np.zeros((m, n)), np.zeros(m), np.zeros(n)]
        out2 = [np.zeros((m, k)), np.zeros((m, n)), np.zeros(m), np.zeros(n)]
        rls.ewa2_predict(a[0], etas, preds, out1[0], out1[1], a[1], 0.2, out1[2], out1[3])
        twins.ewa2_predict(b[0], etas, preds, out2[0], out2[1], b[1], 0.2, out2[2], out2[3])
        for x, y in zip(out1, out2):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out1[0].sum(axis=1), 1.0)
    assert out1[2].sum() == pytest.approx(1.0)


def test_random_fourier_features_equal_twin_and_approximate_the_gaussian_kernel():
    """phi(x) . phi(x') -> exp(-||x - x'||^2 / (2 sigma^2)) for omega ~ N(0, I / sigma^2) (Rahimi & Recht)."""
    rng = np.random.default_rng(5)
    m, D, sigma = 12, 20000, 1.5
    Om, b = rng.normal(0.0, 1.0 / sigma, (D, m)), rng.uniform(0.0, 2 * np.pi, D)
    x, x2 = rng.normal(size=m) * 0.4, rng.normal(size=m) * 0.4
    p1, p2, q = np.zeros(D + 1), np.zeros(D + 1), np.zeros(D + 1)
    analog.rff_features(Om, b, x, np.sqrt(2.0 / D), p1)
    twins.rff_features(Om, b, x, np.sqrt(2.0 / D), q)
    np.testing.assert_allclose(p1, q, rtol=1e-12, atol=1e-15)
    assert p1[-1] == 1.0
    analog.rff_features(Om, b, x2, np.sqrt(2.0 / D), p2)
    exact = np.exp(-np.sum((x - x2) ** 2) / (2 * sigma ** 2))
    assert abs(p1[:-1] @ p2[:-1] - exact) < 0.03  # Monte Carlo error ~ 1 / sqrt(D)
    assert abs(p1[:-1] @ p1[:-1] - 1.0) < 0.03


def test_centre_window_equals_twin_and_subtracts_the_newest_frame():
    rng = np.random.default_rng(8)
    n, frames = 3, 5
    x = rng.normal(size=n * frames + 1)  # frames oldest first, then the bias
    out1, out2 = np.zeros(n * frames), np.zeros(n * frames)
    analog.centre_window(x, x[-1 - n:-1], out1)
    twins.centre_window(x, x[-1 - n:-1], out2)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_allclose(out1.reshape(frames, n), x[:-1].reshape(frames, n) - x[-1 - n:-1])
    assert not out1[-n:].any()  # the newest frame centres to zero


def test_fused_shape_kernels_equal_their_twins_and_the_separate_kernels():
    """shape_learn / shape_predict == centre_window + analog_store + rff_features + RLS step / predict."""
    from kernels import rnn

    rng = np.random.default_rng(11)
    n, frames, D, cap, k = 2, 4, 8, 32, 3
    m = n * frames

    def state():
        return dict(U=np.zeros((cap, m)), T=np.zeros((cap, n)), count=np.zeros(1), xc=np.zeros(m),
                    P=np.eye(D + 1)[None] * 10.0, W=np.zeros((1, n, D + 1)), pu=np.zeros(D + 1), nwork=np.zeros((2, n)),
                    st=np.zeros((1, 2)), pred=np.zeros((1, n)), phi=np.zeros(D + 1))

    Om, b = rng.normal(size=(D, m)), rng.uniform(0, 2 * np.pi, D)
    lam, tmax, scale = np.array([0.99]), np.array([(D + 1) * 10.0]), np.sqrt(2.0 / D)
    a, t, r = state(), state(), state()
    for step in range(60):
        x, move = rng.normal(size=m + 1), rng.normal(size=n)
        last = x[m - n:m].copy()
        la = analog.shape_learn(x, last, move, a["U"], a["T"], a["count"], a["xc"], Om, b, scale, a["phi"], a["P"],
                                a["W"], a["pu"], a["nwork"], a["st"], lam, tmax, a["pred"])
        lt = twins.shape_learn(x, last, move, t["U"], t["T"], t["count"], t["xc"], Om, b, scale, t["phi"], t["P"],
                               t["W"], t["pu"], t["nwork"], t["st"], lam, tmax, t["pred"])
        analog.centre_window(x, last, r["xc"])
        analog.analog_store(r["U"], r["T"], r["count"], r["xc"], move)
        analog.rff_features(Om, b, r["xc"], scale, r["phi"])
        lr = rnn.mix_rls_step(r["P"], r["W"], r["phi"], move, r["pu"], r["nwork"], r["st"], lam, tmax, r["pred"])
        assert la == lr and abs(la - lt) <= 1e-10 * max(1.0, abs(la))
        y = [(np.zeros(n), np.zeros(n)) for _ in range(3)]
        q = rng.normal(size=m + 1)
        ql = q[m - n:m].copy()
        analog.shape_predict(q, ql, a["U"], a["T"], a["count"], k, np.zeros(k), a["xc"], Om, b, scale, a["phi"],
                             a["W"], a["pred"], *y[0])
        twins.shape_predict(q, ql, t["U"], t["T"], t["count"], k, np.zeros(k), t["xc"], Om, b, scale, t["phi"],
                            t["W"], t["pred"], *y[1])
        analog.centre_window(q, ql, r["xc"])
        analog.rff_features(Om, b, r["xc"], scale, r["phi"])
        rnn.mix_rls_predict(r["W"], r["phi"], r["pred"])
        y[2][0][:] = ql + r["pred"][0]
        analog.analog_predict(r["U"], r["T"], r["count"], r["xc"], ql, k, np.zeros(k), y[2][1])
        for j in range(2):
            np.testing.assert_array_equal(y[0][j], y[2][j])
            np.testing.assert_allclose(y[0][j], y[1][j], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a["W"], t["W"], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("cap,k,m", [(16, 3, 7), (64, 10, 38), (300, 10, 72)])
def test_seeded_analog_search_equals_analog_predict_bitwise_whatever_the_seeds(cap, k, m):
    """kernels.mixstep.analog_search visits the seeds' successors first: the same k nearest (ties
    to the lower slot, exact duplicates stored on purpose), the same forecast and ``dist`` bit for
    bit, for good, random, repeated and out-of-range seeds; ``mark`` comes back all zero; it also
    equals the brute-force oracle and the NumPy twin."""
    from kernels import mixstep

    rng = np.random.default_rng(cap * k + m)
    n = 3
    U, T, count = np.zeros((cap, m)), np.zeros((cap, n)), np.zeros(1)
    mark = np.zeros(cap, np.uint8)
    seeds = np.zeros(k, np.int64)
    base = np.sin(np.arange(m) / 3.0)
    for t in range(2 * cap + 7):
        u = base * np.sin(t / 5.0) + 0.3 * rng.normal(size=m)
        if t % 7 == 3 and t > 1:  # exact duplicates of a stored window and of the query: ties
            u = U[rng.integers(0, min(int(count[0]), cap))].copy()
        last = rng.normal(size=n)
        n_stored = min(int(count[0]), cap)
        y_ref, d_ref = np.zeros(n), np.zeros(k)
        analog.analog_predict(U, T, count, u, last, k, d_ref, y_ref)
        for trial in range(4):
            s = {0: seeds, 1: rng.integers(-3, cap + 3, k), 2: np.full(k, rng.integers(0, cap)),
                 3: np.full(k, -7)}[trial].astype(np.int64)
            y, d = np.zeros(n), np.zeros(k)
            mixstep.analog_search(U, T, count, u, last, k, d, s, mark, y)
            np.testing.assert_array_equal(y, y_ref)
            np.testing.assert_array_equal(d, d_ref)
            assert not mark.any()
            if trial == 0:
                seeds = s
        if n_stored >= k:
            np.testing.assert_allclose(y_ref, _oracle(U, T, n_stored, u, last, k), rtol=1e-12, atol=1e-14)
            y2 = np.zeros(n)
            twins.analog_predict(U, T, count, u, last, k, np.zeros(k), y2)
            np.testing.assert_allclose(y_ref, y2, rtol=1e-12, atol=1e-14)
        if t % 7 == 5:  # the query itself is stored next: an exact tie with a later duplicate
            analog.analog_store(U, T, count, u, rng.normal(size=n))
        analog.analog_store(U, T, count, u, rng.normal(size=n))


@pytest.mark.parametrize("r,m", [(1, 1), (3, 3), (4, 4), (5, 5), (7, 7), (65, 65), (73, 73), (361, 361), (9, 73),
                                 (64, 72), (2, 5), (6, 3)])
def test_four_row_matvec_equals_the_row_by_row_dot_bitwise(r, m):
    """kernels.rls.matvec_dot (P u and W u of the RLS steps, the Fourier features' Om x) is
    kernels.linalg.dot row by row, bit for bit, so rls and mix forecasts do not change; and it is
    P u (NumPy) to rounding."""
    from kernels.linalg import dot
    from kernels.rls import matvec_dot

    rng = np.random.default_rng(r * 1000 + m)
    P, u, pu = rng.normal(size=(r, m)) * 10.0 ** rng.integers(-3, 4, (r, m)), rng.normal(size=m), np.zeros(r)
    matvec_dot(P, u, pu)
    np.testing.assert_array_equal(pu, [dot(P[i], u) for i in range(r)])
    np.testing.assert_allclose(pu, P @ u, rtol=1e-9, atol=1e-9 * np.abs(P).sum(axis=1).max())
