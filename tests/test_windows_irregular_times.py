"""Windows and window quality of a record with irregular sample times (dropped rows).

A 60 s, 250 Hz ECG whose rows of 13-15 s were dropped (``times_s`` keeps the true times). Cut by
sample index, the samples either side of the hole were neighbours: 10 windows instead of 11,
every window after 13 s stamped 2 s early, and the window over the hole scored 0.99 (its 2 s of
nothing unseen). Oracles: numpy's interp of the written samples at the grid times, the hole's
span from the written times.
"""
import numpy as np
import pytest

from biosig.quality import window_quality
from biosig.quality_summary import quality_summary
from biosig.record import Record
from biosig.synthetic import simulate_ecg
from biosig.windows import window_array, windows

FS_HZ = 250.0
HOLE_S = (13.0, 15.0)


@pytest.fixture(scope="module")
def holed():
    x = simulate_ecg(60, seed=0, fs_hz=FS_HZ).samples[0].astype(np.float64)
    t = np.arange(x.size) / FS_HZ
    keep = ~((t >= HOLE_S[0]) & (t < HOLE_S[1]))
    return Record(samples=x[keep][None], fs_hz=FS_HZ, channels=("ECG",), times_s=t[keep]), t, x


def test_windows_are_cut_on_the_time_grid(holed):
    rec, t, x = holed
    w = window_array(rec, 10.0, 5.0)
    n_grid = int(round(rec.times_s[-1] * FS_HZ)) + 1                    # 60 s of grid samples
    assert len(w) == (n_grid - 2500) // 1250 + 1 == 11                   # was 10
    np.testing.assert_allclose(w.t0_s, np.arange(11) * 5.0)
    hole = (t >= HOLE_S[0]) & (t < HOLE_S[1])
    for k in range(len(w)):
        grid = np.arange(int(w.t0_s[k] * FS_HZ), int(w.t0_s[k] * FS_HZ) + 2500)
        in_hole = hole[grid]
        assert w.valid_fraction[k] == pytest.approx(1.0 - in_hole.mean())   # 0.8 over the hole, was 1.0
        np.testing.assert_allclose(w.x[k, 0, ~in_hole], x[grid[~in_hole]], atol=1e-6)
        assert np.isnan(w.x[k, 0, in_hole]).all()
    it = list(windows(rec, 10.0, 5.0))
    assert [a for a, _, _ in it] == list(w.t0_s)
    np.testing.assert_array_equal(np.stack([c for _, _, c in it]), w.x)


def test_window_quality_sees_the_hole(holed):
    rec, _, _ = holed
    q = window_quality(rec)
    assert len(q) == 11
    over_hole = [1, 2]                                                   # [5, 15) and [10, 20) s
    assert np.all(q[over_hole] <= 0.8 + 1e-9)                            # at most the finite fraction; was 0.99
    assert np.all(np.delete(q, over_hole) > 0.95)
    s = quality_summary(rec)
    assert s["n_windows"] == 6 and s["min_quality"] <= 0.8 + 1e-9


def test_a_regular_timed_record_is_cut_as_without_times(holed):
    rec, t, x = holed
    plain = Record(samples=x[None], fs_hz=FS_HZ, channels=("ECG",))
    timed = plain.replace(times_s=t)
    np.testing.assert_array_equal(window_array(timed, 10.0, 5.0).x, window_array(plain, 10.0, 5.0).x)
    np.testing.assert_array_equal(window_quality(timed), window_quality(plain))
