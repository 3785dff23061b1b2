"""The range-of-motion check of every forecaster step (realtime.base, FORECAST_REACH) as Numba
kernels (kernels.linalg.widen_range / outside_range) against their NumPy twins (kernels.twins, the
whole-array code the forecaster ran until 2026-12-05): the same range, band and answers, bit for bit,
on random walks with ties, constant coordinates and forecasts right on the band's edges."""
import numpy as np
import pytest

from kernels import linalg, twins
from realtime.base import FORECAST_REACH


@pytest.mark.parametrize("n,seed", [(1, 0), (3, 1), (9, 2)])
def test_widen_range_and_outside_range_match_the_numpy_twin(n, seed):
    rng = np.random.default_rng(seed)
    Z = np.cumsum(rng.normal(scale=0.3, size=(400, n)), axis=0)
    Z[50:80, 0] = Z[49, 0]                 # a coordinate at rest: no growth, ties with the range
    Z[::7] = np.round(Z[::7], 1)           # ties
    state = {k: (np.full(n, np.inf), np.full(n, -np.inf), np.full(n, np.nan), np.full(n, np.nan))
             for k in ("numba", "twin")}
    assert not linalg.outside_range(Z[0], *state["numba"][2:])   # no band yet (NaN): never outside
    grew_count = 0
    for z in Z:
        g1 = linalg.widen_range(z, *state["numba"], FORECAST_REACH)
        g2 = twins.widen_range(z, *state["twin"], FORECAST_REACH)
        assert g1 == g2
        grew_count += g1
        for a, b in zip(state["numba"], state["twin"]):
            np.testing.assert_array_equal(a, b)
        low, high = state["twin"][2:]
        # forecasts inside, on the edges, a hair beyond and far beyond the band
        for y in (z, low, high, np.nextafter(low, -np.inf), np.nextafter(high, np.inf), z + 50 * rng.normal(size=n)):
            y = np.ascontiguousarray(y)
            assert linalg.outside_range(y, *state["numba"][2:]) == twins.outside_range(y, low, high)
    assert 5 < grew_count < len(Z)
    lo, hi, low, high = state["twin"]
    reach = FORECAST_REACH * max(float(np.max(hi - lo)), 1.0)   # the band the docstring promises
    np.testing.assert_array_equal(low, Z.min(axis=0) - reach)
    np.testing.assert_array_equal(high, Z.max(axis=0) + reach)


def test_a_partly_seen_range_has_no_band():
    """A coordinate with no sample yet (inf extent): the band is NaN, as in the twin."""
    lo, hi = np.array([np.inf, 0.0]), np.array([-np.inf, 1.0])
    low, high = np.zeros(2), np.zeros(2)
    assert linalg.widen_range(np.array([np.inf, 2.0]), lo, hi, low, high, 1.0)
    assert np.isnan(low).all() and np.isnan(high).all()

