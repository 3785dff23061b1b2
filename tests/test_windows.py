"""Windowing: positions and contents against a plain loop, short records, NaN flags."""
import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.record import Record
from biosig.windows import window_array, window_bounds, windows


def _rec(n, fs=100.0, c=2):
    x = np.arange(c * n, dtype=np.float32).reshape(c, n)
    return Record(samples=x, fs_hz=fs, channels=tuple(f"ch{i}" for i in range(c)), modality="ecg")


@pytest.mark.parametrize("n,window_s,hop_s", [(1000, 2.0, 0.5), (1000, 2.0, 2.0), (1234, 1.0, 0.3), (200, 2.0, 1.0)])
def test_windows_match_a_plain_loop(n, window_s, hop_s):
    rec = _rec(n)
    w, h = int(round(window_s * 100)), int(round(hop_s * 100))
    expected = [(s, rec.samples[:, s:s + w]) for s in range(0, n - w + 1, h)]
    got = window_array(rec, window_s, hop_s)
    assert got.x.shape == (len(expected), 2, w) and got.x.dtype == np.float32
    for i, (s, x) in enumerate(expected):
        np.testing.assert_array_equal(got.x[i], x)
        assert got.t0_s[i] == pytest.approx(s / 100) and got.t1_s[i] == pytest.approx((s + w) / 100)
    listed = list(windows(rec, window_s, hop_s))
    assert len(listed) == len(expected)
    for (t0, t1, x), (s, ref) in zip(listed, expected):
        assert t0 == pytest.approx(s / 100) and t1 - t0 == pytest.approx(w / 100)
        np.testing.assert_array_equal(x, ref)
    assert got.valid_fraction.tolist() == [1.0] * len(expected)


def test_short_record_gives_one_padded_window_or_none():
    rec = _rec(150)
    got = window_array(rec, 2.0, 1.0)
    assert got.x.shape == (1, 2, 200)
    np.testing.assert_array_equal(got.x[0, :, :150], rec.samples)
    assert np.isnan(got.x[0, :, 150:]).all()
    assert got.valid_fraction[0] == pytest.approx(0.75) and got.has_nan[0] and not got.usable()[0]
    assert len(window_array(rec, 2.0, 1.0, pad_short=False)) == 0
    assert len(list(windows(rec, 2.0, pad_short=True))) == 1


def test_nan_windows_are_flagged():
    rec = _rec(1000)
    x = rec.samples.copy()
    x[1, 450:460] = np.nan
    got = window_array(rec.replace(samples=x), 1.0, 1.0)
    assert got.has_nan.tolist() == [False] * 4 + [True] + [False] * 5
    assert got.valid_fraction[4] == pytest.approx(1 - 10 / 200)
    assert got.usable(0.9)[4] and not got.usable()[4]


def test_bad_window_lengths_raise():
    with pytest.raises(SignalError, match="window_s=0"):
        window_bounds(100, 100.0, 0.0)
    with pytest.raises(SignalError, match="hop_s=-1"):
        window_bounds(100, 100.0, 1.0, -1)
    with pytest.raises(SignalError, match="shorter than one sample"):
        window_bounds(100, 100.0, 0.001)
