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
